#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cctype>
#include <cstdio>
#include <memory>

#include "tls_impl.hpp"

namespace twinbox::net {

namespace detail {

namespace {

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_ctrl(bio, BIO_CTRL_INFO, 0, static_cast<void*>(&data));
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || name == nullptr) return "?";
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return bio_text(bio.get());
}

std::string time_text(const ASN1_TIME* t) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || t == nullptr) return "?";
  ASN1_TIME_print(bio.get(), t);
  return bio_text(bio.get());
}

}  // namespace

std::string spki_sha256(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  int ok = EVP_Digest(der, static_cast<std::size_t>(len), md, &md_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < md_len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

CertificateInfo certificate_info(X509* cert) {
  return CertificateInfo{.subject = name_text(X509_get_subject_name(cert)),
                         .issuer = name_text(X509_get_issuer_name(cert)),
                         .not_before = time_text(X509_get0_notBefore(cert)),
                         .not_after = time_text(X509_get0_notAfter(cert)),
                         .spki_sha256 = spki_sha256(cert)};
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string describe_refused_certificate(const CertificateInfo& info) {
  return "\n  subject: " + info.subject + "\n  issuer:  " + info.issuer +
         "\n  valid:   " + info.not_before + " to " + info.not_after +
         "\n  public key (SPKI) " + info.spki_sha256 +
         "\n  If you trust this server's key, pin it: tls_fingerprint = " + info.spki_sha256 +
         "\n  or set tls_ca_file to the PEM file of the CA that issued it.";
}

}  // namespace detail

Result<std::string> normalize_fingerprint(std::string_view pin) {
  std::string_view s = pin;
  if (s.size() >= 7) {
    std::string prefix(s.substr(0, 7));
    for (auto& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (prefix == "sha256:") s.remove_prefix(7);
  }
  std::string hex;
  for (char c : s) {
    if (c == ':' || c == ' ' || c == '\t') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return fail(Errc::Config, Scope::Fatal,
                  "tls_fingerprint \"" + std::string(pin) +
                      "\" is not a SHA-256 fingerprint: expected 64 hex digits (colons optional), "
                      "e.g. sha256:" + std::string(64, '0'));
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64)
    return fail(Errc::Config, Scope::Fatal,
                "tls_fingerprint \"" + std::string(pin) + "\" has " + std::to_string(hex.size()) +
                    " hex digits; a SHA-256 fingerprint has 64");
  return "sha256:" + hex;
}

Result<CertificateInfo> certificate_info_from_pem(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr)
    return fail(Errc::Config, Scope::Fatal, "cannot open certificate file " + path);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr)
    return fail(Errc::Config, Scope::Fatal,
                "no PEM certificate in " + path + ": " + detail::openssl_errors());
  CertificateInfo info = detail::certificate_info(cert);
  X509_free(cert);
  return info;
}

}  // namespace twinbox::net
