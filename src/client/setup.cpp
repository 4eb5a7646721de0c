// Connection setup: greeting, CAPABILITY, STARTTLS, authentication, ENABLE, ID, COMPRESS
// (PROTOCOL.md §1.1-§1.4).
#include <algorithm>

#include <twinbox/client/session.hpp>
#include <twinbox/imap/flags.hpp>

#include "session_impl.hpp"
#include "util.hpp"

namespace twinbox::client {

using detail::Op;

bool Session::Impl::imap_qresync() const {
  return std::any_of(enabled_list.begin(), enabled_list.end(),
                     [](const std::string& e) { return imap::iequals(e, "QRESYNC"); });
}

std::string_view to_string(AuthMechanism m) {
  switch (m) {
    case AuthMechanism::Auto: return "auto";
    case AuthMechanism::Plain: return "PLAIN";
    case AuthMechanism::Login: return "LOGIN";
    case AuthMechanism::OAuthBearer: return "OAUTHBEARER";
    case AuthMechanism::XOAuth2: return "XOAUTH2";
  }
  return "?";
}

namespace {

/// Runs a simple command to completion: OK → success, NO/BAD → error.
Status run_simple(Session& s, Pending<imap::Tagged> p, Deadline deadline) {
  auto r = s.wait(p, deadline);
  if (!r) return r.error();
  return {};
}

}  // namespace

Status Session::greet(Deadline deadline) {
  Impl& im = *impl_;
  if (auto s = im.run_until([&] { return im.state != SessionState::Greeting; }, deadline); !s) {
    return s.error().with_context("waiting for the greeting of " + im.describe());
  }
  if (im.broken) return *im.broken;
  if (im.state == SessionState::Authenticated && !im.options.secure_transport &&
      !im.options.allow_plaintext) {
    im.break_connection(fail(Errc::Tls, Scope::Connection,
                             im.describe() +
                                 " greeted with PREAUTH on an unencrypted connection; refusing "
                                 "it (STARTTLS is impossible after PREAUTH). Use TLS, or allow "
                                 "plaintext explicitly"));
    return *im.broken;
  }
  if (im.caps.empty()) return refresh_capabilities(deadline);
  return {};
}

Status Session::refresh_capabilities(Deadline deadline) {
  return run_simple(*this, raw("CAPABILITY"), deadline);
}

Status Session::starttls(const StreamUpgrade& upgrade, Deadline deadline) {
  Impl& im = *impl_;
  if (im.broken) return *im.broken;
  if (!im.caps.has("STARTTLS")) {
    return fail(Errc::Tls, Scope::Connection,
                im.describe() +
                    " does not advertise STARTTLS; refusing to continue without TLS (use imaps, "
                    "or check that nothing strips STARTTLS on the way)");
  }
  auto p = make_pending<void>();
  auto op = std::make_shared<Op>();
  op->what = "STARTTLS";
  op->barrier = true;
  op->failed = [p](const Error& e) { p.complete(e); };
  op->tagged = [p, &im](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      Error e = tagged_error("STARTTLS", t);
      e.code = Errc::Tls;
      p.complete(e);
      return;
    }
    // Anything the server sent after its OK came before the handshake: an injection
    // attempt or garbage. Throw it away (RFC 3501 §6.2.1; PROTOCOL.md §1.2).
    im.reset_input();
    ++im.input_generation;
    im.input_paused = true;
    p.complete(Status{});
  };
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "STARTTLS", im.builder_options());
  im.enqueue(tag, b.build(), op);
  auto r = wait(p, deadline);
  if (!r) return r.error();
  if (im.out_pos < im.out.size()) {
    im.break_connection(fail(Errc::Internal, Scope::Connection, "unsent bytes before STARTTLS"));
    return *im.broken;
  }
  auto tls = upgrade(std::move(im.stream), deadline);
  if (!tls) {
    im.broken = tls.error();
    im.state = SessionState::Broken;
    return tls.error();
  }
  im.stream = std::move(*tls);
  im.input_paused = false;
  im.caps.clear();  // cached capabilities are void after STARTTLS (RFC 3501 §6.2.1)
  return refresh_capabilities(deadline);
}

