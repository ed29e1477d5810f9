#!/usr/bin/env bash
# NBD exports (nbdkit) read through our transport: raw bytes, a QCOW2 under
# our QCOW2 layer, a sparse export whose holes stay holes, TLS with a PSK.
# Every copy is compared with an independent reference.
. "$VMI_SRC/tests/lib.sh"

. "$VMI_SRC/tests/nbd-lib.sh"

# (a) raw bytes, on a Unix socket and on TCP.
make_ext4 "$T/disk.img" 96M
start_nbdkit raw file "$T/disk.img"
start_nbdkit raw-tcp file "$T/disk.img"
for name in raw raw-tcp; do
  case $name in *-tcp) uri=$(tcp_uri $name) ;; *) uri=$(unix_uri $name) ;; esac
  check "nbd_${name}_cat_matches_source" bash -c "'$LT' cat '$uri' '$T/$name.out' && cmp '$T/disk.img' '$T/$name.out'"
  check "nbd_${name}_random_reads_from_8_threads_match" "$LT" random "$uri" "$T/disk.img" 400 8 1
  check "nbd_${name}_random_reads_through_cache_match" "$LT" random "$uri" "$T/disk.img" 400 8 2 $((8<<20))
  check "nbd_${name}_holes_reported" bash -c "'$LT' map '$uri' | grep -q ' hole\$'"
done
# The export name in the URI reaches the server (which knows only disk1).
start_nbdkit named --filter=exportname file "$T/disk.img" exportname=disk1 \
  exportname-strict=true
check nbd_export_name_from_uri bash -c "'$LT' cat 'nbd+unix:///disk1?socket=$T/named.sock' '$T/named.out' && cmp '$T/disk.img' '$T/named.out'"
check_fails nbd_unknown_export_name_refused "disk2" \
  "$LT" info "nbd+unix:///disk2?socket=$T/named.sock"
check_fails nbd_missing_socket_fails_clearly "nosuch.sock.*(No such file|connect)" \
  "$LT" info "nbd+unix:///?socket=$T/nosuch.sock"

# (b) a QCOW2 served by nbdkit file: our QCOW2 layer on top of the transport.
qemu-img convert -q -f raw -O qcow2 -c "$T/disk.img" "$T/disk.qcow2"
fmt=$("$LT" info "$T/disk.qcow2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])' 2>/dev/null)
if [ "$fmt" = qcow2 ]; then
  start_nbdkit qcow2 file "$T/disk.qcow2"
  start_nbdkit qcow2-tcp file "$T/disk.qcow2"
  for name in qcow2 qcow2-tcp; do
    case $name in *-tcp) uri=$(tcp_uri $name) ;; *) uri=$(unix_uri $name) ;; esac
    check "nbd_${name}_is_read_as_qcow2" bash -c "'$LT' info '$uri' | grep -q '\"format\": \"qcow2\"'"
    check "nbd_${name}_cat_matches_qemu_img" bash -c "'$LT' cat '$uri' '$T/$name.out' && cmp '$T/disk.img' '$T/$name.out'"
    check "nbd_${name}_random_reads_match" "$LT" random "$uri" "$T/disk.img" 200 4 3 $((8<<20))
  done
else
  echo "skip nbd_qcow2_* (this build has no QCOW2 layer yet)"
fi

