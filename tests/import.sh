#!/usr/bin/env bash
# vmimport import: the whole import of a VM from an OVA served by nginx,
# in both modes.  Every status step is printed in order, with the add-on's
# names; the manifest validates against KubeVirt's and Harvester's schemas;
# in pvc mode loop devices standing in for PVCs equal qemu-img's
# conversion, in image mode the served URLs of the manifest do, and the
# import ends once each disk was downloaded.  A missing VM, a bad mapping
# and an unreachable source end failed, with the reason, exit status 1.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"
. "$VMI_SRC/tests/ova-lib.sh"
. "$VMI_SRC/tests/nginx.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3   # Debian's python3-jsonschema
SCHEMAS=${VMI_SCHEMAS:-$S/tests/schemas}

# Two disks: an ext4 filesystem (streamOptimized VMDK) and a sparse QCOW2
# with data in three places; the OVF says EFI, a SCSI and a SATA bus.
mkdir -p "$T/a" "$T/www"
make_ext4 "$T/root.raw" 40M
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$T/root.raw" "$T/a/root.vmdk"
qemu-img create -q -f qcow2 "$T/a/data.qcow2" 24M
qemu-io -f qcow2 -c "write -P 0x5a 1M 2M" -c "write -P 0x11 12M 1M" -c "write -P 0x33 23M 1M" \
  "$T/a/data.qcow2" >/dev/null
qemu-img convert -q -O raw "$T/a/root.vmdk" "$T/root.ref"
qemu-img convert -q -O raw "$T/a/data.qcow2" "$T/data.ref"
make_ovf "$T/a/app.ovf" '{"name": "App Server", "cpus": 2, "cores": 2,
  "memory": [1024, "byte * 2^20"], "firmware": "efi",
  "disks": [{"href": "root.vmdk", "capacity": [40, "byte * 2^20"], "format": "vmdk", "bus": "pvscsi"},
            {"href": "data.qcow2", "capacity": [24, "byte * 2^20"], "format": "qcow2", "bus": "sata"}],
  "nics": [{"network": "VM Network", "model": "VmxNet3", "mac": "00:50:56:aa:bb:cc"}]}'
make_ova "$T/www/app.ova" "$T/a" ustar app.ovf root.vmdk data.qcow2 || { echo "fixture: no OVA"; exit 1; }
nginx_start "$T/www"
cat > "$T/import.yaml" <<YAML
apiVersion: migration.harvesterhci.io/v1beta1
kind: VirtualMachineImport
metadata:
  name: app
  namespace: default
spec:
  virtualMachineName: "App Server"
  networkMapping:
  - sourceNetwork: "VM Network"
    destinationNetwork: "default/vlan1"
  storageClass: longhorn
  sourceCluster:
    name: appliance
    kind: OvaSource
    apiVersion: migration.harvesterhci.io/v1beta1
---
apiVersion: migration.harvesterhci.io/v1beta1
kind: OvaSource
metadata:
  name: appliance
spec:
  url: $NGINX_URL/app.ova
YAML

# statuses FILE: the status and condition names of the JSON lines, in order.
statuses () {
  "$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if "status" in j or "condition" in j:
        print(j.get("status") or j.get("condition"), j.get("disk", ""))' "$1" | sed 's/ $//'
}
validate () { "$PY" "$S/tests/k8s-validate.py" "$SCHEMAS" "$@"; }

# ---- pvc mode: the disks into loop devices standing in for the PVCs
for d in root data; do
  fill_ff "$T/$d.dev" "$(stat -c %s "$T/$d.ref")"
  make_loop "$T/$d.dev"; eval "${d}_loop=$LOOP"
done
mkdir -p "$T/out-pvc"
"$VMI" import -f "$T/import.yaml" --mode pvc --out "$T/out-pvc" \
  --target "disk-0=$root_loop" --target "disk-1=$data_loop" > "$T/pvc.log" 2> "$T/pvc.err"