namespace {

/// Picks the mechanism for `auto` and checks an explicit one against the capabilities.
Result<AuthMechanism> choose_mechanism(const imap::CapabilitySet& caps, const Credentials& c,
                                       const std::string& where) {
  AuthMechanism m = c.mechanism;
  if (m == AuthMechanism::Auto) {
    if (c.oauth_token) {
      if (caps.has_auth("OAUTHBEARER")) return AuthMechanism::OAuthBearer;
      if (caps.has_auth("XOAUTH2")) return AuthMechanism::XOAuth2;
      return fail(Errc::Capability, Scope::Connection,
                  where + " offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2 for the OAuth token");
    }
    if (caps.has_auth("PLAIN")) return AuthMechanism::Plain;
    if (!caps.has("LOGINDISABLED")) return AuthMechanism::Login;
    return fail(Errc::Capability, Scope::Connection,
                where + " has LOGINDISABLED and does not offer AUTH=PLAIN (is TLS missing?)");
  }
  switch (m) {
    case AuthMechanism::Login:
      if (caps.has("LOGINDISABLED")) {
        return fail(Errc::Capability, Scope::Connection,
                    where + " advertises LOGINDISABLED: LOGIN is not allowed (is TLS missing?)");
      }
      return m;
    case AuthMechanism::Plain:
    case AuthMechanism::OAuthBearer:
    case AuthMechanism::XOAuth2:
      if (!caps.has_auth(to_string(m))) {
        return fail(Errc::Capability, Scope::Connection,
                    where + " does not offer AUTH=" + std::string(to_string(m)));
      }
      return m;
    case AuthMechanism::Auto:
      break;
  }
  return m;
}

/// RFC 5530 response codes → distinct errors (PROTOCOL.md §1.3).
Error auth_error(const imap::Tagged& t, std::string_view mech, const std::string& user) {
  using K = imap::ResponseCode::Kind;
  std::string text = t.text.empty() ? std::string("(no text)") : t.text;
  std::string head = std::string(mech) + " authentication as '" + user + "' ";
  if (t.cond == imap::Cond::Bad) {
    return fail(Errc::Auth, Scope::Connection,
                head + "was rejected as invalid (BAD): " + text);
  }
  switch (t.code.kind) {
    case K::AuthenticationFailed:
      return fail(Errc::Auth, Scope::Connection,
                  head + "failed: wrong user name or password/token [AUTHENTICATIONFAILED]: " +
                      text + " (not retried)");
    case K::Unavailable:
      return fail(Errc::AuthRetry, Scope::Connection,
                  head + "is temporarily unavailable [UNAVAILABLE]: " + text +
                      " (try again later)");
    case K::Expired:
      return fail(Errc::Auth, Scope::Connection,
                  head + "failed: the password or account has expired [EXPIRED]: " + text);
    case K::PrivacyRequired:
      return fail(Errc::Auth, Scope::Connection,
                  head + "failed: the server requires an encrypted connection "
                         "[PRIVACYREQUIRED]: " + text + " (use imaps or STARTTLS)");
    case K::ContactAdmin:
      return fail(Errc::Auth, Scope::Connection,
                  head + "failed: contact your administrator [CONTACTADMIN]: " + text);
    default:
      return fail(Errc::Auth, Scope::Connection, head + "failed: " + text);
  }
}

}  // namespace

