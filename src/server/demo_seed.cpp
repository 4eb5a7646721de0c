// Deterministic sample mail for the demo and tests (Server::seed_demo, demo_message).

#include <array>
#include <cstdint>
#include <string>

#include <twinbox/server/server.hpp>

namespace twinbox::server {
namespace {

/// splitmix64: small, deterministic, good enough to vary sample mail.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

constexpr std::array<const char*, 6> kNames = {"Alice Example", "Bob Builder", "Carol Chen",
                                               "Dave Ops", "Eve Martin", "Frank Miller"};
constexpr std::array<const char*, 6> kAddrs = {"alice@example.org", "bob@example.net",
                                               "carol@example.com", "dave@ops.example.org",
                                               "eve@example.org", "frank@example.net"};
constexpr std::array<const char*, 8> kSubjects = {
    "Quarterly report", "Lunch on Friday?", "Re: build is broken", "Holiday photos",
    "Invoice #4711", "Meeting notes", "Your subscription", "Project kickoff"};
// RFC 2047 encoded-words: "Café prices", "Grüße aus München", "日本語の件名".
constexpr std::array<const char*, 3> kEncodedSubjects = {
    "=?UTF-8?Q?Caf=C3=A9_prices?=", "=?ISO-8859-1?Q?Gr=FC=DFe_aus_M=FCnchen?=",
    "=?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?="};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string base64(std::string_view in) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kB64[v & 63] : '=';
    if (++line == 19) {
      out += "\r\n";
      line = 0;
    }
  }
  if (line) out += "\r\n";
  return out;
}

}  // namespace

std::string demo_message(std::uint64_t seed, std::size_t index) {
  Rng rng{seed * 1000003ULL + index};
  std::size_t from = rng.pick(kNames.size());
  std::size_t to = (from + 1 + rng.pick(kNames.size() - 1)) % kNames.size();
  int kind = static_cast<int>(rng.pick(4));
  std::string subject = rng.pick(5) == 0 ? kEncodedSubjects[rng.pick(kEncodedSubjects.size())]
                                         : kSubjects[rng.pick(kSubjects.size())];
  int day = 1 + static_cast<int>(rng.pick(28));
  int month = static_cast<int>(rng.pick(12));
  int hour = static_cast<int>(rng.pick(24));
  int minute = static_cast<int>(rng.pick(60));
  char date[64];
  std::snprintf(date, sizeof date, "%d %s 2024 %02d:%02d:00 +0000", day, kMonths[month], hour, minute);
  std::string m;
  m += "From: \"" + std::string(kNames[from]) + "\" <" + kAddrs[from] + ">\r\n";
  m += "To: " + std::string(kNames[to]) + " <" + kAddrs[to] + ">\r\n";
  m += "Subject: " + subject + "\r\n";
  m += "Date: " + std::string(date) + "\r\n";
  m += "Message-ID: <demo-" + std::to_string(seed) + "-" + std::to_string(index) + "@twinbox.example>\r\n";
  m += "MIME-Version: 1.0\r\n";
  std::string text = "Hello " + std::string(kNames[to]) + ",\r\n\r\nThis is sample message " +
                     std::to_string(index) + " of the twinbox demo.\r\n";
  for (std::size_t i = 0, n = rng.pick(6); i < n; ++i) {
    text += "Line " + std::to_string(i + 1) + ": the quick brown fox jumps over the lazy dog.\r\n";
  }
  text += "\r\n-- \r\n" + std::string(kNames[from]) + "\r\n";
  std::string boundary = "=_twinbox_" + std::to_string(index);
  switch (kind) {
    case 0:
      m += "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text;
      break;
    case 1:
      m += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
           text + "Gr\xc3\xbc\xc3\x9f" "e, caf\xc3\xa9 \xe2\x82\xac 5\r\n";
      break;
    case 2:
      m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
      m += "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + text;
      m += "--" + boundary + "\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>" +
           text.substr(0, 40) + "</p>\r\n";
      m += "--" + boundary + "--\r\n";
      break;
    default: {
      std::string blob;
      for (std::size_t i = 0, n = 200 + rng.pick(2000); i < n; ++i) {
        blob += static_cast<char>(rng.next() & 0xff);
      }
      m += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
      m += "This is a multi-part message in MIME format.\r\n";
      m += "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + text;
      m += "--" + boundary + "\r\nContent-Type: application/octet-stream; name=\"data-" +
           std::to_string(index) + ".bin\"\r\nContent-Transfer-Encoding: base64\r\n"
           "Content-Disposition: attachment; filename=\"data-" + std::to_string(index) + ".bin\"\r\n\r\n";
      m += base64(blob);
      m += "--" + boundary + "--\r\n";
      break;
    }
  }
  return m;
}

Status Server::seed_demo(std::string_view user, std::size_t count, std::uint64_t seed) {
  struct Box {
    const char* name;
    const char* use;
  };
  static constexpr Box kBoxes[] = {{"INBOX", ""}, {"Sent", "\\Sent"}, {"Archive", "\\Archive"},
                                   {"Drafts", "\\Drafts"}, {"Trash", "\\Trash"},
                                   {"Projects/2024", ""}};
  for (const auto& b : kBoxes) {
    if (mailbox(user, b.name)) continue;
    std::vector<std::string> use;
    if (*b.use) use.emplace_back(b.use);
    auto r = create_mailbox(user, b.name, use);
    if (!r) return r.error();
  }
  static constexpr std::array<const char*, 8> kFlagSets = {"", "\\Seen", "\\Seen \\Flagged", "\\Seen \\Answered",
                                                           "$Forwarded \\Seen", "\\Draft", "$Work $Important",
                                                           "\\Deleted \\Seen"};
  Rng rng{seed};
  for (std::size_t i = 0; i < count; ++i) {
    // Weighted: most mail in INBOX.
    std::size_t box = rng.pick(10);
    const char* name = box < 5 ? "INBOX" : kBoxes[1 + (box - 5) % 5].name;
    std::string fs = kFlagSets[rng.pick(kFlagSets.size())];
    if (std::string_view(name) == "Drafts") fs = "\\Draft";
    std::vector<std::string> flags;
    for (std::size_t p = 0; p < fs.size();) {
      auto q = fs.find(' ', p);
      if (q == std::string::npos) q = fs.size();
      if (q > p) flags.push_back(fs.substr(p, q - p));
      p = q + 1;
    }
    std::int64_t date = 1704067200 + static_cast<std::int64_t>(rng.pick(365 * 86400));
    auto r = append_message(user, name, demo_message(seed, i), flags, date);
    if (!r) return r.error();
  }
  return {};
}

}  // namespace twinbox::server