rc=$?
cat "$T/pvc.err" >&2
check pvc_import_exits_0 test $rc -eq 0
statuses "$T/pvc.log" > "$T/pvc.steps"
cat > "$T/pvc.expect" <<STEPS
virtualMachineImportValid
sourceReady
disksExported
VMExported
diskImageSubmitted
VirtualMachineImageSubmitted disk-0.img
VirtualMachineImageReady disk-0.img
VirtualMachineImageSubmitted disk-1.img
VirtualMachineImageReady disk-1.img
diskImagesReady
virtualMachineCreated
STEPS
check pvc_every_status_step_in_order diff "$T/pvc.expect" "$T/pvc.steps"
check pvc_loop_devices_equal_qemu bash -c "cmp -n $(stat -c %s "$T/root.ref") '$T/root.ref' '$root_loop' && cmp -n $(stat -c %s "$T/data.ref") '$T/data.ref' '$data_loop'"
check pvc_manifest_written test -s "$T/out-pvc/app.yaml"
check pvc_manifest_validates validate "$T/out-pvc/app.yaml"
check pvc_manifest_names_the_claims_and_buses "$PY" -c "
import yaml
docs = [d for d in yaml.safe_load_all(open('$T/out-pvc/app.yaml')) if d]
pvcs = [d for d in docs if d['kind'] == 'PersistentVolumeClaim']
vm = [d for d in docs if d['kind'] == 'VirtualMachine'][0]
disks = vm['spec']['template']['spec']['domain']['devices']['disks']
assert len(pvcs) == 2 and all(p['spec']['storageClassName'] == 'longhorn' for p in pvcs), pvcs
assert [d['disk']['bus'] for d in disks] == ['scsi', 'sata'], disks"
check pvc_progress_kept_out_of_the_status_lines bash -c "! grep -v '^{' '$T/pvc.log'"
check pvc_progress_lines_per_disk_end_done "$PY" -c "
import json
last = {}
for l in open('$T/pvc.log'):
    j = json.loads(l)
    if 'progress' in j: last[j['disk']] = j['progress']
assert set(last) == {'disk-0.img', 'disk-1.img'}, last
assert all(p['status'] == 'done' and p['done'] == p['total'] for p in last.values()), last"

# ---- image mode: serve until Harvester (curl here) downloaded each disk
mkdir -p "$T/out-img"
"$VMI" import -f "$T/import.yaml" --mode image --listen 127.0.0.1:0 --out "$T/out-img" \
  > "$T/img.log" 2> "$T/img.err" &
IMPORT_PID=$!
at_exit "kill $IMPORT_PID"
for i in $(seq 1 150); do grep -q diskImageSubmitted "$T/img.log" 2>/dev/null && break; sleep 0.1; done
check image_manifest_validates validate "$T/out-img/app.yaml"
"$PY" -c "
import yaml
for d in yaml.safe_load_all(open('$T/out-img/app.yaml')):
    if d and d['kind'] == 'VirtualMachineImage': print(d['spec']['url'])" > "$T/urls"
check image_urls_one_per_disk test "$(wc -l < "$T/urls")" -eq 2
check image_import_waits_for_the_downloads kill -0 $IMPORT_PID
n=0
for ref in root data; do
  n=$((n + 1))
  u=$(sed -n "${n}p" "$T/urls")
  check "image_url_${ref}_equals_qemu" bash -c "curl -sf '$u' -o '$T/dl' && cmp '$T/dl' '$T/$ref.ref'"