Status Session::authenticate(const Credentials& cred, Deadline deadline) {
  Impl& im = *impl_;
  if (im.broken) return *im.broken;
  if (im.state == SessionState::Authenticated || im.state == SessionState::Selected) return {};
  if (im.state != SessionState::NotAuthenticated) {
    return fail(Errc::Internal, Scope::Connection, "authenticate() before the greeting");
  }
  auto mech = choose_mechanism(im.caps, cred, im.describe());
  if (!mech) return mech.error();

  std::string initial;  // the SASL initial response (raw, not base64)
  std::string token;
  if (*mech == AuthMechanism::OAuthBearer || *mech == AuthMechanism::XOAuth2) {
    if (!cred.oauth_token) {
      return fail(Errc::Config, Scope::Connection,
                  std::string(to_string(*mech)) + " needs an OAuth token command");
    }
    auto tok = cred.oauth_token();
    if (!tok) return tok.error().with_context("getting the OAuth token");
    token = std::move(*tok);
  }
  switch (*mech) {
    case AuthMechanism::Plain:
      initial = std::string(1, '\0') + cred.username + std::string(1, '\0') + cred.password;
      break;
    case AuthMechanism::OAuthBearer:
      // RFC 7628 §3.1: gs2-header "n,a=user," then kvpairs separated by ^A.
      initial = "n,a=" + detail::sasl_name(cred.username) + ",";
      if (!cred.host.empty()) initial += "\x01host=" + cred.host;
      if (cred.port != 0) initial += "\x01port=" + std::to_string(cred.port);
      initial += "\x01" "auth=Bearer " + token + "\x01\x01";
      break;
    case AuthMechanism::XOAuth2:
      initial = "user=" + cred.username + "\x01" "auth=Bearer " + token + "\x01\x01";
      break;
    default:
      break;
  }

  auto p = make_pending<void>();
  auto op = std::make_shared<Op>();
  op->barrier = true;
  op->failed = [p](const Error& e) { p.complete(e); };
  auto caps_in_ok = std::make_shared<bool>(false);
  std::string user = cred.username;
  std::string mech_name(to_string(*mech));
  op->tagged = [p, &im, caps_in_ok, user, mech_name](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(auth_error(t, mech_name, user));
      return;
    }
    im.state = SessionState::Authenticated;
    *caps_in_ok = t.code.kind == imap::ResponseCode::Kind::Capability;
    p.complete(Status{});
  };

  Tag tag = im.reserve_tag();
  if (*mech == AuthMechanism::Login) {
    op->what = "LOGIN";
    if (!detail::is_7bit(cred.username) || !detail::is_7bit(cred.password)) {
      return fail(Errc::Config, Scope::Connection,
                  "LOGIN cannot carry 8-bit user names or passwords (RFC 6855 §5); use "
                  "AUTHENTICATE PLAIN");
    }
    imap::CommandBuilder b(im.tag_text(tag), "LOGIN", im.builder_options());
    b.astring(cred.username).string(cred.password);
    im.enqueue(tag, b.build(), op,
               im.tag_text(tag) + " LOGIN " + cred.username + " <password redacted>");
  } else {
    op->what = "AUTHENTICATE " + mech_name;
    op->owns_continuations = true;
    bool sasl_ir = im.caps.has("SASL-IR");
    std::string encoded = initial.empty() ? "=" : detail::base64_encode(initial);
    auto state = std::make_shared<int>(sasl_ir ? 1 : 0);  // continuations seen / IR sent
    AuthMechanism m = *mech;
    op->continuation = [&im, state, encoded, m](const imap::Continuation&) {
      if (*state == 0) {
        *state = 1;
        im.send_line(encoded, "<authentication data redacted>");
        return;
      }
      // A challenge after our response is an error report (RFC 7628 §3.2.2 for OAUTHBEARER,
      // Google's XOAUTH2): answer so the server sends its NO; for PLAIN cancel with "*".
      ++*state;
      if (*state > 4) {
        im.send_line("*", "*");
        return;
      }
      switch (m) {
        case AuthMechanism::OAuthBearer: im.send_line("AQ==", "AQ=="); break;
        case AuthMechanism::XOAuth2: im.send_line("", ""); break;
        default: im.send_line("*", "*"); break;
      }
    };
    std::string line = im.tag_text(tag) + " AUTHENTICATE " + mech_name;
    std::string trace = line;
    if (sasl_ir) {
      line += " " + encoded;
      trace += " <redacted>";
    }
    std::vector<detail::Piece> pieces(1);
    pieces[0].text = line + "\r\n";
    im.enqueue_pieces(tag, std::move(pieces), trace, op);
  }
  auto r = wait(p, deadline);
  if (!r) return r.error();
  if (!*caps_in_ok) return refresh_capabilities(deadline);
  return {};
}

Result<std::vector<std::string>> Session::enable(const std::vector<std::string>& extensions,
                                                 Deadline deadline) {
  return wait(send_enable(extensions), deadline);
}

