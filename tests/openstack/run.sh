#!/usr/bin/env bash
# The OpenStack source against Debian's real OpenStack services (peer.sh):
# one peer for all the checks below.  STATE (databases, ports) is kept in
# $VMI_OS_STATE (default /var/tmp/vmimport-openstack) so re-runs only start
# the daemons.
#
# Limits of this peer, named here so nobody mistakes them for coverage:
#  - Neutron is a real neutron-server (ML2) without agents: ports are bound
#    by tests/openstack/vmi_ml2_driver.py and stay DOWN (no traffic);
#  - Nova's fake driver: the guest never runs; its assisted volume
#    snapshots and createImage upload are done by tests/openstack/
#    vmi_fake_driver.py the way libvirt would (qemu-img on the NFS files);
#  - Cinder's NFS driver on a local folder (no LVM: no device-mapper here).
. "$VMI_SRC/tests/lib.sh"
HERE="$S/tests/openstack"
export VMI_OS_STATE=${VMI_OS_STATE:-/var/tmp/vmimport-openstack}
ST=$VMI_OS_STATE
OSCTL=(/usr/bin/python3 "$HERE/osctl.py")

t0=$(date +%s)
at_exit "bash '$HERE/peer.sh' stop '$ST'"
if ! bash "$HERE/peer.sh" start "$ST" 2>"$T/peer.err"; then
  cat "$T/peer.err"
  echo "FAIL peer did not start"; exit 1
fi
echo "peer up in $(( $(date +%s) - t0 )) s"
# shellcheck disable=SC1091
. "$ST/env"
export VMIMPORT_PASSWORD=$DEMO_PW
SRC="openstack://demo@127.0.0.1:$KS_PORT/vmi?region=RegionOne&domain=Default&upload_retry_delay=1&upload_retry_count=300"
CA=(--ca-cert "$OS_CA")

# ---- fixtures: written by the test, with real tools ---------------------------
make_ext4 "$T/boot.img" 1G
python3 - "$T/data.img" <<'PY'
import os, sys
# 1 GiB, mostly holes: 8 MiB of random data at 3 places.
with open(sys.argv[1], 'wb') as f:
    f.truncate(1 << 30)
    for off in (0, 300 << 20, (1 << 30) - (8 << 20)):
        f.seek(off); f.write(os.urandom(8 << 20))
PY
make_ext4 "$T/root.img" 1G
qemu-img convert -q -f raw -O qcow2 "$T/root.img" "$T/image.qcow2"
python3 - "$T/big.img" <<'PY'
import os, sys
# 4 GiB holding 200 MiB of data in 25 pieces of 8 MiB.
with open(sys.argv[1], 'wb') as f:
    f.truncate(4 << 30)
    for i in range(25):
        f.seek(i * (160 << 20)); f.write(os.urandom(8 << 20))
PY
"${OSCTL[@]}" delete-fixtures >/dev/null 2>&1 || true
for f in boot data big; do ln -sf "$T/$f.img" "$T/$f.qcow2"; done
t1=$(date +%s)
if ! "${OSCTL[@]}" fixtures "$T" >"$T/fixtures.log" 2>&1; then
  tail -n 20 "$T/fixtures.log"; echo "FAIL fixtures"; exit 1
fi
echo "fixtures in $(( $(date +%s) - t1 )) s"
at_exit "'${OSCTL[0]}' '${OSCTL[1]}' delete-fixtures"
# shellcheck disable=SC1091
. "$T/ids.env"

