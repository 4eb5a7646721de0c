// BODY[section]<partial> / BINARY[section] parsing and extraction (RFC 3501 §6.4.5, RFC 3516).
#include "section.hpp"

#include <algorithm>

#include <twinbox/base/ids.hpp>

#include "mime.hpp"

namespace twinbox::server {

namespace {

Error section_error(std::string_view what, std::string_view text, std::size_t at) {
  std::string excerpt(text.substr(std::min(at, text.size()), 24));
  return fail(Errc::Parse, Scope::Message,
              std::string(what) + " at offset " + std::to_string(at) + " near '" + excerpt +
                  "'; expected part numbers like 1.2 and HEADER, HEADER.FIELDS (…), "
                  "HEADER.FIELDS.NOT (…), TEXT or MIME");
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool is_atom_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return c != '(' && c != ')' && c != '{' && c != '%' && c != '*' && c != '"' && c != '\\' &&
         c != ']';
}

// header-list = "(" header-fld-name *(SP header-fld-name) ")"; header-fld-name = astring.
Status parse_header_list(std::string_view t, std::size_t& i, std::vector<std::string>& out) {
  if (i >= t.size() || t[i] != ' ') return section_error("expected SP before the header list", t, i);
  ++i;
  if (i >= t.size() || t[i] != '(') return section_error("expected '(' of the header list", t, i);
  ++i;
  while (true) {
    if (i < t.size() && t[i] == ')' && !out.empty()) {
      ++i;
      return {};
    }
    if (!out.empty()) {
      if (i >= t.size() || t[i] != ' ') return section_error("expected SP or ')'", t, i);
      ++i;
    }
    std::string name;
    if (i < t.size() && t[i] == '"') {
      ++i;
      while (i < t.size() && t[i] != '"') {
        if (t[i] == '\\' && i + 1 < t.size()) ++i;
        name += t[i++];
      }
      if (i >= t.size()) return section_error("unterminated quoted header name", t, i);
      ++i;
    } else {
      std::size_t b = i;
      while (i < t.size() && is_atom_char(t[i])) ++i;
      name = std::string(t.substr(b, i - b));
    }
    if (name.empty()) return section_error("expected a header field name", t, i);
    out.push_back(std::move(name));
  }
}

}  // namespace

Result<SectionSpec> parse_section(std::string_view t, bool binary) {
  SectionSpec spec;
  std::size_t i = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
    std::size_t b = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    auto n = parse_nz_number(t.substr(b, i - b));
    if (!n) return section_error("part number must be 1..4294967295", t, b);
    if (spec.part.size() >= 100) return section_error("too many part numbers", t, b);
    spec.part.push_back(*n);
    if (i < t.size() && t[i] == '.') {
      ++i;
      if (i >= t.size()) return section_error("expected a part number or section text", t, i);
      if (t[i] < '0' || t[i] > '9') break;
    } else if (i < t.size()) {
      return section_error("expected '.' after a part number", t, i);
    }
  }
  std::string_view rest = t.substr(i);
  if (rest.empty()) {
    if (!spec.part.empty() && i > 0 && t[i - 1] == '.') return section_error("dangling '.'", t, i);
    return spec;
  }
  if (binary) return section_error("BINARY takes part numbers only", t, i);
  if (starts_with_ci(rest, "HEADER.FIELDS.NOT")) {
    spec.text = SectionText::HeaderFieldsNot;
    i += 17;
  } else if (starts_with_ci(rest, "HEADER.FIELDS")) {
    spec.text = SectionText::HeaderFields;
    i += 13;
  } else if (starts_with_ci(rest, "HEADER")) {
    spec.text = SectionText::Header;
    i += 6;
  } else if (starts_with_ci(rest, "TEXT")) {
    spec.text = SectionText::Text;
    i += 4;
  } else if (starts_with_ci(rest, "MIME") && !spec.part.empty()) {
    spec.text = SectionText::Mime;
    i += 4;
  } else {
    return section_error("unknown section text", t, i);
  }
  if (spec.text == SectionText::HeaderFields || spec.text == SectionText::HeaderFieldsNot) {
    if (auto st = parse_header_list(t, i, spec.fields); !st) return st.error();
  }
  if (i != t.size()) return section_error("unexpected text after the section", t, i);
  return spec;
}