Pending<std::vector<std::string>> Session::send_enable(const std::vector<std::string>& extensions) {
  Impl& im = *impl_;
  auto p = make_pending<std::vector<std::string>>();
  if (!im.caps.has("ENABLE")) {
    p.complete(fail(Errc::Capability, Scope::Connection,
                    im.describe() + " does not support ENABLE (RFC 5161)"));
    return p;
  }
  if (extensions.empty()) {
    p.complete(std::vector<std::string>{});
    return p;
  }
  auto got = std::make_shared<std::vector<std::string>>();
  auto op = std::make_shared<Op>();
  op->what = "ENABLE";
  op->failed = [p](const Error& e) { p.complete(e); };
  op->untagged = [got](imap::Response& r) {
    if (auto* e = std::get_if<imap::EnabledData>(&r)) {
      got->insert(got->end(), e->capabilities.begin(), e->capabilities.end());
      return true;
    }
    return false;
  };
  op->tagged = [p, got](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error("ENABLE", t));
      return;
    }
    p.complete(*got);  // success is judged by * ENABLED only (PROTOCOL.md §1.4)
  };
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "ENABLE", im.builder_options());
  for (auto& e : extensions) b.atom(e);
  im.enqueue(tag, b.build(), op);
  return p;
}

Result<imap::IdData> Session::id(const std::vector<std::pair<std::string, std::string>>& params,
                                 Deadline deadline) {
  return wait(send_id(params), deadline);
}

Pending<imap::IdData> Session::send_id(const std::vector<std::pair<std::string, std::string>>& params) {
  Impl& im = *impl_;
  auto p = make_pending<imap::IdData>();
  if (!im.caps.has("ID")) {
    p.complete(fail(Errc::Capability, Scope::Connection, im.describe() + " does not support ID"));
    return p;
  }
  if (params.empty()) {
    p.complete(fail(Errc::Internal, Scope::Connection, "ID needs at least one parameter"));
    return p;
  }
  auto got = std::make_shared<imap::IdData>();
  auto op = std::make_shared<Op>();
  op->what = "ID";
  op->failed = [p](const Error& e) { p.complete(e); };
  op->untagged = [got](imap::Response& r) {
    if (auto* d = std::get_if<imap::IdData>(&r)) {
      *got = std::move(*d);
      return true;
    }
    return false;
  };
  op->tagged = [p, got](const imap::Tagged& t) {
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error("ID", t));
      return;
    }
    p.complete(*got);
  };
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "ID", im.builder_options());
  b.begin_list();
  for (auto& [k, v] : params) b.string(k).string(v);
  b.end_list();
  im.enqueue(tag, b.build(), op);
  return p;
}

Status Session::compress(const StreamUpgrade& wrap, Deadline deadline) {
  Impl& im = *impl_;
  if (im.broken) return *im.broken;
  if (im.compressed) return {};
  if (!im.caps.has("COMPRESS=DEFLATE")) {
    return fail(Errc::Capability, Scope::Connection,
                im.describe() + " does not offer COMPRESS=DEFLATE");
  }
  auto p = make_pending<bool>();
  auto op = std::make_shared<Op>();
  op->what = "COMPRESS DEFLATE";
  op->barrier = true;
  op->failed = [p](const Error& e) { p.complete(e); };
  op->tagged = [p, &im](const imap::Tagged& t) {
    if (t.cond == imap::Cond::No &&
        t.code.kind == imap::ResponseCode::Kind::CompressionActive) {
      p.complete(false);
      return;
    }
    if (t.cond != imap::Cond::Ok) {
      p.complete(tagged_error("COMPRESS DEFLATE", t));
      return;
    }
    // From the next octet on everything is compressed (RFC 4978 §3): stop parsing here.
    if (im.parser.buffered() > 0) {
      im.break_connection(fail(Errc::Protocol, Scope::Connection,
                               im.describe() + " sent data right after COMPRESS OK"));
      return;
    }
    ++im.input_generation;
    im.input_paused = true;
    p.complete(true);
  };
  Tag tag = im.reserve_tag();
  imap::CommandBuilder b(im.tag_text(tag), "COMPRESS", im.builder_options());
  b.atom("DEFLATE");
  im.enqueue(tag, b.build(), op);
  auto r = wait(p, deadline);
  if (!r) return r.error();
  if (!*r) {
    im.compressed = true;
    return {};
  }
  auto z = wrap(std::move(im.stream), deadline);
  if (!z) {
    im.broken = z.error();
    im.state = SessionState::Broken;
    return z.error();
  }
  im.stream = std::move(*z);
  im.input_paused = false;
  im.compressed = true;
  return {};
}

}  // namespace twinbox::client
