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
nginx_log_clear
"$VMI" import -f "$T/import.yaml" --mode pvc --out "$T/out-pvc" \
  --target "disk-0=$root_loop" --target "disk-1=$data_loop" > "$T/pvc.log" 2> "$T/pvc.err"
rc=$?
cat "$T/pvc.err" >&2
check pvc_import_exits_0 test $rc -eq 0
# The source is opened once for every step (preflight, copies, manifest):
# one read of its first 64 KiB (its size, the first tar headers, where the
# OVF is looked for) and no HEAD.  Before, each step opened it again: 5
# HEADs and 5 reads from 0.
grep -c '^"HEAD ' "$NGINX_LOG" > "$T/heads"
grep -c '"bytes=0-' "$NGINX_LOG" > "$T/starts"
check pvc_import_opens_the_ova_once bash -c "echo \"HEAD: \$(cat '$T/heads'), reads from 0: \$(cat '$T/starts')\"; [ \$(cat '$T/heads') = 0 ] && [ \$(cat '$T/starts') = 1 ]"
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

# ---- manifest --job: a Job per VM copies the disks into the PVCs, the
# source's Secret mounted as files (nginx asks for basic auth now)
printf 'importer\n' > "$T/user"; printf 'Job-s3cret-%s\n' "$RANDOM" > "$T/pw"
nginx_htpasswd "$T/htpasswd" importer "$T/pw"
nginx_stop
nginx_start "$T/www" --auth "$T/htpasswd"
sed -e 's/^  name: appliance$/  name: appliance/' "$T/import.yaml" > "$T/job.yaml"
cat >> "$T/job.yaml" <<YAML
  credentials:
    name: app-credentials
---
apiVersion: v1
kind: Secret
metadata:
  name: app-credentials
stringData:
  username: importer
  password: $(cat "$T/pw")
