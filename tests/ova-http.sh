#!/usr/bin/env bash
# OVAs over HTTP(S) from a private nginx: plain HTTP, HTTPS with a CA made
# at test time, basic auth, an OvaSource + Secret YAML; errors for a wrong
# password, a missing file, an unknown CA; laziness measured from nginx's
# $bytes_sent; no password in output or on a command line.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"
. "$VMI_SRC/tests/ova-lib.sh"
OT="$B/tests/ova-tool"

# ---- fixtures ----
W="$T/www"
mkdir -p "$W" "$T/a/sub"
make_ext4 "$T/a/sub/d1.img" 48M
truncate -s 16M "$T/a/sub/d2.img"
printf 'second disk' | dd of="$T/a/sub/d2.img" bs=1 seek=5000000 conv=notrunc status=none
make_ovf "$T/a/app.ovf" '{"name": "appliance", "cpus": 4, "cores": 2, "memory": [3072, "byte * 2^20"],
  "firmware": "efi", "secure_boot": false, "os": "centos8_64Guest",
  "disks": [{"href": "sub/d1.img", "capacity": [48, "byte * 2^20"], "format": "raw", "bus": "scsi"},
            {"href": "sub/d2.img", "capacity": [16, "byte * 2^20"], "format": "raw", "bus": "ide"}],
  "nics": [{"network": "VM Network", "model": "VmxNet3", "mac": "00:50:56:9a:00:01"}]}'
make_mf "$T/a" "$T/a/app.mf" app.ovf sub/d1.img sub/d2.img
make_ova "$W/app.ova" "$T/a" ustar app.ovf app.mf sub/d1.img sub/d2.img
cp "$W/app.ova" "$W/bad.ova"
off=$(python3 -c 'import sys,tarfile; print(tarfile.open(sys.argv[1]).getmember("sub/d1.img").offset_data + 12345)' "$W/bad.ova")
printf '\377' | dd of="$W/bad.ova" bs=1 seek="$off" conv=notrunc status=none
# The OVF beside its disks on the server.
mkdir -p "$W/ovf/sub"
cp "$T/a/app.ovf" "$T/a/app.mf" "$W/ovf/"
cp "$T/a/sub/d1.img" "$T/a/sub/d2.img" "$W/ovf/sub/"

# ---- plain HTTP ----
nginx_start "$W"
U=$NGINX_URL
"$LT" vmjson "$U/app.ova" > "$T/app.json"
check_vmjson ova_http_vmjson_matches_ovf "$T/app.json" \
  'j["name"]=="appliance" and j["cpus"]==4 and j["cores_per_socket"]==2 and j["memory_mib"]==3072 and j["firmware"]=="efi" and j["secure_boot"]==False and [(d["capacity"],d["bus"]) for d in j["disks"]]==[(48<<20,"scsi"),(16<<20,"ide")] and [(n["network"],n["model"],n["mac"]) for n in j["nics"]]==[("VM Network","VmxNet3","00:50:56:9a:00:01")] and j["source"]["where"].startswith("http://")'
for i in 0 1; do
  check "ova_http_disk${i}_cat_matches" bash -c "VMI_DISK=$i '$LT' cat '$U/app.ova' '$T/app.$i' && cmp '$T/app.$i' '$T/a/sub/d$((i+1)).img'"
done
check ova_http_random_reads_match "$LT" random "$U/app.ova" "$T/a/sub/d1.img" 400 6 7
check ovf_http_beside_disks_cat_matches bash -c "VMI_DISK=1 '$LT' cat '$U/ovf/app.ovf' '$T/ovf.1' && cmp '$T/ovf.1' '$T/a/sub/d2.img'"
check ova_http_verify_good_passes "$OT" verify "$U/app.ova"
check ovf_http_verify_good_passes "$OT" verify "$U/ovf/app.ovf"
check_fails ova_http_verify_edited_byte_names_file 'sub/d1\.img.*mismatch' "$OT" verify "$U/bad.ova"
check_fails ova_http_missing_file_404_named 'nothere\.ova.*(404|no such file)' "$LT" vmjson "$U/nothere.ova"

