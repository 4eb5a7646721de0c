#include "man_schema.hpp"

#include <cctype>
#include <cstdint>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "support/roff.hpp"

namespace twinbox::test {
namespace {

using nlohmann::json;

/// Recursive descent over one template (grammar in man_schema.hpp).
class TemplateParser {
 public:
  explicit TemplateParser(std::string text) : s_(std::move(text)) {}

  SchemaType parse_all() {
    SchemaType t = type();
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text");
    return t;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(what + " at column " + std::to_string(pos_ + 1) + " of: " + s_);
  }
  void skip_space() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  bool eat(std::string_view token) {
    skip_space();
    if (s_.compare(pos_, token.size(), token) != 0) return false;
    pos_ += token.size();
    return true;
  }
  void expect(std::string_view token) {
    if (!eat(token)) fail("expected '" + std::string(token) + "'");
  }
  std::string quoted() {
    expect("\"");
    const auto end = s_.find('"', pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return v;
  }
  SchemaType type() {
    SchemaType first = single();
    if (!eat("|")) return first;
    SchemaType alt;
    alt.kind = SchemaType::Kind::Alternatives;
    alt.items.push_back(std::move(first));
    do alt.items.push_back(single());
    while (eat("|"));
    return alt;
  }
  SchemaType single() {
    skip_space();
    SchemaType t;
    if (eat("{")) {
      t.kind = SchemaType::Kind::Object;
      if (eat("}")) return t;
      do {
        std::string name = quoted();
        expect(":");
        t.members.emplace_back(std::move(name), type());
      } while (eat(","));
      expect("}");
    } else if (eat("[")) {
      t.kind = SchemaType::Kind::Array;
      t.items.push_back(type());
      expect("...");
      expect("]");
    } else if (pos_ < s_.size() && s_[pos_] == '"') {
      t.kind = SchemaType::Kind::Literal;
      t.text = quoted();
    } else {
      const auto start = pos_;
      auto word = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
      };
      while (pos_ < s_.size() && word(s_[pos_])) ++pos_;
      if (pos_ == start) fail("expected a type");
      t.text = s_.substr(start, pos_ - start);
    }
    return t;
  }

  std::string s_;
  std::size_t pos_ = 0;
};

bool is_builtin(const std::string& name) {
  return name == "N" || name == "NUMBER" || name == "STRING" || name == "BOOL" || name == "null" ||
         name == "true" || name == "false";
}

/// Throws when `t` uses a name that is neither built in nor defined in `named`.
void require_defined(const SchemaType& t, const std::map<std::string, SchemaType>& named) {
  if (t.kind == SchemaType::Kind::Name && !is_builtin(t.text) && named.count(t.text) == 0) {
    throw std::runtime_error("the type " + t.text + " is used but not defined");
  }
  for (const auto& [name, member] : t.members) require_defined(member, named);
  for (const auto& item : t.items) require_defined(item, named);
}

std::string shown(const json& v) {
  std::string d = v.dump();
  return d.size() > 60 ? d.substr(0, 57) + "..." : d;
}

}  // namespace

/// Whether the brackets and braces of `text` (outside strings) are balanced: a template that
/// is not continues on the next `.B` line.
bool balanced(const std::string& text) {
  int depth = 0;
  bool in_string = false;
  for (char c : text) {
    if (c == '"') in_string = !in_string;
    if (in_string) continue;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
  }
  return depth <= 0;
}

ManSchema ManSchema::from_man_page(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  ManSchema schema;
  static const std::regex definition(R"(^([A-Z][A-Za-z]*) *= *(.+)$)");
  static const std::regex command_tag(R"(^\.B ([a-z]+)$)");
  bool in_section = false, in_block = false, after_tp = false;
  std::string command;  ///< the command whose object the current .TP documents ("" for events)
  std::string pending;  ///< a template continued over several .B lines
  int pending_line = 0;
  std::string line;
  auto take = [&](const std::string& text, int number) {
    std::smatch m;
    try {
      if (std::regex_match(text, m, definition)) {
        schema.named_[m[1]] = TemplateParser(m[2]).parse_all();
      } else if (text.rfind("{\"event\":", 0) == 0) {
        SchemaType t = TemplateParser(text).parse_all();
        const auto& kind = t.members.front().second;
        if (kind.kind != SchemaType::Kind::Literal) {
          throw std::runtime_error("event is not a literal");
        }
        schema.events_[kind.text] = std::move(t);
      } else if (!command.empty() && text.rfind('{', 0) == 0) {
        schema.commands_[command] = TemplateParser(text).parse_all();
      }
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": " + e.what());
    }
  };
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.rfind(".SH ", 0) == 0) in_section = line == ".SH JSON OUTPUT";
    if (!in_section) continue;
    if (line.rfind(".SS ", 0) == 0) command = "?";  // per-command objects follow
    if (line == ".nf" || line == ".fi") {
      in_block = line == ".nf";
      continue;
    }
    std::smatch m;
    if (after_tp && !command.empty() && std::regex_match(line, m, command_tag)) command = m[1];
    after_tp = line == ".TP";
    const bool b_line = line.rfind(".B ", 0) == 0;
    std::string text = roff_text(b_line ? line.substr(3) : line);
    if (!pending.empty()) {
      if (!b_line) {
        throw std::runtime_error(path + ":" + std::to_string(number) + ": unbalanced template");
      }
      text = pending + text;
      pending.clear();
    } else if ((!in_block && !b_line) ||
               !(text.rfind('{', 0) == 0 || std::regex_search(text, m, definition))) {
      continue;  // prose, tags, examples
    }
    if (!balanced(text)) {
      pending = text;
      pending_line = pending_line == 0 ? number : pending_line;
      continue;
    }
    take(text, pending_line != 0 ? pending_line : number);
    pending_line = 0;
  }
  if (schema.events_.empty()) throw std::runtime_error(path + ": no JSON OUTPUT templates");
  for (const auto& [name, t] : schema.events_) require_defined(t, schema.named_);
  for (const auto& [name, t] : schema.commands_) require_defined(t, schema.named_);
  for (const auto& [name, t] : schema.named_) require_defined(t, schema.named_);
  return schema;
}