# (c) sparse-random: holes must stay holes, and a copy reads only the data.
# A second server with the log filter serves the copy alone, so its log
# counts exactly the bytes the copy asked for.
sr=(sparse-random size=512M percent=5 runlength=1048576 seed=4242)
start_nbdkit sparse "${sr[@]}"
start_nbdkit sparse-log --filter=log "${sr[@]}" logfile="$T/sparse.log"
uri=$(unix_uri sparse)
qemu-img convert -q -f raw -O raw "$uri" "$T/sparse.ref"
"$LT" map "$uri" > "$T/sparse.map"
data=$(awk '$3 == "data" { s += $2 } END { print s + 0 }' "$T/sparse.map")
holes=$(awk '$3 == "hole" { s += $2 } END { print s + 0 }' "$T/sparse.map")
echo "sparse-random: $data bytes data, $holes bytes hole"
check nbd_sparse_holes_are_holes bash -c "[ $holes -gt $((400<<20)) ] && [ $data -gt 0 ]"
check nbd_sparse_map_matches_qemu_img_map bash -c "qemu-img map -f raw --output=json '$uri' | python3 -c '
import json, sys
d = sum(e[\"length\"] for e in json.load(sys.stdin) if e[\"data\"])
sys.exit(0 if d == $data else \"qemu-img says %d data bytes, we say $data\" % d)'"
check nbd_sparse_cat_matches_qemu_img bash -c "'$LT' cat '$(unix_uri sparse-log)' '$T/sparse.out' && cmp '$T/sparse.ref' '$T/sparse.out'"
check nbd_sparse_copy_is_sparse bash -c "[ \$(du -k '$T/sparse.out' | cut -f1) -lt $(( (data >> 10) + 8192 )) ]"
# The copy reads every data extent and nothing else (plus the 4 KiB format
# probe, made twice: when the provider describes the VM and when it opens
# the disk; it may fall in a hole).
check nbd_sparse_copy_reads_only_data python3 -c "
import re, sys
n = sum(int(m.group(1), 16) for m in re.finditer(r' Read id=\d+ offset=0x[0-9a-f]+ count=0x([0-9a-f]+)', open('$T/sparse.log').read()))
print('server sent %d bytes for $data bytes of data' % n)
sys.exit(0 if $data <= n <= $data + 2 * 4096 else 1)"

# SEEK_DATA / SEEK_HOLE on the mounted raw view find the same holes.
if "$VMIFS" --help 2>&1 | grep -q "not written yet"; then
  echo "skip nbd_sparse_seek_hole_* (this build has no vmimportfs yet)"
else
  mount_fs "$uri" "$T/mnt"
  check nbd_sparse_seek_hole_finds_the_holes python3 - "$T/mnt" "$data" <<'PY'
import glob, os, sys
img = glob.glob(sys.argv[1] + "/*/disk-0.img")[0]
want = int(sys.argv[2])
fd = os.open(img, os.O_RDONLY)
size = os.fstat(fd).st_size
pos = found = holes = 0
while pos < size:
    try:
        d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        holes += 1
        break
    if d > pos:
        holes += 1
    h = os.lseek(fd, d, os.SEEK_HOLE)
    found += h - d
    pos = h
print("%s: %d bytes of data in %d runs between holes (map says %d)" % (img, found, holes, want))
sys.exit(0 if holes > 1 and want <= found <= want + (1 << 20) else 1)
PY
  unmount_fs "$T/mnt"
fi

# TLS with a pre-shared key (nbds+unix://USER@/?tls-psk-file=...).
printf 'alice:%s\n' "$(openssl rand -hex 32)" > "$T/psk"
start_nbdkit tls --tls=require --tls-psk="$T/psk" file "$T/disk.img"
tls_uri="nbds+unix://alice@/?socket=$T/tls.sock&tls-psk-file=$T/psk"
check nbd_tls_psk_cat_matches_source bash -c "'$LT' cat '$tls_uri' '$T/tls.out' && cmp '$T/disk.img' '$T/tls.out'"
check_fails nbd_tls_required_plain_client_refused "$T/tls.sock" \
  "$LT" info "$(unix_uri tls)"

# TLS with X.509 certificates, as libnbd takes them: a directory holding
# ca-cert.pem (given as the CA option, VMI_CA here), on 127.0.0.1.  A CA
# file works too (put in a private folder, removed at close).
mkdir -p "$T/srv-certs" "$T/cli-certs" "$T/other-ca"
(
  cd "$T" || exit 1
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca \
    -keyout ca-key.pem -out srv-certs/ca-cert.pem 2>/dev/null
  openssl req -new -newkey rsa:2048 -nodes -subj /CN=localhost \
    -keyout srv-certs/server-key.pem -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext
  openssl x509 -req -in server.csr -CA srv-certs/ca-cert.pem -CAkey ca-key.pem \
    -CAcreateserial -days 2 -extfile ext -out srv-certs/server-cert.pem 2>/dev/null
  cp srv-certs/ca-cert.pem cli-certs/
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca \
    -keyout other-ca/key.pem -out other-ca/ca-cert.pem 2>/dev/null
)
start_nbdkit x509-tcp --tls=require --tls-certificates="$T/srv-certs" file "$T/disk.img"
x509_uri="nbds://127.0.0.1:$(cat "$T/x509-tcp.port")/"
check nbd_tls_x509_cat_matches_source bash -c "VMI_CA='$T/cli-certs' '$LT' cat '$x509_uri' '$T/x509.out' && cmp '$T/disk.img' '$T/x509.out'"
check_fails nbd_tls_x509_unknown_ca_refused "certificate|verif|TLS|handshake" \
  env VMI_CA="$T/other-ca" "$LT" info "$x509_uri"
mkdir -p "$T/tmp"
check nbd_tls_x509_ca_file_accepted bash -c "TMPDIR='$T/tmp' VMI_CA='$T/cli-certs/ca-cert.pem' '$LT' info '$x509_uri' && [ -z \"\$(ls '$T/tmp')\" ]"
finish