Result<Partial> parse_partial(std::string_view t) {
  auto bad = [&](std::size_t at) {
    return fail(Errc::Parse, Scope::Message,
                "bad partial at offset " + std::to_string(at) + " near '" +
                    std::string(t.substr(std::min(at, t.size()), 24)) +
                    "'; expected <origin.count> with a non-zero count");
  };
  if (t.size() < 5 || t.front() != '<' || t.back() != '>') return bad(0);
  std::size_t dot = t.find('.');
  if (dot == std::string_view::npos) return bad(1);
  auto origin = parse_number64(t.substr(1, dot - 1));
  auto count = parse_number64(t.substr(dot + 1, t.size() - dot - 2));
  if (!origin || dot == 1) return bad(1);
  if (!count || *count == 0) return bad(dot + 1);
  return Partial{*origin, *count};
}

std::string format_section(const SectionSpec& spec) {
  std::string out;
  for (std::size_t k = 0; k < spec.part.size(); ++k) {
    if (k) out += '.';
    out += std::to_string(spec.part[k]);
  }
  if (spec.text == SectionText::None) return out;
  if (!out.empty()) out += '.';
  switch (spec.text) {
    case SectionText::Header: out += "HEADER"; break;
    case SectionText::HeaderFields: out += "HEADER.FIELDS"; break;
    case SectionText::HeaderFieldsNot: out += "HEADER.FIELDS.NOT"; break;
    case SectionText::Text: out += "TEXT"; break;
    case SectionText::Mime: out += "MIME"; break;
    case SectionText::None: break;
  }
  if (spec.text == SectionText::HeaderFields || spec.text == SectionText::HeaderFieldsNot) {
    out += " (";
    for (std::size_t k = 0; k < spec.fields.size(); ++k) {
      if (k) out += ' ';
      bool atom = !spec.fields[k].empty() &&
                  std::all_of(spec.fields[k].begin(), spec.fields[k].end(), is_atom_char);
      if (atom) {
        out += upper(spec.fields[k]);
      } else {
        append_string(out, upper(spec.fields[k]));
      }
    }
    out += ')';
  }
  return out;
}

std::string format_partial(const SectionSpec& spec) {
  if (!spec.partial) return {};
  return "<" + std::to_string(spec.partial->origin) + ">";
}

SectionData SectionData::view(std::string_view v) {
  SectionData d;
  d.view_ = v;
  return d;
}

SectionData SectionData::owned(std::string s) {
  SectionData d;
  d.owned_ = std::move(s);
  d.is_owned_ = true;
  return d;
}

void SectionData::apply_partial(const std::optional<Partial>& p) {
  if (!p) return;
  std::string_view all = data();
  std::string_view cut;
  if (p->origin < all.size()) {
    auto origin = static_cast<std::size_t>(p->origin);
    std::uint64_t room = all.size() - origin;
    cut = all.substr(origin, static_cast<std::size_t>(std::min<std::uint64_t>(p->count, room)));
  }
  if (is_owned_) {
    owned_ = std::string(cut);
  } else {
    view_ = cut;
  }
}

namespace {

/// Part `n` of a message node (root, or the child of a message/rfc822 part): the n-th part of
/// a multipart body, or the node itself for n = 1 of a non-multipart body (RFC 3501 §6.4.5).
const BodyPart* message_part(const BodyPart& m, std::uint32_t n) {
  if (m.is_multipart()) return n <= m.children.size() ? &m.children[n - 1] : nullptr;
  return n == 1 ? &m : nullptr;
}

}  // namespace

