#!/usr/bin/env bash
# make-test-ca.sh DIR — makes throw-away test certificates with the openssl CLI (OpenSSL 3).
# For tests only: keys are unencrypted EC P-256, everything lives in DIR (created if missing).
# Re-running into the same DIR remakes everything. Takes well under a second.
#
# Outputs in DIR (PEM; every *.pem has a matching *.key; *.crt are not used):
#   ca.pem / ca.key               "twinbox test CA" (trust it with ca_file / tls_ca_file)
#   server.pem / server.key       CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1,
#                                 signed by ca.pem, valid now for 10 years
#   server-chain.pem              server.pem followed by ca.pem
#   wronghost.pem / wronghost.key CN=wrong.example, SAN DNS:wrong.example, signed by ca.pem
#   expired.pem / expired.key     localhost SANs as server.pem, signed by ca.pem,
#                                 valid 2001-01-01 .. 2002-01-01 only
#   selfsigned.pem / selfsigned.key  localhost SANs, self-signed (not a CA)
#   other-ca.pem / other-ca.key   "twinbox untrusted CA", a second CA nobody trusts
#   untrusted.pem / untrusted.key localhost SANs, signed by other-ca.pem
#   *.spki-sha256                 for each leaf: "sha256:<64 hex>" of its SubjectPublicKeyInfo
#                                 (the value tls_fingerprint pins)
set -euo pipefail

dir=${1:?usage: make-test-ca.sh DIR}
mkdir -p "$dir"
cd "$dir"
rm -rf ca-db other-ca-db

days_ok=3650
san_localhost="DNS:localhost,IP:127.0.0.1,IP:::1"

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() {  # name CN
  newkey "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days "$days_ok" -subj "/O=twinbox tests/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1.pem"
}

ext_file() {  # SAN -> prints path of an extension file
  local f="$1.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$2" >"$f"
  echo "$f"
}

make_leaf() {  # name CN SAN issuer
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "/O=twinbox tests/CN=$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial -sha256 \
    -days "$days_ok" -extfile "$(ext_file "$1" "$3")" -out "$1.pem" 2>/dev/null
}

spki() {  # cert -> sha256:<hex> of the DER SubjectPublicKeyInfo
  openssl x509 -in "$1.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -r | sed -E 's/^([0-9a-f]+).*/sha256:\1/' >"$1.spki-sha256"
}

make_ca ca "twinbox test CA"
make_ca other-ca "twinbox untrusted CA"
make_leaf server localhost "$san_localhost" ca
make_leaf wronghost wrong.example "DNS:wrong.example" ca
make_leaf untrusted localhost "$san_localhost" other-ca
cat server.pem ca.pem >server-chain.pem

# Self-signed leaf (no CA flag): chain verification fails with "self-signed certificate".
newkey selfsigned.key
openssl req -x509 -new -key selfsigned.key -sha256 -days "$days_ok" \
  -subj "/O=twinbox tests/CN=localhost" -addext "subjectAltName=$san_localhost" \
  -addext "basicConstraints=CA:FALSE" -out selfsigned.pem

# Expired leaf: OpenSSL 3.0's x509 has no -not_before/-not_after, so `openssl ca` with
# explicit -startdate/-enddate signs it with dates in the past.
newkey expired.key
openssl req -new -key expired.key -subj "/O=twinbox tests/CN=localhost" -out expired.csr
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca-db/ca.cnf <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = policy_any
copy_extensions = none
unique_subject = no
[ policy_any ]
organizationName = optional
commonName = supplied
[ leaf_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san_localhost
CNF
openssl ca -batch -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
  -startdate 20010101000000Z -enddate 20020101000000Z -extensions leaf_ext \
  -notext -out expired.pem 2>/dev/null
rm -rf ca-db ./*.csr ./*.ext ./*.srl

for leaf in server wronghost expired selfsigned untrusted; do spki "$leaf"; done