echo "     [$(( $(date +%s) - t0 ))s] inventory (vm.json)"
# ---- inventory (vm.json) ----------------------------------------------------------
"$VMI" ls --json "${CA[@]}" "$SRC" >"$T/ls.json" 2>"$T/ls.err" || cat "$T/ls.err"
vmjson () {  # vmjson NAME PYTHON-EXPRESSION-ON-v
  python3 -c '
import json, sys
vms = [v for v in json.load(open(sys.argv[1])) if v["name"] == sys.argv[2]]
v = vms[0]
ok = eval(sys.argv[3])
print(json.dumps(v, indent=1)) if not ok else None
sys.exit(0 if ok else 1)' "$T/ls.json" "$1" "$2"
}
GIB=1073741824
check "vm.json: boot-from-volume server: flavor CPUs and RAM" \
  vmjson vm-vol 'v["cpus"] == 2 and v["memory_mib"] == 1536 and v["id"] == "'"$SRV_VOL"'"'
check "vm.json: volumes in boot order (boot volume, then data), sizes" \
  vmjson vm-vol '[d["source_name"] for d in v["disks"]] == ["fx-boot", "fx-data"] and all(d["capacity"] == '$GIB' for d in v["disks"])'
check "vm.json: firmware, secure boot, TPM and bus from the boot volume's image properties" \
  vmjson vm-vol 'v["firmware"] == "efi" and v["secure_boot"] is True and v["tpm"] is True and all(d["bus"] == "scsi" for d in v["disks"])'
check "vm.json: boot-from-image server: flavor, root disk, BIOS and sata from the image" \
  vmjson vm-img 'v["cpus"] == 3 and v["memory_mib"] == 2048 and v["firmware"] == "bios" and len(v["disks"]) == 1 and v["disks"][0]["capacity"] == '$GIB' and v["disks"][0]["bus"] == "sata"'
check "vm.json: power state from Nova" \
  vmjson vm-vol 'v["power_state"] == "on"'
"${OSCTL[@]}" ports "$SRV_VOL" >"$T/ports-vol.json"
"${OSCTL[@]}" ports "$SRV_IMG" >"$T/ports-img.json"
check "vm.json: NICs = the servers' Neutron ports (network, MAC), as osctl.py lists them" \
  vmjson vm-vol 'sorted([n["network"], n["mac"]] for n in v["nics"]) == json.load(open("'"$T/ports-vol.json"'")) and len(v["nics"]) == 2 and [n["model"] for n in v["nics"]] == ["e1000", "e1000"]'
check "vm.json: the boot-from-image server's one NIC (no model in its image)" \
  vmjson vm-img 'sorted([n["network"], n["mac"]] for n in v["nics"]) == json.load(open("'"$T/ports-img.json"'")) and len(v["nics"]) == 1 and v["nics"][0]["model"] is None'
check "vm.json: the flavor's ephemeral and swap disks are named in notes (not exportable)" \
  vmjson vm-img 'len(v["notes"]) == 2 and "1 GiB ephemeral disk" in v["notes"][0] and "512 MiB swap disk" in v["notes"][1] and v["disks"][0]["export"] == {"state": "none", "image": None}'

echo "     [$(( $(date +%s) - t0 ))s] pagination"
# ---- pagination: the peer gives 2 servers / volumes a page --------------------------
check "the peer gives servers and volumes in pages of 2 (max_limit, osapi_max_limit)" \
  "${OSCTL[@]}" paged
"${OSCTL[@]}" servers >"$T/servers.json"
check "ls lists every server the API has (counted by osctl.py over all pages), each with all its disks" \
  python3 -c '
import json, sys
api = {s["id"]: (s["name"], s["disks"]) for s in json.load(open(sys.argv[1]))}
ours = {v["id"]: (v["name"], len(v["disks"])) for v in json.load(open(sys.argv[2]))}
print(len(api), "servers in the API;", len(ours), "listed")
sys.exit(0 if api == ours and len(api) > 4 else 1)' "$T/servers.json" "$T/ls.json"

echo "     [$(( $(date +%s) - t0 ))s] manifests of the fixture servers, validated against the schemas"
# ---- manifests of the fixture servers, validated against the schemas -------------------
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3   # Debian's python3-jsonschema
for v in vm-vol vm-img vm-big; do
  "$VMI" manifest "${CA[@]}" "$SRC" --vm "$v" --network fx-net1=default/net1 \
    --network fx-net2=default/net2 >"$T/$v.yaml" 2>"$T/$v.manifest.err" \
    || cat "$T/$v.manifest.err"