const BodyPart* find_part(const Message& msg, const std::vector<std::uint32_t>& part) {
  const BodyPart* cur = &msg.root();
  for (std::size_t k = 0; k < part.size(); ++k) {
    std::uint32_t n = part[k];
    if (n == 0) return nullptr;
    if (k == 0) {
      cur = message_part(*cur, n);
    } else if (cur->is_multipart()) {
      cur = n <= cur->children.size() ? &cur->children[n - 1] : nullptr;
    } else if (cur->is_message_rfc822()) {
      cur = message_part(cur->children.front(), n);
    } else {
      return nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

std::optional<SectionData> extract_section(const Message& msg, const SectionSpec& spec) {
  const BodyPart* part = find_part(msg, spec.part);
  if (!part) return std::nullopt;
  std::optional<SectionData> out;
  // The message whose header / text the section means: the root, or an encapsulated one.
  const BodyPart* m = spec.part.empty() ? part : nullptr;
  if (!spec.part.empty() && part->is_message_rfc822()) m = &part->children.front();
  switch (spec.text) {
    case SectionText::None:
      out = SectionData::view(spec.part.empty() ? msg.bytes() : msg.slice(part->body));
      break;
    case SectionText::Mime:
      out = SectionData::view(msg.slice(part->header));
      break;
    case SectionText::Header:
      if (!m) return std::nullopt;
      out = SectionData::view(msg.slice(m->header));
      break;
    case SectionText::Text:
      if (!m) return std::nullopt;
      out = SectionData::view(msg.slice(m->body));
      break;
    case SectionText::HeaderFields:
    case SectionText::HeaderFieldsNot: {
      if (!m) return std::nullopt;
      bool want = spec.text == SectionText::HeaderFields;
      std::string s;
      for (const HeaderField& f : m->fields) {
        std::string_view name = msg.slice(f.name);
        bool listed = std::any_of(spec.fields.begin(), spec.fields.end(),
                                  [&](const std::string& w) { return iequals(w, name); });
        if (listed != want) continue;
        std::string_view whole = msg.slice(f.whole);
        s += whole;
        if (whole.empty() || whole.back() != '\n') s += "\r\n";
      }
      s += "\r\n";  // the subset keeps the empty line that ends a header (RFC 3501 §6.4.5)
      out = SectionData::owned(std::move(s));
      break;
    }
  }
  out->apply_partial(spec.partial);
  return out;
}

namespace {

struct BinaryContent {
  bool found = false;
  bool decoded = false;
  std::string owned;     // decoded content
  std::string_view raw;  // content that needs no decoding
};

Result<BinaryContent> binary_content(const Message& msg, const SectionSpec& spec) {
  BinaryContent c;
  const BodyPart* part = find_part(msg, spec.part);
  if (!part) return c;
  c.found = true;
  if (spec.part.empty()) {
    c.raw = msg.bytes();
    return c;
  }
  std::string_view body = msg.slice(part->body);
  if (part->is_multipart() || part->is_message_rfc822()) {
    c.raw = body;
    return c;
  }
  auto dec = decode_transfer(body, part->encoding);
  if (!dec) {
    return fail(Errc::Protocol, Scope::Message,
                "[UNKNOWN-CTE] cannot decode content-transfer-encoding '" + part->encoding +
                    "' of part " + format_section(spec));
  }
  c.decoded = true;
  c.owned = std::move(*dec);
  return c;
}

}  // namespace

Result<std::optional<SectionData>> extract_binary(const Message& msg, const SectionSpec& spec) {
  auto c = binary_content(msg, spec);
  if (!c) return c.error();
  std::optional<SectionData> out;
  if (!c->found) return out;
  out = c->decoded ? SectionData::owned(std::move(c->owned)) : SectionData::view(c->raw);
  out->apply_partial(spec.partial);
  return out;
}

Result<std::optional<std::uint64_t>> binary_size(const Message& msg, const SectionSpec& spec) {
  SectionSpec whole = spec;
  whole.partial.reset();
  auto data = extract_binary(msg, whole);
  if (!data) return data.error();
  if (!data->has_value()) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>((*data)->data().size());
}

}  // namespace twinbox::server
