#pragma once
/// Private TLS helpers shared by tls.cpp and tls_cert.cpp.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

#include <twinbox/net/tls.hpp>

namespace twinbox::net::detail {

/// Subject, issuer, validity and SPKI pin of a certificate.
CertificateInfo certificate_info(X509* cert);
/// "sha256:<hex>" of the DER SubjectPublicKeyInfo, "" when it cannot be encoded.
std::string spki_sha256(X509* cert);
/// Drains the thread's OpenSSL error queue into one line ("" when empty).
std::string openssl_errors();
/// The multi-line explanation shown when a certificate is refused.
std::string describe_refused_certificate(const CertificateInfo& info);

}  // namespace twinbox::net::detail