done
check "manifests of vm-vol, vm-img, vm-big validate strictly" \
  "$PY" "$S/tests/k8s-validate.py" "$S/tests/schemas" "$T/vm-vol.yaml" "$T/vm-img.yaml" "$T/vm-big.yaml"
check "manifest of vm-vol: efi + secure boot, 2 CPUs, 1536Mi, two disks, two NICs with their MACs" "$PY" -c '
import json, sys, yaml
vm = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "VirtualMachine"][0]
dom = vm["spec"]["template"]["spec"]["domain"]
ifs = dom["devices"]["interfaces"]
ok = dom["firmware"]["bootloader"] == {"efi": {"secureBoot": True}} and dom["memory"]["guest"] == "1536Mi" and len(dom["devices"]["disks"]) == 2 \
     and sorted(i.get("macAddress") for i in ifs) == sorted(m for _, m in json.load(open(sys.argv[2]))) and len(ifs) == 2
print(dom) if not ok else None
sys.exit(0 if ok else 1)' "$T/vm-vol.yaml" "$T/ports-vol.json"
check "manifest of vm-img warns loudly: ephemeral and swap disks are not imported" \
  sh -c "grep -q 'WARNING: VM vm-img: .*ephemeral disk.*not imported' '$T/vm-img.manifest.err' && grep -q 'WARNING: VM vm-img: .*swap disk.*not imported' '$T/vm-img.manifest.err'"

echo "     [$(( $(date +%s) - t0 ))s] errors"
# ---- errors ---------------------------------------------------------------------
KSURL="openstack://demo@127.0.0.1:$KS_PORT"
check_fails "wrong password: Keystone's refusal, named" \
  'keystone: POST .*/auth/tokens: HTTP 401.*wrong user name, domain or password' \
  env VMIMPORT_PASSWORD=wrong "$VMI" ls "${CA[@]}" "$KSURL/vmi"
check_fails "wrong project: named, with Keystone's words" \
  'cannot be scoped to project "nosuch"' "$VMI" ls "${CA[@]}" "$KSURL/nosuch"
check_fails "wrong region: the regions there are" \
  'no public compute endpoint in region "Mars" \(it has: RegionOne\)' \
  "$VMI" ls "${CA[@]}" "$KSURL/vmi?region=Mars"
check_fails "unknown CA: TLS verified by default" \
  'certificate.*(--ca-cert|CA)' "$VMI" ls "$KSURL/vmi"
check_fails "password in the URL refused" 'holds a password' \
  "$VMI" ls "${CA[@]}" "openstack://demo:pw@127.0.0.1:$KS_PORT/vmi"
check_fails "secrets never in messages" '.' sh -c \
  "VMIMPORT_PASSWORD=wrong '$VMI' ls --ca-cert '$OS_CA' '$KSURL/vmi' 2>&1 | grep -F wrong; exit 1"

echo "     [$(( $(date +%s) - t0 ))s] duplicate names"
# ---- duplicate names --------------------------------------------------------------
check_fails "duplicate name: error lists both IDs" \
  "several VMs are named 'vm-dup'.*($SRV_DUP1.*$SRV_DUP2|$SRV_DUP2.*$SRV_DUP1)" \
  "$VMI" copy "${CA[@]}" --vm vm-dup "$SRC" "$T/dup.img"

echo "     [$(( $(date +%s) - t0 ))s] vmimport export"
# ---- vmimport export: start the exports of vm-vol without reading -------------------
tmp_count () { "${OSCTL[@]}" leftovers | grep -c . ; }
check "nothing of ours in the project before the exports" test "$(tmp_count)" = 0
snaps () { grep -c '"POST /v3/[^ ]*/snapshots HTTP' "$ST/log/cinder-api.log"; }
s0=$(snaps)
check "vmimport export --wait: both disks of vm-vol ready, each with its image" sh -c \
  "'$VMI' export ${CA[*]} --vm vm-vol --wait '$SRC' >'$T/export.out' && cat '$T/export.out' && test \$(grep -cE '^disk-[01]\.img	ready	[0-9a-f-]{36}\$' '$T/export.out') = 2"