YAML
check job_manifest_written bash -c "'$VMI' manifest -f '$T/job.yaml' --job --job-image registry.example/vmimport:test > '$T/job-out.yaml'"
check job_manifest_validates validate "$T/job-out.yaml"
check job_mounts_exactly_the_vms_pvcs "$PY" -c "
import yaml
docs = [d for d in yaml.safe_load_all(open('$T/job-out.yaml')) if d]
pvcs = [d['metadata']['name'] for d in docs if d['kind'] == 'PersistentVolumeClaim']
job = [d for d in docs if d['kind'] == 'Job'][0]
spec = job['spec']['template']['spec']
claims = [v['persistentVolumeClaim']['claimName'] for v in spec['volumes'] if 'persistentVolumeClaim' in v]
assert claims == pvcs and len(pvcs) == 2, (claims, pvcs)
cs = spec['containers']
assert [c['volumeDevices'][0]['name'] for c in cs] == ['disk-0', 'disk-1'], cs
assert [v['secret']['secretName'] for v in spec['volumes'] if 'secret' in v] == ['app-credentials']
assert all(c['securityContext']['runAsNonRoot'] and c['securityContext']['capabilities'] == {'drop': ['ALL']} for c in cs)
vm = [d for d in docs if d['kind'] == 'VirtualMachine'][0]
assert vm['spec']['runStrategy'] == 'Halted', vm['spec']['runStrategy']"
check job_carries_no_secret bash -c "! grep -q -- \"\$(cat '$T/pw')\" '$T/job-out.yaml' && $PY -c '
import yaml
job = [d for d in yaml.safe_load_all(open(\"$T/job-out.yaml\")) if d and d[\"kind\"] == \"Job\"][0]
assert all(\"env\" not in c and \"envFrom\" not in c for c in job[\"spec\"][\"template\"][\"spec\"][\"containers\"])'"
sed 's/ttlSecondsAfterFinished:/ttlSecondAfterFinished:/' "$T/job-out.yaml" > "$T/job-typo.yaml"
check_fails job_field_typo_fails_validation "ttlSecondAfterFinished' was unexpected" validate "$T/job-typo.yaml"
# The Job's commands run by hand: its devices are loop devices, its Secret
# a folder of files, as the kubelet would lay them out.
mkdir -p "$T/creds"; cp "$T/user" "$T/creds/username"; cp "$T/pw" "$T/creds/password"
for d in root data; do   # new PVCs read as zeros (the Job says --target-is-zero)
  truncate -s "$(stat -c %s "$T/$d.ref")" "$T/job-$d.dev"
  make_loop "$T/job-$d.dev"; eval "job_${d}_loop=$LOOP"
done
"$PY" - "$T/job-out.yaml" "$T/creds" "$job_root_loop" "$job_data_loop" > "$T/job-cmds" <<'PY'
import shlex, sys, yaml
job = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Job"][0]
for c in job["spec"]["template"]["spec"]["containers"]:
    dev = c["volumeDevices"][0]["devicePath"]
    loop = sys.argv[3] if dev.endswith("disk-0") else sys.argv[4]
    argv = [a.replace(dev, loop).replace("/var/run/vmimport/credentials", sys.argv[2])
            for a in c["command"] + c["args"]]
    print(" ".join(shlex.quote(a) for a in argv))
PY
check job_commands_by_hand_copy_identical_bytes bash -c "
  while read -r line; do eval \"'$B/tools/'\$line\" > /dev/null || exit 1; done < '$T/job-cmds'
  cmp -n $(stat -c %s "$T/root.ref") '$T/root.ref' '$job_root_loop' &&
  cmp -n $(stat -c %s "$T/data.ref") '$T/data.ref' '$job_data_loop'"
check job_commands_need_the_credentials bash -c "
  head -n 1 '$T/job-cmds' | sed 's|--credentials-dir [^ ]*||' > '$T/nocreds'
  ! eval \"'$B/tools/'\$(cat '$T/nocreds')\" > /dev/null 2>&1"
nginx_stop
nginx_start "$T/www"

# ---- import --job: the Job copies in the cluster; the VM starts after it
# (kubectl stand-in: argument passing only; no API server here)
cat > "$T/bin/kubectl" <<'SH'
#!/bin/sh
echo "$*" >> "$KUBECTL_LOG"
case "$*" in *"job/"*) exit "${JOB_FAILS:-0}";; esac
exit 0
SH
: > "$T/kj.log"
check import_job_kubectl_stand_in_argument_passing_only bash -c "
  PATH='$T/bin':\$PATH KUBECTL_LOG='$T/kj.log' '$VMI' import -f '$T/job.yaml' --job --apply \
    --job-image registry.example/vmimport:test --out '$T/out-pvc' > '$T/kj.out' &&
  sed -n 1p '$T/kj.log' | grep -qx 'apply -f $T/out-pvc/app.yaml' &&
  sed -n 2p '$T/kj.log' | grep -qx 'wait --for=condition=complete -n default job/app-server-copy-[0-9a-f]* --timeout=600s' &&
  sed -n 3p '$T/kj.log' | grep -q '^patch virtualmachine app-server-[0-9a-f]* -n default --type merge -p {\"spec\":{\"runStrategy\":\"RerunOnFailure\"}}\$' &&
  sed -n 4p '$T/kj.log' | grep -q '^wait --for=condition=Ready -n default virtualmachineinstance/app-server-' &&
  grep -q 'kind: Job' '$T/out-pvc/app.yaml' && grep -q 'image: registry.example/vmimport:test' '$T/out-pvc/app.yaml'"
statuses "$T/kj.out" > "$T/kj.steps"
cat > "$T/kj.expect" <<STEPS
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
virtualMachineRunning
STEPS
check import_job_every_status_step_in_order diff "$T/kj.expect" "$T/kj.steps"
: > "$T/kj.log"
JOB_FAILS=1 PATH="$T/bin:$PATH" KUBECTL_LOG="$T/kj.log" "$VMI" import -f "$T/job.yaml" --job --apply \
  --out "$T/out-pvc" > "$T/kjf.out"
rc=$?
check import_job_failed_exits_1_without_starting_the_vm bash -c "[ $rc = 1 ] && ! grep -q '^patch' '$T/kj.log' &&
  tail -n 2 '$T/kjf.out' | head -n 1 | grep -q diskImageFailed && tail -n 1 '$T/kjf.out' | grep -q '\"status\":\"VMMigrationFailed\",\"reason\":\"Job app-server-copy'"
check_fails import_job_needs_apply 'needs --apply' "$VMI" import -f "$T/job.yaml" --job

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
# A disk cut short in the archive fails in the middle of its copy: the
# reason is what failed, not a hint at a --resume that import does not have.
mkdir -p "$T/cut"
cp "$T/a/root.vmdk" "$T/cut/"
head -c $(( $(stat -c %s "$T/a/data.qcow2") - 512 * 1024 )) "$T/a/data.qcow2" > "$T/cut/data.qcow2"
cp "$T/a/app.ovf" "$T/cut/app.ovf"
make_ova "$T/www/cut.ova" "$T/cut" ustar app.ovf root.vmdk data.qcow2
sed "s|url: .*|url: $NGINX_URL/cut.ova|" "$T/import.yaml" > "$T/cut.yaml"
fails_with disk_cut_short VMMigrationFailed 'disk could not be copied' -f "$T/cut.yaml" --mode pvc --out "$T/out-cut" \
  --target "disk-0=$T/cut-0.raw" --target "disk-1=$T/cut-1.raw"
check disk_cut_short_reason_is_the_failure_not_a_resume_hint bash -c "
  grep 'VirtualMachineImageFailed' '$T/disk_cut_short.log' | tee /dev/stderr | grep 'disk-1' | grep -v -- '--resume' | grep -q 'qcow2'"
check_fails pvc_mode_needs_a_target_per_disk 'give --target disk-1=PATH' "$VMI" import -f "$T/import.yaml" --target "disk-0=$T/x.raw"
check_fails bad_target_is_a_usage_error 'expected disk-N=PATH' "$VMI" import -f "$T/import.yaml" --target "root=$T/x.raw"
check no_target_file_written_on_usage_error test ! -e "$T/x.raw"
finish
