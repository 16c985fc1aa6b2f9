// Bounded YAML parsing: a first pass over yaml-cpp's event stream measures the document (depth,
// alias-expanded size, documents, unterminated quotes) before yaml-cpp builds its node tree, so a
// hostile file is refused at the cost of reading it once.
#include <sys/stat.h>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "ligerbench/yaml_proto.h"

namespace ligerbench {
namespace {

class Measure : public YAML::EventHandler {
 public:
  Measure(const std::string& text, const std::string& file) : text_(text), file_(file) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) fail(mark, "more than one YAML document ('---'); a suite is one document");
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor, 1); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor >= sizes_.size()) fail(mark, "alias of an unknown anchor");
    leaf(YAML::NullAnchor, sizes_[anchor], &mark);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, const std::string&) override {
    // yaml-cpp tags quoted scalars "!" and, at the end of the input, ends an unclosed quote
    // without an error: the rest of the file silently becomes one string.
    if (tag == "!" && !quote_closed(mark.pos)) fail(mark, "unterminated quoted string");
    leaf(anchor, 1, &mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    YAML::anchor_t anchor;
    std::size_t size;
  };

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& what) const {
    throw InputError(file_ + (mark.line >= 0 ? ":" + std::to_string(mark.line + 1) : "") + ": " + what);
  }

  void record(YAML::anchor_t anchor, std::size_t size) {
    if (anchor == YAML::NullAnchor) return;
    if (sizes_.size() <= anchor) sizes_.resize(anchor + 1, 0);
    sizes_[anchor] = size;
  }

  // A node of `size` expanded nodes ends: add it to its parent (or to the document).
  void leaf(YAML::anchor_t anchor, std::size_t size, const YAML::Mark* mark = nullptr) {
    record(anchor, size);
    std::size_t& into = stack_.empty() ? total_ : stack_.back().size;
    into += size;  // both at most kMaxYamlExpandedNodes: no overflow
    if (into > kMaxYamlExpandedNodes)
      fail(mark ? *mark : last_open_, "the document expands (through YAML aliases) to more than " +
                                          std::to_string(kMaxYamlExpandedNodes) + " nodes");
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    last_open_ = mark;
    if (static_cast<int>(stack_.size()) >= kMaxYamlDepth)
      fail(mark, "nesting deeper than " + std::to_string(kMaxYamlDepth) + " levels");
    stack_.push_back({anchor, 1});
  }

  void close() {
    const Open done = stack_.back();
    stack_.pop_back();
    leaf(done.anchor, done.size);
  }

  // Whether the quoted scalar whose properties (anchor, tag) or opening quote start at `pos` has
  // its closing quote. An explicitly tagged plain scalar ("! text") has none to check.
  bool quote_closed(int pos) const {
    std::size_t i = pos < 0 ? text_.size() : static_cast<std::size_t>(pos);
    while (i < text_.size() && (text_[i] == '&' || text_[i] == '!')) {  // skip "&anchor", "!tag"
      while (i < text_.size() && !std::isspace(static_cast<unsigned char>(text_[i]))) ++i;
      while (i < text_.size() && std::isspace(static_cast<unsigned char>(text_[i]))) ++i;
    }
    if (i >= text_.size() || (text_[i] != '"' && text_[i] != '\'')) return true;
    const char q = text_[i];
    for (++i; i < text_.size(); ++i) {
      if (q == '"' && text_[i] == '\\') {
        ++i;
      } else if (text_[i] == q) {
        if (q == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') ++i;  // '' is an escaped quote
        else return true;
      }
    }
    return false;
  }

  const std::string& text_;
  const std::string& file_;
  std::vector<Open> stack_;
  std::vector<std::size_t> sizes_;  // anchor -> expanded size of its node
  std::size_t total_ = 0;
  int documents_ = 0;
  YAML::Mark last_open_ = YAML::Mark::null_mark();
};

std::string too_large(const std::string& file, std::size_t bytes) {
  return file + ": " + std::to_string(bytes) + " bytes, more than the " + std::to_string(kMaxYamlFileBytes) +
         " a suite may have";
}

}  // namespace

YAML::Node parse_yaml(const std::string& text, const std::string& file) {
  if (text.size() > kMaxYamlFileBytes) throw InputError(too_large(file, text.size()));
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    Measure measure(text, file);
    while (parser.HandleNextDocument(measure)) {
    }
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw InputError(file + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }
}

YAML::Node load_yaml_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path + ": cannot open the suite file (" + std::strerror(errno) + ")");
  if (S_ISDIR(st.st_mode)) throw InputError(path + ": is a directory, not a suite file");
  if (!S_ISREG(st.st_mode)) throw InputError(path + ": not a regular file");
  if (static_cast<std::size_t>(st.st_size) > kMaxYamlFileBytes) throw InputError(too_large(path, st.st_size));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the suite file (" + std::strerror(errno) + ")");
  std::string text(kMaxYamlFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw InputError(path + ": cannot read the suite file");
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_yaml(text, path);  // a file that grew since stat is still bounded
}

}  // namespace ligerbench