const ManSchema& ManSchema::twinbox1() {
  static const ManSchema schema = from_man_page(std::string(TWINBOX_SOURCE_DIR) + "/man/twinbox.1");
  return schema;
}

std::set<std::string> ManSchema::kinds() const {
  std::set<std::string> k;
  for (const auto& [name, t] : events_) k.insert(name);
  return k;
}

std::set<std::string> ManSchema::commands() const {
  std::set<std::string> c;
  for (const auto& [name, t] : commands_) c.insert(name);
  return c;
}

std::string ManSchema::validate(const json& event) const {
  if (!event.is_object() || !event.contains("event") || !event["event"].is_string()) {
    return "no string member \"event\": " + shown(event);
  }
  const std::string kind = event["event"].get<std::string>();
  const auto it = events_.find(kind);
  if (it == events_.end()) return "event kind \"" + kind + "\" is not documented in twinbox(1)";
  return check(it->second, event, kind, 0);
}

std::string ManSchema::validate_output(const std::string& command, const json& object) const {
  const auto it = commands_.find(command);
  if (it == commands_.end()) return "no JSON object of '" + command + "' documented in twinbox(1)";
  return check(it->second, object, command, 0);
}

std::string ManSchema::check(const SchemaType& t, const json& v, const std::string& at,
                             int depth) const {
  if (depth > 16) return at + ": the schema nests too deep (a named type refers to itself?)";
  using Kind = SchemaType::Kind;
  const auto wrong = [&](const std::string& expected) {
    return at + ": expected " + expected + ", got " + shown(v);
  };
  switch (t.kind) {
    case Kind::Literal:
      return v.is_string() && v.get<std::string>() == t.text ? "" : wrong("\"" + t.text + "\"");
    case Kind::Object:
      if (!v.is_object()) return wrong("an object");
      for (const auto& [name, member] : t.members) {
        if (!v.contains(name)) return at + ": member \"" + name + "\" is missing";
        if (auto e = check(member, v[name], at + "." + name, depth + 1); !e.empty()) return e;
      }
      return "";
    case Kind::Array:
      if (!v.is_array()) return wrong("an array");
      for (std::size_t i = 0; i < v.size(); ++i) {
        auto e = check(t.items.front(), v[i], at + "[" + std::to_string(i) + "]", depth + 1);
        if (!e.empty()) return e;
      }
      return "";
    case Kind::Alternatives: {
      std::string errors;
      for (const auto& alt : t.items) {
        auto e = check(alt, v, at, depth + 1);
        if (e.empty()) return "";
        errors += (errors.empty() ? "" : "; or ") + e;
      }
      return errors;
    }
    case Kind::Name: break;
  }
  if (t.text == "N") {
    const bool natural =
        v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
    return natural ? "" : wrong("N (a non-negative integer)");
  }
  if (t.text == "NUMBER") return v.is_number() ? "" : wrong("a number");
  if (t.text == "STRING") return v.is_string() ? "" : wrong("a string");
  if (t.text == "BOOL") return v.is_boolean() ? "" : wrong("true or false");
  if (t.text == "null") return v.is_null() ? "" : wrong("null");
  if (t.text == "true" || t.text == "false") {
    return v.is_boolean() && v.get<bool>() == (t.text == "true") ? "" : wrong(t.text);
  }
  return check(named_.at(t.text), v, at, depth + 1);  // defined: checked when parsed
}

}  // namespace twinbox::test
