#!/usr/bin/env bash
# An imported Linux guest boots on virtio once virt-v2v converted it.
#
# The guest (tests/guest-lib.sh: Debian 12, an initramfs with ahci and
# sd_mod but no virtio drivers, fstab by /dev/sda1) is wrapped in an OVA on
# a SATA controller with an E1000 NIC, then:
#   1. copied out of the OVA; inspect --os names Debian 12, its kernel and
#      "virtio drivers: no";
#   2. booted with qemu (TCG) as the manifest says (sata): the marker unit
#      reports root on /dev/sda1 behind ahci -- the boot check passes;
#   3. the same copy on a virtio disk: the initramfs gives up waiting for
#      its root, and the marker never comes -- the same check fails;
#   4. imported again with import --convert (copy, virt-v2v-in-place,
#      manifest): its messages come through as JSON lines, the log and the
#      record are kept beside the disk; inspect --os then says "virtio
#      drivers: yes";
#   5. the manifest import wrote (the same as manifest --converted) says
#      virtio for the disk and the NIC; booted from it alone: root on
#      /dev/vda1 (virtio_blk), the NIC on virtio_net.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/ova-lib.sh"
. "$VMI_SRC/tests/boot-lib.sh"
. "$VMI_SRC/tests/guest-lib.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
BOOT_SECONDS=${BOOT_SECONDS:-300}
MAC=00:50:56:01:02:03
t0=$(date +%s)
elapsed () { echo "  [$(( $(date +%s) - t0 )) s] $*"; }

img=$(guest_image) || { echo "FAIL the test guest could not be built"; exit 1; }
elapsed "guest image $img"
size=$(stat -c %s "$img")

# The OVA, cached beside the image (a streamOptimized VMDK of it).
ova="${img%.raw}.ova"
if [ ! -s "$ova" ]; then
  mkdir -p "$T/ova"
  qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$img" "$T/ova/guest.vmdk"
  make_ovf "$T/ova/guest.ovf" "{\"name\": \"Debian Guest\", \"cpus\": 1, \"memory\": [512, \"byte * 2^20\"],
    \"firmware\": \"bios\", \"secure_boot\": false,
    \"disks\": [{\"href\": \"guest.vmdk\", \"capacity\": [$size, \"byte\"], \"format\": \"vmdk\", \"bus\": \"sata\"}],
    \"nics\": [{\"network\": \"VM Network\", \"model\": \"E1000\", \"mac\": \"$MAC\"}]}"
  make_ova "$T/guest.ova" "$T/ova" ustar guest.ovf guest.vmdk
  mv "$T/guest.ova" "$ova"
  rm -rf "$T/ova"
  elapsed "OVA built"
fi

# qemu's NICs from the VirtualMachine: model and MAC of each interface.
nic_args_from_vm () {
  "$PY" - "$1" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
vm = [d for d in docs if d.get("kind") == "VirtualMachine"][0]
dev = {"virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e",
       "rtl8139": "rtl8139"}
for i, n in enumerate(vm["spec"]["template"]["spec"]["domain"]["devices"].get("interfaces", [])):
    print("-netdev"); print("user,id=n%d,restrict=on" % i)
    d = "%s,netdev=n%d" % (dev[n["model"]], i)
    if "macAddress" in n:
        d += ",mac=" + n["macAddress"]
    print("-device"); print(d)
PY
}