eventually () {  # CMD...: true within a minute (Cinder deletes asynchronously)
  local i
  for i in $(seq 1 60); do
    "$@" >/dev/null 2>&1 && return 0
    [ "$i" = 30 ] && "${OSCTL[@]}" unstick   # a stuck object (see osctl.py)
    sleep 1
  done
  "$@"
}
check "export: 2 snapshots made" test $(( $(snaps) - s0 )) = 2
check "export: its snapshots and volumes are gone, the 2 images stay (active)" eventually sh -c \
  "'${OSCTL[0]}' '${OSCTL[1]}' leftovers >'$T/left'; cat '$T/left'; test \$(grep -c . '$T/left') = 2 && test \$(grep -c '^image .* active\$' '$T/left') = 2"
EXPORTED=$(awk '{print $3}' "$T/export.out" | sort | tr '\n' ' ')

echo "     [$(( $(date +%s) - t0 ))s] mount"
# ---- mount: lazy, then the bytes --------------------------------------------------
MNT="$T/mnt"
s1=$(snaps)
mount_fs "$SRC" "$MNT" "${CA[@]}"
VMIFS_PID=$(pgrep -n -f "^$VMIFS -f .*$MNT\$")   # ours: the one mount_fs started
check "mount shows every server, vm.json readable" \
  sh -c "ls '$MNT/vm-vol' '$MNT/vm-img' '$MNT/vm-big' && cat '$MNT/vm-vol/vm.json' >/dev/null"
check "mount and ls start no export (nothing of ours but the 2 exported images)" \
  test "$(tmp_count)" = 2
check "vm.json through the mount: vm-vol's disks ready with the exported images, vm-img's none" \
  python3 -c '
import json, sys
vol = json.load(open(sys.argv[1])); img = json.load(open(sys.argv[2]))
ids = " ".join(sorted(d["export"]["image"] for d in vol["disks"])) + " "
ok = [d["export"]["state"] for d in vol["disks"]] == ["ready", "ready"] and ids == sys.argv[3] \
     and img["disks"][0]["export"] == {"state": "none", "image": None}
print(vol["disks"], img["disks"]) if not ok else None
sys.exit(0 if ok else 1)' "$MNT/vm-vol/vm.json" "$MNT/vm-img/vm.json" "$EXPORTED"
raw_of () { qemu-img convert -q -O raw "$1" "$2"; }
raw_of "$T/boot.img" "$T/boot.raw"
# The token is revoked half way through disk-0 (Keystone: the demo user's
# password is set again, which revokes its tokens); vmimportfs is stopped
# meanwhile, and for longer than the services cache a validation (5 s), so
# its next read is refused (401) and it logs in again.
check "boot-from-volume disk-0: the first MiB (cmp)" cmp -n 1048576 "$MNT/vm-vol/disk-0.img" "$T/boot.raw"
kill -STOP "$VMIFS_PID"
"${OSCTL[@]}" revoke-demo
sleep 6.5
kill -CONT "$VMIFS_PID"
check "boot-from-volume disk-0 = the ext4 volume (cmp), read on after the token was revoked" \
  cmp "$MNT/vm-vol/disk-0.img" "$T/boot.raw"
check "vmimportfs was refused (401) and logged in to Keystone again" \
  grep -q 'token was refused (HTTP 401): logging in to Keystone again' "$T/vmimportfs.log"
