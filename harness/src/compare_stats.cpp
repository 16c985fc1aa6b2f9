// The statistics of `compare`: a bootstrap interval of the ratio of medians and the Mann-Whitney
// U test. Why these two: docs/COMPARE.md.
#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "ligerbench/compare.h"

namespace ligerbench {
namespace {

// Median of a resample (with replacement) of `sorted`, drawn without building the resample: the
// drawn indices are counted, and the middle order statistics read off the counts. O(n) per draw.
double resampled_median(const std::vector<double>& sorted, std::mt19937_64& rng, std::vector<int>& counts) {
  const std::size_t n = sorted.size();
  std::fill(counts.begin(), counts.end(), 0);
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  for (std::size_t i = 0; i < n; ++i) ++counts[pick(rng)];
  // Ranks (0-based) of the middle: (n-1)/2 and n/2 (the same one for odd n).
  const std::size_t lo_rank = (n - 1) / 2, hi_rank = n / 2;
  double lo = 0, hi = 0;
  std::size_t seen = 0;
  bool have_lo = false;
  for (std::size_t i = 0; i < n; ++i) {
    seen += static_cast<std::size_t>(counts[i]);
    if (!have_lo && seen > lo_rank) {
      lo = sorted[i];
      have_lo = true;
    }
    if (seen > hi_rank) {
      hi = sorted[i];
      break;
    }
  }
  return 0.5 * (lo + hi);
}

double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto i = static_cast<std::size_t>(std::floor(pos));
  const double frac = pos - static_cast<double>(i);
  return i + 1 < sorted.size() ? sorted[i] * (1 - frac) + sorted[i + 1] * frac : sorted[i];
}

}  // namespace

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return 0.5 * (v[(n - 1) / 2] + v[n / 2]);
}

RatioInterval bootstrap_median_ratio(const std::vector<double>& baseline, const std::vector<double>& current,
                                     int resamples, double confidence, uint64_t seed) {
  if (baseline.empty() || current.empty()) throw std::invalid_argument("bootstrap_median_ratio: empty sample set");
  if (resamples < 100 || resamples > 100000) throw std::invalid_argument("bootstrap resamples must be 100 .. 100000");
  if (!(confidence > 0.5 && confidence < 1)) throw std::invalid_argument("confidence must be in (0.5, 1)");
  std::vector<double> b(baseline), c(current);
  std::sort(b.begin(), b.end());
  std::sort(c.begin(), c.end());
  RatioInterval out;
  const double mb = median_of(b);
  out.ratio = mb > 0 ? median_of(c) / mb : INFINITY;
  std::mt19937_64 rng(seed);
  std::vector<int> cb(b.size()), cc(c.size());
  std::vector<double> ratios;
  ratios.reserve(static_cast<std::size_t>(resamples));
  for (int i = 0; i < resamples; ++i) {
    const double rb = resampled_median(b, rng, cb);
    const double rc = resampled_median(c, rng, cc);
    ratios.push_back(rb > 0 ? rc / rb : INFINITY);
  }
  std::sort(ratios.begin(), ratios.end());
  const double tail = (1 - confidence) / 2;
  out.low = quantile_sorted(ratios, tail);
  out.high = quantile_sorted(ratios, 1 - tail);
  return out;
}

double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b) {
  const double n1 = static_cast<double>(a.size()), n2 = static_cast<double>(b.size());
  if (a.empty() || b.empty()) return 1;
  std::vector<std::pair<double, int>> all;  // value, side (0: a)
  all.reserve(a.size() + b.size());
  for (double v : a) all.emplace_back(v, 0);
  for (double v : b) all.emplace_back(v, 1);
  std::sort(all.begin(), all.end());
  // Mid-ranks for ties; the tie term corrects the variance.
  double rank_sum_a = 0, tie_term = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double mid = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1 .. j
    for (std::size_t k = i; k < j; ++k)
      if (all[k].second == 0) rank_sum_a += mid;
    const double t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  const double n = n1 + n2;
  const double u = rank_sum_a - n1 * (n1 + 1) / 2;
  const double mu = n1 * n2 / 2;
  const double var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (var <= 0) return 1;
  const double diff = std::fabs(u - mu) - 0.5;  // continuity correction
  if (diff <= 0) return 1;
  return std::erfc(diff / std::sqrt(var) / std::sqrt(2.0));
}

}  // namespace ligerbench