# boot VM.yaml CLAIMS SERIAL: qemu until the marker unit is done, the
# initramfs gives up on its root, or BOOT_SECONDS.
boot () {
  local yaml=$1 claims=$2 serial=$3 pid i qargs
  mapfile -t qargs < <(qemu_args_from_vm "$yaml" "$claims" "$T/vars.fd"; nic_args_from_vm "$yaml")
  echo "qemu: ${qargs[*]}"
  : > "$serial"
  qemu-system-x86_64 -machine q35,accel=tcg -m 512 -smp 1 -nodefaults \
    -no-user-config -display none -no-reboot -serial "file:$serial" \
    "${qargs[@]}" 2> "$serial.qemu-err" &
  pid=$!
  at_exit "kill $pid"
  for ((i = 0; i < BOOT_SECONDS; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    if grep -aqE 'vmimport-guest: done|Gave up waiting|Dropping to a shell' "$serial"; then
      sleep 2; break
    fi
    sleep 1
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  grep -a 'vmimport-guest:\|Gave up\|ALERT' "$serial" | tr -d '\r' | sed 's/^/    console| /'
  return 0
}
# The marker check: the guest came up with its root on DEV behind DRIVER.
booted_on () {
  grep -aq '^vmimport-guest: up' "$1" && grep -aq "^vmimport-guest: root $2 $3" "$1"
}
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$T/vars.fd"

# 1. The copy, inspected before conversion.
"$VMI" manifest "$ova" > "$T/vm.yaml"
check manifest_validates "$PY" "$S/tests/k8s-validate.py" "$S/tests/schemas" "$T/vm.yaml"
check manifest_source_bus_sata grep -q 'bus: sata$' "$T/vm.yaml"
check manifest_source_nic_e1000 grep -q 'model: e1000$' "$T/vm.yaml"
claim=$("$PY" -c 'import sys,yaml; print([d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"]=="PersistentVolumeClaim"][0]["metadata"]["name"])' "$T/vm.yaml")
mkdir -p "$T/pvc" "$T/pvc2"
check copy_into_claim "$VMI" copy "$ova" "$T/pvc/$claim.raw" --quiet
check copy_equals_guest cmp "$T/pvc/$claim.raw" "$img"
elapsed "copied"
"$VMI" inspect --os "$T/pvc/$claim.raw" > "$T/os-before.txt" 2>&1
cat "$T/os-before.txt"
check inspect_names_debian_12 grep -qi 'os: linux debian 12\.' "$T/os-before.txt"
check inspect_names_kernel grep -qE 'kernel: 6\.[0-9.]+-[0-9]+-amd64 \(default\)' "$T/os-before.txt"
check inspect_virtio_no grep -q 'virtio drivers: no$' "$T/os-before.txt"
check inspect_conversion_supported grep -q 'conversion supported: yes' "$T/os-before.txt"
"$VMI" inspect --os --json "$T/pvc/$claim.raw" > "$T/os-before.json" 2>/dev/null
check inspect_json "$PY" -c 'import json,sys; o=json.load(open(sys.argv[1]))[0]; assert o["distro"]=="debian" and o["major_version"]==12 and o["virtio_drivers"] is False and o["kernels"][0]["initramfs_virtio"] is False and o["kernels"][0]["virtio_modules"] is True, o' "$T/os-before.json"
elapsed "inspected"

# 2. Unconverted, as the manifest says (sata): it boots.
boot "$T/vm.yaml" "$T/pvc" "$T/serial-sata.log"
check unconverted_boots_on_sata booted_on "$T/serial-sata.log" /dev/sda1 'sd ahci'
elapsed "booted on sata"

# 3. Unconverted on virtio: no root, no marker (same check, must fail).
sed 's/bus: sata$/bus: virtio/' "$T/vm.yaml" > "$T/vm-virtio.yaml"
boot "$T/vm-virtio.yaml" "$T/pvc" "$T/serial-virtio.log"
check unconverted_virtio_no_marker sh -c "! grep -aq 'vmimport-guest: up' '$T/serial-virtio.log'"
check unconverted_virtio_no_root grep -aqE 'Gave up waiting|ALERT!' "$T/serial-virtio.log"
check the_check_fails_there sh -c "! { grep -aq '^vmimport-guest: up' '$T/serial-virtio.log' && grep -aq '^vmimport-guest: root /dev/vda1' '$T/serial-virtio.log'; }"
elapsed "unconverted on virtio: no root"

# 4. vmimport import --convert: copy, convert, manifest (copy --convert and
# convert alone are the same code; their failures are in convert-fail).
cat > "$T/import.yaml" <<'YAML'
apiVersion: migration.harvesterhci.io/v1beta1
kind: VirtualMachineImport
metadata:
  name: debian-guest
  namespace: default
spec:
  virtualMachineName: "Debian Guest"
YAML
dst="$T/pvc2/guest.raw"
mkdir -p "$T/out"
start=$(date +%s)
"$VMI" import -f "$T/import.yaml" "$ova" --mode pvc --out "$T/out" \
  --target "disk-0=$dst" --convert > "$T/convert.out" 2> "$T/convert.err"
rc=$?
echo "import --convert exited $rc after $(( $(date +%s) - start )) s"
sed 's/^/    | /' "$T/convert.out" "$T/convert.err" | grep -v '"progress"' | tail -n 40
check import_convert_exits_0 test "$rc" -eq 0
check messages_passed_through "$PY" -c '
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert any(l.get("convert") == "message" and l["message"].startswith("Converting ") for l in ls), ls
assert any(l.get("status") == "guestConverted" for l in ls), ls
assert any(l.get("status") == "virtualMachineCreated" for l in ls), ls' "$T/convert.out"
check virt_v2v_saw_virtio grep -q 'This guest has virtio drivers installed' "$T/convert.out"
check log_kept grep -q 'Converting' "$dst.vmimport-convert.log"
check log_says_accelerator grep -q 'libguestfs: direct backend' "$dst.vmimport-convert.log"
check domain_xml_kept grep -q 'bus="sata"' "$dst.vmimport-domain.xml"
check record_converted "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["status"]=="converted" and r["disks"][0]["bus"]=="virtio" and r["disks"][0]["source_bus"]=="sata" and r["nics"][0]["model"]=="virtio", r' "$dst.vmimport-convert.json"
check converted_disk_differs sh -c "! cmp -s '$dst' '$img'"
elapsed "converted"
"$VMI" inspect --os "$dst" > "$T/os-after.txt" 2>&1
cat "$T/os-after.txt"
check inspect_after_virtio_yes grep -q 'virtio drivers: yes$' "$T/os-after.txt"
elapsed "inspected after"

# 5. The manifest import wrote for the converted guest (manifest
# --converted), and the boot it describes.
cp "$(ls "$T"/out/*.yaml | head -n1)" "$T/vm2.yaml"
"$VMI" manifest "$ova" --converted "$dst.vmimport-convert.json" > "$T/vm3.yaml"
check manifest_converted_same_as_import cmp "$T/vm2.yaml" "$T/vm3.yaml"
claim2=$("$PY" -c 'import sys,yaml; print([d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"]=="PersistentVolumeClaim"][0]["metadata"]["name"])' "$T/vm2.yaml")
ln -s guest.raw "$T/pvc2/$claim2.raw"
check manifest2_validates "$PY" "$S/tests/k8s-validate.py" "$S/tests/schemas" "$T/vm2.yaml"
check manifest2_bus_virtio grep -q 'bus: virtio$' "$T/vm2.yaml"
check manifest2_no_sata sh -c "! grep -q 'bus: sata' '$T/vm2.yaml'"
check manifest2_nic_virtio grep -q 'model: virtio$' "$T/vm2.yaml"
check manifest2_keeps_mac "$PY" -c 'import sys,yaml; vm=[d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"]=="VirtualMachine"][0]; n=vm["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"][0]; assert n["macAddress"]==sys.argv[2] and n["model"]=="virtio", n' "$T/vm2.yaml" "$MAC"
boot "$T/vm2.yaml" "$T/pvc2" "$T/serial-converted.log"
check converted_boots_on_virtio_blk booted_on "$T/serial-converted.log" /dev/vda1 'virtio_blk virtio-pci'
check converted_nic_virtio_net grep -aq '^vmimport-guest: nic [a-z0-9]* virtio_net' "$T/serial-converted.log"
elapsed "converted guest booted on virtio"
if [ "$FAILS" -gt 0 ]; then
  for f in serial-sata serial-virtio serial-converted; do
    echo "--- $f"; tail -n 25 "$T/$f.log" 2>/dev/null | tr -d '\r'
  done
fi
finish
