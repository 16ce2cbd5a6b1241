# testtls.sh: sourced by the service scripts (samba.sh, kafka.sh); not run on its own.
# wb_make_tls DIR: a throwaway test CA (DIR/ca.pem, DIR/ca.key) and a server certificate it
# signed for 127.0.0.1 (DIR/cert.pem, DIR/key.pem, PKCS#8 without a passphrase), valid ten years.

wb_make_tls() {
    local t=$1
    mkdir -p "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=writeback test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$t/key.pem" -out "$t/server.csr" 2>/dev/null
    # libldap checks the name the client dialled; with "localhost" it substitutes the local
    # host name, so that name is in the SAN list too.
    cat >"$t/ext.cnf" <<EOT
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:$(hostname)
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
EOT
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" \
        -CAcreateserial -days 3650 -extfile "$t/ext.cnf" -out "$t/cert.pem" 2>/dev/null
    chmod 600 "$t/key.pem" "$t/ca.key"
}
