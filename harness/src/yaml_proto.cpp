#include "ligerbench/yaml_proto.h"

#include <google/protobuf/descriptor.h>

#include <sstream>

namespace ligerbench {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

struct Walker {
  std::string file;
  SourceLines* lines;

  [[noreturn]] void fail(const YAML::Node& node, const std::string& path, const std::string& what) const {
    std::ostringstream os;
    os << file;
    if (node.Mark().line >= 0) os << ":" << node.Mark().line + 1;
    os << ": " << (path.empty() ? std::string("document") : "key '" + path + "'") << ": " << what;
    throw InputError(os.str());
  }

  void note(const YAML::Node& node, const std::string& path) const {
    if (lines && node.Mark().line >= 0) (*lines)[path] = node.Mark().line + 1;
  }

  template <typename T>
  T as(const YAML::Node& node, const std::string& path, const char* type_name) const {
    if (!node.IsScalar()) fail(node, path, std::string("expected ") + type_name);
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, path, std::string("expected ") + type_name + ", got '" + quote_truncated(node.Scalar()) + "'");
    }
  }

  // A mapping key: a scalar (a list or mapping as a key names nothing here).
  std::string key(const YAML::Node& k, const std::string& path) const {
    if (!k.IsScalar())
      fail(k, path, std::string("a key must be a plain name, not a ") +
                        (k.IsMap() ? "mapping" : k.IsSequence() ? "list" : "null"));
    return k.Scalar();
  }

  // Refuses a key seen before in the same mapping (yaml-cpp keeps both; the last would win).
  void unique(std::map<std::string, int>& seen, const YAML::Node& k, const std::string& name,
              const std::string& path) const {
    const int line = k.Mark().line + 1;
    auto [it, fresh] = seen.emplace(name, line);
    if (!fresh) fail(k, path, "duplicate key (first given on line " + std::to_string(it->second) + ")");
  }

  // A message whose only field is repeated may be written as that list directly.
  static const FieldDescriptor* list_shorthand(const google::protobuf::Descriptor* d) {
    if (d->field_count() == 1 && d->field(0)->is_repeated() && !d->field(0)->is_map()) return d->field(0);
    return nullptr;
  }

  void message(const YAML::Node& node, Message* msg, const std::string& path) const {
    note(node, path);
    const auto* desc = msg->GetDescriptor();
    if (!node.IsMap()) {
      if (const FieldDescriptor* f = list_shorthand(desc); f && (node.IsSequence() || node.IsScalar())) {
        field(node, msg, f, path);
        return;
      }
      if (node.IsNull()) return;
      fail(node, path, "expected a mapping of " + desc->name() + " fields");
    }
    std::map<std::string, int> seen;
    for (const auto& kv : node) {
      const std::string name = key(kv.first, path);
      const std::string sub = path.empty() ? name : path + "." + name;
      unique(seen, kv.first, name, sub);
      const FieldDescriptor* f = desc->FindFieldByName(name);
      if (f == nullptr) {
        std::string known;
        for (int i = 0; i < desc->field_count(); ++i) known += (i ? ", " : "") + desc->field(i)->name();
        fail(kv.first, sub, "unknown key (known keys: " + known + ")");
      }
      field(kv.second, msg, f, sub);
    }
  }

  void field(const YAML::Node& node, Message* msg, const FieldDescriptor* f, const std::string& path) const {
    note(node, path);
    const auto* refl = msg->GetReflection();
    if (f->is_map()) {
      if (!node.IsMap()) fail(node, path, "expected a mapping");
      std::map<std::string, int> seen;
      for (const auto& kv : node) {
        const std::string sub = path + "." + key(kv.first, path);
        unique(seen, kv.first, kv.first.Scalar(), sub);
        Message* entry = refl->AddMessage(msg, f);
        const auto* ed = entry->GetDescriptor();
        scalar(kv.first, entry, ed->FindFieldByNumber(1), sub, false);
        const FieldDescriptor* vf = ed->FindFieldByNumber(2);
        if (vf->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE)
          message(kv.second, entry->GetReflection()->MutableMessage(entry, vf), sub);
        else
          scalar(kv.second, entry, vf, sub, false);
      }
      return;
    }
    if (f->is_repeated()) {
      if (node.IsNull()) return;
      if (node.IsScalar()) {
        element(node, msg, f, path + "[0]");
        return;
      }
      if (!node.IsSequence()) fail(node, path, "expected a list");
      for (std::size_t i = 0; i < node.size(); ++i) element(node[i], msg, f, path + "[" + std::to_string(i) + "]");
      return;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      message(node, refl->MutableMessage(msg, f), path);
      return;
    }
    scalar(node, msg, f, path, false);
  }

  void element(const YAML::Node& node, Message* msg, const FieldDescriptor* f, const std::string& path) const {
    note(node, path);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE)
      message(node, msg->GetReflection()->AddMessage(msg, f), path);
    else
      scalar(node, msg, f, path, true);
  }

  template <typename T>
  using Setter = void (Reflection::*)(Message*, const FieldDescriptor*, T) const;

  // One scalar of type T, read as `expected`: set, or (a repeated field's element) added.
  template <typename T>
  void put(const YAML::Node& node, Message* msg, const FieldDescriptor* f, const std::string& path, bool add,
           const char* expected, Setter<T> set, Setter<T> append) const {
    const T v = as<T>(node, path, expected);
    (msg->GetReflection()->*(add ? append : set))(msg, f, v);
  }

  void scalar(const YAML::Node& node, Message* msg, const FieldDescriptor* f, const std::string& path,
              bool add) const {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return put<int32_t>(node, msg, f, path, add, "an integer", &Reflection::SetInt32, &Reflection::AddInt32);
      case FieldDescriptor::CPPTYPE_INT64:
        return put<int64_t>(node, msg, f, path, add, "an integer", &Reflection::SetInt64, &Reflection::AddInt64);
      case FieldDescriptor::CPPTYPE_UINT32:
        return put<uint32_t>(node, msg, f, path, add, "a non-negative integer", &Reflection::SetUInt32,
                             &Reflection::AddUInt32);
      case FieldDescriptor::CPPTYPE_UINT64:
        return put<uint64_t>(node, msg, f, path, add, "a non-negative integer", &Reflection::SetUInt64,
                             &Reflection::AddUInt64);
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return put<double>(node, msg, f, path, add, "a number", &Reflection::SetDouble, &Reflection::AddDouble);
      case FieldDescriptor::CPPTYPE_FLOAT:
        return put<float>(node, msg, f, path, add, "a number", &Reflection::SetFloat, &Reflection::AddFloat);
      case FieldDescriptor::CPPTYPE_BOOL:
        return put<bool>(node, msg, f, path, add, "true or false", &Reflection::SetBool, &Reflection::AddBool);
      case FieldDescriptor::CPPTYPE_STRING:
        return put<std::string>(node, msg, f, path, add, "a string", &Reflection::SetString, &Reflection::AddString);
      case FieldDescriptor::CPPTYPE_ENUM: {
        auto name = as<std::string>(node, path, "an enum name");
        const auto* ev = f->enum_type()->FindValueByName(name);
        if (ev == nullptr) fail(node, path, "unknown value '" + quote_truncated(name) + "'");
        const auto* r = msg->GetReflection();
        add ? r->AddEnum(msg, f, ev) : r->SetEnum(msg, f, ev);
        break;
      }
      default:
        fail(node, path, "unsupported field type");
    }
  }
};

}  // namespace

void yaml_to_message(const YAML::Node& node, google::protobuf::Message* msg, const std::string& file,
                     SourceLines* lines) {
  Walker{file, lines}.message(node, msg, "");
}

int line_of(const SourceLines& lines, std::string path) {
  while (!path.empty()) {
    if (auto it = lines.find(path); it != lines.end()) return it->second;
    const auto cut = path.find_last_of(".[");
    path = cut == std::string::npos ? "" : path.substr(0, cut);
  }
  return 0;
}

}  // namespace ligerbench