check "data volume disk-1 = what the test wrote (cmp)" cmp "$MNT/vm-vol/disk-1.img" "$T/data.img"
raw_of "$T/image.qcow2" "$T/image.raw"
check "boot-from-image disk-0 (createImage) = the image (cmp)" cmp "$MNT/vm-img/disk-0.img" "$T/image.raw"
check "snapshots and temporary volumes are gone once the images are active" \
  sh -c "! '${OSCTL[0]}' '${OSCTL[1]}' leftovers | grep -E '^(snapshot|volume) '"
check "the mount read vm-vol from the exported images (no snapshot made: no second upload)" \
  test "$(snaps)" = "$s1"
check "unmount" unmount_fs "$MNT"
only_exported_left () {  # the mount's own image (vm-img) goes, the exported stay
  local i
  for i in $(seq 1 60); do
    [ "$("${OSCTL[@]}" leftovers | awk '{print $2}' | sort | tr '\n' ' ')" = "$EXPORTED" ] && return 0
    [ "$i" = 30 ] && "${OSCTL[@]}" unstick
    sleep 1
  done
  "${OSCTL[@]}" leftovers; return 1
}
check "after the unmount only the exported images are left" only_exported_left
check "vmimport cleanup removes the exported images" "$VMI" cleanup "${CA[@]}" "$SRC"
no_tmp_left () {  # deletions are asynchronous in Cinder: a minute at most
  local i
  for i in $(seq 1 60); do
    [ "$(tmp_count)" = 0 ] && return 0
    [ "$i" = 30 ] && "${OSCTL[@]}" unstick   # a stuck object (see osctl.py)
    sleep 1
  done
  "${OSCTL[@]}" leftovers; return 1
}
check "no temporary object left after the import ended" no_tmp_left

echo "     [$(( $(date +%s) - t0 ))s] Nova's server errors, tried again"
# ---- server errors (faultproxy.py in front of Nova, in region RegionFault):
# a GET answered 503 is sent again; a createImage answered 500 after Nova
# had Glance make the image (left queued) is sent again once that image
# is removed.
FP_PORT=$(free_port)
/usr/bin/python3 "$HERE/faultproxy.py" "$FP_PORT" "$NO_PORT" "$GL_PORT" "$T/faults.log" &
fp=$!
at_exit "kill $fp 2>/dev/null; '${OSCTL[0]}' '${OSCTL[1]}' fault-region >/dev/null 2>&1"
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$FP_PORT") 2>/dev/null && break; sleep 0.05; done
"${OSCTL[@]}" fault-region "$FP_PORT"
check "through a 503 and createImage's 500: copy of vm-img = the image (cmp)" sh -c \
  "'$VMI' copy -v ${CA[*]} --vm vm-img '${SRC/RegionOne/RegionFault}' '$T/fault.img' >/dev/null 2>'$T/fault.err' && cmp '$T/fault.img' '$T/image.raw'"
check "both faults were injected; the copy tried again and removed the queued image" sh -c \
  "cat '$T/faults.log'; grep -q '^503 GET' '$T/faults.log' && grep -q '^500 POST' '$T/faults.log' && grep -q 'HTTP 500.*trying again' '$T/fault.err' && grep -q 'removing /images/.*left by the call that failed' '$T/fault.err'"
kill $fp 2>/dev/null
"${OSCTL[@]}" fault-region
check "no temporary object left after the faults" no_tmp_left

echo "     [$(( $(date +%s) - t0 ))s] the ID selects one of the duplicates"
# ---- the ID selects one of the duplicates -------------------------------------------
# Nova's log: servers/detail without a query is a listing of the project.
unfiltered () { grep -c '"GET /v2.1/servers/detail HTTP' "$ST/log/nova-api.log"; }
n0=$(unfiltered)
ks_logins () { grep -c '\] POST /v3/auth/tokens ' "$ST/log/keystone.out"; }
k0=$(ks_logins)
# renew_before=3595: a token is renewed once it is 5 s old (tokens last
# 3600 s here), so the copy, which takes longer, renews it on its way.
check "duplicate: the ID works (copy of an empty volume is all zeros), renewing the token on the way" sh -c \
  "'$VMI' copy -v ${CA[*]} --vm '$SRV_DUP1' '$SRC&renew_before=3595' '$T/dup.img' >/dev/null 2>'$T/dup.err' && cmp -n $GIB '$T/dup.img' /dev/zero && test \$(stat -c %s '$T/dup.img') = $GIB"
