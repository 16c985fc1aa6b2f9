#!/usr/bin/env python3
"""Loss-only forwards of PyTorch's own code, eager no-grad and torch.compile'd, at the anchor
shapes of configs/suites/inference.yaml (issue 17: inference mode against torch.compile).

Outside CI: it needs a CUDA PyTorch with Triton. Timed with triton.testing.do_bench (L2 flushed
before every run, as the harness's cold timing; median of its samples). Prints one JSON object
per line: loss, variant, shape, median ms, and the GB/s of one read of the inputs.

    python3 probes/probe_compile_losses.py [--rep-ms 500]
"""
import argparse
import json

import torch
import torch.nn.functional as F
import triton.testing


def cross_entropy(logits, target):
    return F.cross_entropy(logits, target)


def kl_div(y_pred, y_true):
    return F.kl_div(y_pred, y_true, reduction="batchmean")


def jsd(log_q, log_p, beta=0.5):
    # Liger's benchmark TorchJSD: beta KL(P||M) + (1-beta) KL(Q||M), in fp32, averaged over rows.
    q, p = log_q.float().exp(), log_p.float().exp()
    log_m = torch.log(beta * p + (1 - beta) * q)
    kl = lambda log_a: F.kl_div(log_m, log_a.float(), reduction="sum", log_target=True)
    return (beta * kl(log_p) + (1 - beta) * kl(log_q)) / log_q.shape[0]


def fused_linear_cross_entropy(x, weight, target):
    return F.cross_entropy((x @ weight.t()).float(), target)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rep-ms", type=float, default=500)
    args = ap.parse_args()
    torch.manual_seed(0)
    dev = "cuda"
    BT, V, H = 8192, 128256, 4096
    cases = {
        "cross_entropy": (cross_entropy, lambda: (torch.randn(BT, V, device=dev),
                                                  torch.randint(0, V, (BT,), device=dev)), "fp32"),
        "kl_div": (kl_div, lambda: (torch.randn(BT, V, device=dev).log_softmax(-1),
                                    torch.randn(BT, V, device=dev).softmax(-1)), "fp32"),
        "jsd": (jsd, lambda: (torch.randn(BT, V, device=dev).log_softmax(-1),
                              torch.randn(BT, V, device=dev).log_softmax(-1)), "fp32"),
        "fused_linear_cross_entropy": (
            fused_linear_cross_entropy,
            lambda: (torch.randn(BT, H, device=dev, dtype=torch.bfloat16),
                     torch.randn(V, H, device=dev, dtype=torch.bfloat16) / H ** 0.5,
                     torch.randint(0, V, (BT,), device=dev)), "bf16"),
    }
    for name, (fn, make, dtype) in cases.items():
        inputs = make()
        read_bytes = sum(t.numel() * t.element_size() for t in inputs)
        compiled = torch.compile(fn, fullgraph=True)
        with torch.inference_mode():
            eager_loss = fn(*inputs).item()
            compiled_loss = compiled(*inputs).item()  # compiles here, outside the timing
            for variant, f in (("eager", fn), ("torch.compile", compiled)):
                ms = triton.testing.do_bench(lambda: f(*inputs), rep=args.rep_ms, return_mode="median")
                print(json.dumps({"loss": name, "variant": variant, "dtype": dtype, "shape": [BT, V],
                                  "median_ms": round(ms, 4), "read_gb_per_s": round(read_bytes / ms / 1e6, 1),
                                  "value": eager_loss if variant == "eager" else compiled_loss}), flush=True)
        del inputs, compiled
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