# A daemon (no -f) forks after it opened the source, whose reads (tar
# headers, OVF) may have read-ahead in flight: the daemon reads the disks
# right, it does not wait for fetcher threads it lost in the fork.
mkdir -p "$T/dmnt"
at_exit "fusermount3 -u '$T/dmnt' 2>/dev/null"
check ova_http_daemon_mount "$VMIFS" "$U/app.ova" "$T/dmnt"
check ova_http_daemon_mount_reads_match timeout 60 cmp "$T/dmnt/appliance/disk-0.img" "$T/a/sub/d1.img"
fusermount3 -u "$T/dmnt"

# Laziness: mount (tar headers, OVF, disk headers) and read the first MiB
# of a disk holding 1 GiB of data: less than 4 MiB on the wire.
mkdir -p "$T/big"
yes "vmimport lazy read test: bytes that must stay on the server" | head -c 1G > "$T/big/big.img"
make_ovf "$T/big/big.ovf" '{"name": "big", "cpus": 1, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "big.img", "capacity": [1, "byte * 2^30"], "format": "raw", "bus": "scsi"}], "nics": []}'
make_ova "$W/big.ova" "$T/big" ustar big.ovf big.img
rm -f "$T/big/big.img"
nginx_log_clear
check ova_http_lazy_head_read_matches bash -c "'$OT' head '$U/big.ova' 1048576 '$T/big.head' && cmp '$T/big.head' <(yes 'vmimport lazy read test: bytes that must stay on the server' | head -c 1048576)"
sent=$(nginx_bytes_sent)
check ova_http_mount_and_read_1MiB_sends_under_4MiB test "$sent" -lt $((4<<20))
echo "     (open + 1 MiB read of a 1 GiB disk: $sent bytes sent, $(wc -l < "$NGINX_LOG") requests)"
rm -f "$W/big.ova"

# ---- HTTPS with a CA made here, and basic auth ----
nginx_stop
nginx_make_ca "$T/ca"
printf 'S3cr3t-pw-%s\n' "$RANDOM$RANDOM" > "$T/pw"
PW=$(cat "$T/pw")
nginx_htpasswd "$T/htpasswd" importer "$T/pw"
nginx_start "$W" --tls "$T/ca/server.crt" "$T/ca/server.key" --auth "$T/htpasswd"
S=$NGINX_URL
export VMI_USER=importer
check ova_https_auth_with_ca_cat_matches bash -c "VMI_CA='$T/ca/ca.crt' VMIMPORT_PASSWORD='$PW' '$LT' cat '$S/app.ova' '$T/s.0' && cmp '$T/s.0' '$T/a/sub/d1.img'"
check_fails ova_https_unknown_ca_is_a_certificate_error 'certificate' env VMIMPORT_PASSWORD="$PW" "$LT" vmjson "$S/app.ova"
check_fails ova_https_wrong_password_is_authentication_failure 'authentication failed.*401' env VMI_CA="$T/ca/ca.crt" VMIMPORT_PASSWORD=wrong-password "$LT" vmjson "$S/app.ova"
check_fails ova_https_no_password_asks_for_one 'authentication required.*401' env VMI_CA="$T/ca/ca.crt" "$LT" vmjson "$S/app.ova"
check_fails ova_https_missing_file_404_named 'gone\.ova.*(404|no such file)' env VMI_CA="$T/ca/ca.crt" VMIMPORT_PASSWORD="$PW" "$LT" vmjson "$S/gone.ova"
check ova_https_insecure_skips_verification env VMI_INSECURE=1 VMIMPORT_PASSWORD="$PW" "$OT" head "$S/app.ova" 4096 "$T/ins.out"
unset VMI_USER

