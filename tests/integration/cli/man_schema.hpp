#pragma once
// The --json event schema as twinbox(1) documents it, read from man/twinbox.1 at test time so
// the documentation and the tests cannot drift apart.
//
// The "JSON OUTPUT" section holds one template per event kind, a `.B` line such as
//   {"event":"copied","mailbox":STRING,"to":Side,"uid":UID|null,"bytes":N}
// then, in its subsection, one per command (`.TP`, `.B status`, the template; a template may
// continue over several `.B` lines), and named types, in a `.nf` block or as `.B` lines
// (`Side = "local"|"remote"`). Template grammar:
//   type   := single ('|' single)*
//   single := object | '[' type '...' ']' | "literal" | NAME
//   object := '{' [ "member" ':' type { ',' "member" ':' type } ] '}'
// NAME is N (non-negative integer), NUMBER, STRING, BOOL, null, true, false, or a named
// type. A documented member must be present; objects may carry more members (the page says
// they may gain some).

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace twinbox::test {

struct SchemaType {
  enum class Kind { Name, Literal, Object, Array, Alternatives };
  Kind kind = Kind::Name;
  std::string text;  ///< the NAME, or the literal string
  std::vector<std::pair<std::string, SchemaType>> members;  ///< Object
  std::vector<SchemaType> items;  ///< Array: one element type; Alternatives: the choices
};

class ManSchema {
 public:
  /// Parses the "JSON OUTPUT" section of the twinbox(1) source at `path`; throws
  /// std::runtime_error naming the line when a template does not parse.
  static ManSchema from_man_page(const std::string& path);
  /// The schema of man/twinbox.1 of this source tree (TWINBOX_SOURCE_DIR), parsed once.
  static const ManSchema& twinbox1();

  /// Empty when `event` matches the template of its documented kind; otherwise what is wrong
  /// (an undocumented kind is wrong too).
  [[nodiscard]] std::string validate(const nlohmann::json& event) const;
  /// The same for the one object `twinbox COMMAND --json` prints (status, list, check, repair).
  [[nodiscard]] std::string validate_output(const std::string& command,
                                            const nlohmann::json& object) const;
  [[nodiscard]] std::set<std::string> kinds() const;
  [[nodiscard]] std::set<std::string> commands() const;
  [[nodiscard]] const std::map<std::string, SchemaType>& named() const { return named_; }

 private:
  std::string check(const SchemaType& t, const nlohmann::json& v, const std::string& at,
                    int depth) const;
  std::map<std::string, SchemaType> events_;  ///< by the "event" literal
  std::map<std::string, SchemaType> commands_;  ///< by command name
  std::map<std::string, SchemaType> named_;   ///< Side, UID, Counts, Planned, ...
};

}  // namespace twinbox::test
