#!/usr/bin/env bash
# Container entry point of the samba-ad service: on first start provisions realm $SAMBA_REALM
# with the Administrator password from $SAMBA_ADMIN_PASSWORD_FILE, makes a CA and a server
# certificate for this host name in /srv/tls (ca.pem is what workers trust), extends the schema
# (extend-schema.py) and creates $SAMBA_TARGET_OU; then runs samba in the foreground.
set -euo pipefail

realm=${SAMBA_REALM:?SAMBA_REALM is required}
domain=${SAMBA_DOMAIN:?SAMBA_DOMAIN is required}
passfile=${SAMBA_ADMIN_PASSWORD_FILE:?SAMBA_ADMIN_PASSWORD_FILE is required}
target_ou=${SAMBA_TARGET_OU:-OU=Writeback}
host=$(hostname)
base_dn=$(echo "$realm" | tr 'A-Z' 'a-z' | sed 's/^/DC=/; s/\./,DC=/g')
tls=/srv/tls
marker=/var/lib/samba/.wb-provisioned

if [ ! -f "$marker" ]; then
    echo "samba-ad: provisioning $realm ($base_dn)" >&2
    rm -f /etc/samba/smb.conf
    samba-tool domain provision --realm "$realm" --domain "$domain" --server-role dc \
        --dns-backend SAMBA_INTERNAL --adminpass "$(cat "$passfile")" \
        --option "dsdb:schema update allowed = true" --option "tls enabled = yes" --option "tls keyfile = $tls/key.pem" \
        --option "tls certfile = $tls/cert.pem" --option "tls cafile = $tls/ca.pem"
    mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=writeback demo CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$host" -keyout "$tls/key.pem" \
        -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$host" \
        >"$tls/ext.cnf"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 3650 -extfile "$tls/ext.cnf" -out "$tls/cert.pem" 2>/dev/null
    chmod 600 "$tls/key.pem" "$tls/ca.key"
    chmod 644 "$tls/ca.pem"
    python3 /usr/local/lib/wb-samba/extend-schema.py /etc/samba/smb.conf "$base_dn" \
        "$target_ou,$base_dn"
    cp /etc/samba/smb.conf /var/lib/samba/smb.conf
    touch "$marker"
fi
cp /var/lib/samba/smb.conf /etc/samba/smb.conf
exec samba -F --no-process-group