# An OvaSource and its Secret, as Harvester users write them.
ca_indented=$(sed 's/^/    /' "$T/ca/ca.crt")
cat > "$T/source.yaml" <<EOF
apiVersion: migration.harvesterhci.io/v1beta1
kind: OvaSource
metadata:
  name: example
  namespace: default
spec:
  url: "$S/app.ova"
  httpTimeoutSeconds: 300
  credentials:
    name: example-ova-credentials
    namespace: default
---
apiVersion: v1
kind: Secret
metadata:
  name: example-ova-credentials
  namespace: default
stringData:
  "username": "importer"
  "password": "$PW"
  "ca.crt": |
$ca_indented
EOF
check yaml_ovasource_parsed bash -c "'$OT' yaml '$T/source.yaml' | grep -qx 'timeout=300' && '$OT' yaml '$T/source.yaml' | grep -qx 'password=set' && '$OT' yaml '$T/source.yaml' | grep -qx 'ca=set'"
"$OT" yaml-vmjson "$T/source.yaml" > "$T/yaml.json" 2>"$T/yaml.err"
check_vmjson yaml_ovasource_https_auth_vmjson "$T/yaml.json" 'j["name"]=="appliance" and len(j["disks"])==2'
check yaml_ovasource_https_auth_disk_matches bash -c "VMI_DISK=1 '$OT' yaml-cat '$T/source.yaml' '$T/y.1' && cmp '$T/y.1' '$T/a/sub/d2.img'"
# The same Secret with base64 data: instead of stringData:.
python3 - "$T/source.yaml" "$T/source64.yaml" <<'PY'
import base64, sys
src = open(sys.argv[1]).read()
head, secret = src.split("stringData:\n", 1)
pw = [l for l in secret.splitlines() if l.strip().startswith('"password"')][0].split('"')[3]
ca = secret.split('"ca.crt": |\n', 1)[1]
ca = "".join(l[4:] + "\n" for l in ca.splitlines())
b = lambda s: base64.b64encode(s.encode()).decode()
open(sys.argv[2], "w").write(head + "data:\n  username: %s\n  password: %s\n  ca.crt: %s\n"
                             % (b("importer"), b(pw), b(ca)))
PY
check yaml_secret_base64_data_works bash -c "'$OT' yaml-cat '$T/source64.yaml' '$T/y64.0' && cmp '$T/y64.0' '$T/a/sub/d1.img'"
sed "s/$PW/not-the-password/" "$T/source.yaml" > "$T/wrongpw.yaml"
check_fails yaml_wrong_password_is_authentication_failure 'authentication failed.*401' "$OT" yaml-vmjson "$T/wrongpw.yaml"

# ---- secrets stay secret ----
# A slow read in the background: its command line must not hold the
# password, nor anything it prints, nor the error messages above.
nginx_stop
nginx_start "$W" --tls "$T/ca/server.crt" "$T/ca/server.key" --auth "$T/htpasswd" --limit-rate 1m
sed -i "s#127.0.0.1:[0-9]*#127.0.0.1:$NGINX_PORT#" "$T/source.yaml"
"$OT" yaml-cat "$T/source.yaml" "$T/slow.out" >"$T/slow.log" 2>&1 &
pid=$!
sleep 1
cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' ' ' > "$T/cmdline"
check secret_not_in_cmdline bash -c "[ -s '$T/cmdline' ] && ! grep -qF -- '$PW' '$T/cmdline'"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
VMI_CA="$T/ca/ca.crt" VMIMPORT_PASSWORD="$PW" VMI_USER=importer "$LT" vmjson "$NGINX_URL/nothere.ova" >> "$T/slow.log" 2>&1
check secret_not_in_any_output bash -c "! grep -rqF -- '$PW' '$T/slow.log' '$T/yaml.err' '$T/check.out' '$T/yaml.json'"
check secret_not_in_server_log_urls bash -c "! grep -qF -- '$PW' '$NGINX_LOG'"
finish