done
for i in $(seq 1 100); do kill -0 $IMPORT_PID 2>/dev/null || break; sleep 0.1; done
kill -0 $IMPORT_PID 2>/dev/null && kill $IMPORT_PID   # never wait forever
wait $IMPORT_PID; rc=$?
cat "$T/img.err" >&2
check image_import_exits_0_after_the_downloads test $rc -eq 0
statuses "$T/img.log" > "$T/img.steps"
cat > "$T/img.expect" <<STEPS
virtualMachineImportValid
sourceReady
disksExported
VMExported
diskImageSubmitted
VirtualMachineImageSubmitted disk-0.img
VirtualMachineImageSubmitted disk-1.img
VirtualMachineImageReady disk-0.img
VirtualMachineImageReady disk-1.img
diskImagesReady
virtualMachineCreated
STEPS
check image_every_status_step_in_order diff "$T/img.expect" "$T/img.steps"

# ---- --apply with a kubectl stand-in: argument passing only (there is no
# Kubernetes API server on these machines).
mkdir -p "$T/bin"
cat > "$T/bin/kubectl" <<'SH'
#!/bin/sh
echo "$*" >> "$KUBECTL_LOG"
if [ "$1" = apply ]; then cp "$3" "$KUBECTL_LOG.applied"; fi
exit 0
SH
chmod +x "$T/bin/kubectl"
: > "$T/kubectl.log"
check apply_kubectl_stand_in_argument_passing_only bash -c "
  PATH='$T/bin':\$PATH KUBECTL_LOG='$T/kubectl.log' '$VMI' import -f '$T/import.yaml' \
    --out '$T/out-pvc' --target 'disk-0=$root_loop' --target 'disk-1=$data_loop' --apply > '$T/apply.log' &&
  grep -qx 'apply -f $T/out-pvc/app.yaml' '$T/kubectl.log' &&
  grep -qx 'wait --for=condition=Ready -n default virtualmachineinstance/app-server-[0-9a-f]* --timeout=600s' '$T/kubectl.log' &&
  cmp '$T/kubectl.log.applied' '$T/out-pvc/app.yaml' &&
  tail -n 1 '$T/apply.log' | grep -q '\"status\":\"virtualMachineRunning\"'"

# ---- failures: the failed state, its reason, exit status 1
fails_with () {  # NAME STATUS REGEX ARGS...
  local name=$1 status=$2 regex=$3; shift 3
  "$VMI" import "$@" > "$T/$name.log" 2> "$T/$name.err"
  local rc=$?
  check "${name}_exits_1" test $rc -eq 1
  check "${name}_ends_in_${status}_with_reason" bash -c "tail -n 1 '$T/$name.log' | $PY -c '
import json, re, sys
j = json.loads(sys.stdin.read())
assert j[\"status\"] == \"$status\", j
assert re.search(r\"\"\"$regex\"\"\", j[\"reason\"]), j'"
}
sed 's/virtualMachineName: "App Server"/virtualMachineName: "Nobody"/' "$T/import.yaml" > "$T/missing.yaml"
fails_with missing_vm virtualMachineImportInvalid 'Nobody' -f "$T/missing.yaml" --target disk-0=/dev/null
sed 's|destinationNetwork: "default/vlan1"|destinationNetwork: "vlan1"|' "$T/import.yaml" > "$T/badmap.yaml"
fails_with bad_mapping virtualMachineImportInvalid 'destinationNetwork' -f "$T/badmap.yaml" --target disk-0=/dev/null
sed "s|url: .*|url: http://127.0.0.1:$(free_port)/app.ova|" "$T/import.yaml" > "$T/unreachable.yaml"
fails_with unreachable_source VMMigrationFailed 'source: .*(onnect|refused)' -f "$T/unreachable.yaml" --retries 0
check unreachable_source_touched_no_target test ! -e "$T/out-pvc/never"
check_fails pvc_mode_needs_a_target_per_disk 'give --target disk-1=PATH' "$VMI" import -f "$T/import.yaml" --target "disk-0=$T/x.raw"
check_fails bad_target_is_a_usage_error 'expected disk-N=PATH' "$VMI" import -f "$T/import.yaml" --target "root=$T/x.raw"
check no_target_file_written_on_usage_error test ! -e "$T/x.raw"
finish