check "the token was renewed before its end, and Keystone saw the new logins" sh -c \
  "r=\$(grep -c 'renewing the Keystone token' '$T/dup.err'); echo \"\$r renewals, \$(( \$(grep -c '\\] POST /v3/auth/tokens ' '$ST/log/keystone.out') - $k0 )) logins\"; test \$r -ge 1 && test \$(( \$(grep -c '\\] POST /v3/auth/tokens ' '$ST/log/keystone.out') - $k0 )) -gt \$r"
check "--vm vm.vol: Nova gets ^vm\\.vol\$ (regex characters escaped), so vm-vol does not match" sh -c \
  "! '$VMI' ls ${CA[*]} --vm vm.vol '$SRC' 2>/dev/null | grep -q vm-vol && grep -q '\"GET /v2.1/servers/detail?name=%5Evm%5C.vol%24 HTTP' '$ST/log/nova-api.log'"
check "copy --vm ID: GET /servers/ID, no listing of the project's servers" sh -c \
  "test \$(grep -c '\"GET /v2.1/servers/$SRV_DUP1 HTTP' '$ST/log/nova-api.log') -ge 1 && test $n0 = \$(grep -c '\"GET /v2.1/servers/detail HTTP' '$ST/log/nova-api.log')"

echo "     [$(( $(date +%s) - t0 ))s] laziness"
# ---- laziness: bytes Glance sent for a 4 GiB volume holding 200 MiB ----------------------
: >"$T/before"
glance_bytes () {  # sum of body lengths of GETs of /file in Glance's access log
  awk '/GET \/v2\/images\/[^ ]*\/file/ && / 20[06] / { for (i = 1; i < NF; i++) if ($i ~ /^20[06]$/) { s += $(i+1); break } } END { print s + 0 }' \
    "$ST/log/glance-api.log"
}
check "vmimport export without --wait: returns once Glance has the image (exporting or ready)" sh -c \
  "'$VMI' export ${CA[*]} --vm vm-big '$SRC' >'$T/export-big.out' && cat '$T/export-big.out' && grep -qE '^disk-0\.img	(exporting|ready)	[0-9a-f-]{36}\$' '$T/export-big.out'"
s2=$(snaps)
n1=$(unfiltered)
b0=$(glance_bytes)
check "copy of the 4 GiB volume = what the test wrote (cmp), read from the image the export started" sh -c \
  "'$VMI' copy -v ${CA[*]} --vm vm-big '$SRC' '$T/big.out' >/dev/null 2>'$T/big.err' && cmp '$T/big.out' '$T/big.img' && grep -q 'exported earlier' '$T/big.err'"
b1=$(glance_bytes)
check "copy --vm NAME: Nova's name filter, no listing of the project's servers, no new snapshot" sh -c \
  "grep -q '\"GET /v2.1/servers/detail?name=%5Evm-big%24 HTTP' '$ST/log/nova-api.log' && test $n1 = \$(grep -c '\"GET /v2.1/servers/detail HTTP' '$ST/log/nova-api.log') && test $s2 = \$(grep -c '\"POST /v3/[^ ]*/snapshots HTTP' '$ST/log/cinder-api.log')"
check "the copy removed the temporary volume and snapshot the export left" eventually sh -c \
  "! '${OSCTL[0]}' '${OSCTL[1]}' leftovers | grep -E '^(snapshot|volume) '"
