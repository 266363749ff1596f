#!/usr/bin/env bash
# tls-pki.sh DIR -- a throwaway PKI for the TLS tests (tests/support/th_tls.c),
# made with the openssl CLI only (no faketime):
#   ca.crt/ca.key            the test CA
#   other-ca.crt             an unrelated CA (the "wrong CA" case)
#   server.crt/server.key    signed by ca, SAN DNS:localhost, IP:127.0.0.1
#   expired.crt              the same key and names, valid 2020-01-01..02
#                            (openssl ca -startdate/-enddate: x509 -days
#                            cannot go into the past in OpenSSL 3.0)
#   client.crt/client.key    a client certificate signed by ca
# EC P-256 keys: fast to make. Everything stays in DIR.
set -euo pipefail
d=$1
mkdir -p "$d"
cd "$d"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3 -subj /CN=rhai-test-ca 2>/dev/null
openssl req -x509 "${ec[@]}" -keyout other-ca.key -out other-ca.crt -days 3 -subj /CN=rhai-other-ca 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3 \
    -extfile server.ext -out server.crt 2>/dev/null
openssl req "${ec[@]}" -keyout client.key -out client.csr -subj /CN=rhai-test-client 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3 \
    -extfile client.ext -out client.crt 2>/dev/null
mkdir -p newcerts
: > index.txt
echo 1000 > serial
cat > ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = $d/index.txt
new_certs_dir = $d/newcerts
serial = $d/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
CNF
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in server.csr -out expired.crt \
    -startdate 20200101000000Z -enddate 20200102000000Z -notext -extfile server.ext 2>/dev/null
chmod 0644 ./*.key