check "vmimport cleanup removes the exported image of vm-big" "$VMI" cleanup "${CA[@]}" "$SRC"
check "nothing of ours left before the killed import" no_tmp_left
got=$(( b1 - b0 ))
echo "     laziness: vmimport read $((got >> 20)) MiB from Glance for a 4096 MiB volume holding 200 MiB"
# The reference controller downloads the whole uploaded image to scratch
# space, then converts it: the image is the volume as qcow2 (made here the
# way Cinder makes it), and the scratch file is the whole 4 GiB.
qemu-img convert -q -f raw -O qcow2 "$T/big.img" "$T/big-ref.qcow2"
echo "     the reference controller's way: download all $(( $(stat -c %s "$T/big-ref.qcow2") >> 20 )) MiB of the image to scratch space, then qemu-img convert it into a 4096 MiB raw file (two passes, scratch of image + disk)"
rm -f "$T/big-ref.qcow2"
check "laziness: well under 400 MiB from Glance, and the data itself" \
  test "$got" -gt $((200 << 20)) -a "$got" -lt $((400 << 20))

echo "     [$(( $(date +%s) - t0 ))s] an import killed half way, then vmimport cleanup"
# ---- an import killed half way, then vmimport cleanup -------------------------------------
"$VMI" copy "${CA[@]}" --vm vm-big "$SRC" "$T/killed.out" >/dev/null 2>&1 &
kpid=$!
for i in $(seq 1 240); do [ "$(tmp_count)" != 0 ] && break; sleep 0.5; done
kill -9 "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null
check "the killed import left temporary objects behind" test "$(tmp_count)" != 0
# Newer volumes and snapshots than ours: with 2 a page (newest first),
# cleanup finds ours only on a later page.
check "two volumes and two snapshots made after the kill (page 1 holds only them)" \
  "${OSCTL[@]}" pad
check "vmimport cleanup removes them" "$VMI" cleanup "${CA[@]}" "$SRC"
check "no snapshot, temporary volume or image of ours left" no_tmp_left

echo "     [$(( $(date +%s) - t0 ))s] power"
# ---- power: os-stop, then SHUTOFF within the deadline ------------------------------
check "poweroff by ID: os-stop, waits for SHUTOFF" \
  "$VMI" poweroff "${CA[@]}" --vm "$SRV_DUP2" "$SRC"
check "the server is SHUTOFF in vm.json" sh -c \
  "'$VMI' ls --json ${CA[*]} --vm '$SRV_DUP2' '$SRC' | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[0][\"power_state\"] != \"off\")'"

echo "     [$(( $(date +%s) - t0 ))s] OpenstackSource + Secret"
# ---- OpenstackSource + Secret -------------------------------------------------------
{
  printf 'apiVersion: migration.harvesterhci.io/v1beta1\nkind: OpenstackSource\n'
  printf 'metadata: {name: os}\nspec:\n  endpoint: https://127.0.0.1:%s/v3\n' "$KS_PORT"
  printf '  region: RegionOne\n  uploadImageRetryCount: 100\n  uploadImageRetryDelay: 1\n'
  printf '  credentials: {name: os-secret}\n---\napiVersion: v1\nkind: Secret\n'
  printf 'metadata: {name: os-secret}\nstringData:\n  username: demo\n'
  printf '  password: "%s"\n  project_name: vmi\n  domain_name: Default\n  ca_cert: |\n' "$DEMO_PW"
  sed 's/^/    /' "$OS_CA"
} >"$T/source.yaml"
check "OpenstackSource YAML (Secret with ca_cert) lists the servers" sh -c \
  "env -u VMIMPORT_PASSWORD '$VMI' ls --source-file '$T/source.yaml' | grep -q '^vm-img '"
check "OpenstackSource YAML with --vm: that server only" sh -c \
  "env -u VMIMPORT_PASSWORD '$VMI' ls --source-file '$T/source.yaml' --vm vm-img >'$T/yaml-vm.out' && grep -q '^vm-img ' '$T/yaml-vm.out' && test \$(grep -c . '$T/yaml-vm.out') = 1"

echo "openstack checks took $(( $(date +%s) - t0 )) s in all"
finish
