#!/usr/bin/env bash
# A conversion that fails leaves the copied disk as it was.  The OVA holds
# a VM on a SATA controller whose disk is an ext4 filesystem of files and
# no operating system: virt-v2v-in-place's inspection finds none.  The copy
# with --convert must exit 4 naming the step, the copied bytes must be
# unchanged (SHA-256 before and after, and equal to the source), the record
# must say failed, and the manifest made with that record must keep the
# source's bus (sata) and NIC model.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/ova-lib.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

make_ext4 "$T/noos.raw" 64M
mkdir -p "$T/ova"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$T/noos.raw" "$T/ova/noos.vmdk"
make_ovf "$T/ova/noos.ovf" '{"name": "No OS", "cpus": 1, "memory": [256, "byte * 2^20"],
  "firmware": "bios",
  "disks": [{"href": "noos.vmdk", "capacity": [64, "byte * 2^20"], "format": "vmdk", "bus": "sata"}],
  "nics": [{"network": "VM Network", "model": "E1000", "mac": "00:50:56:0a:0b:0c"}]}'
make_ova "$T/noos.ova" "$T/ova" ustar noos.ovf noos.vmdk

dst="$T/pvc/noos.raw"
mkdir -p "$T/pvc"
check copy_ova_disk "$VMI" copy "$T/noos.ova" "$dst" --quiet
check copy_equals_source cmp "$dst" "$T/noos.raw"
before=$(sha256sum < "$dst")

start=$(date +%s)
"$VMI" convert "$T/noos.ova" "$dst" > "$T/convert.out" 2> "$T/convert.err"
rc=$?
echo "convert exited $rc after $(( $(date +%s) - start )) s"
cat "$T/convert.out" "$T/convert.err"
check convert_exits_4 test "$rc" -eq 4
check error_names_the_step grep -q "failed at step 'virt-v2v-in-place'" "$T/convert.err"
check error_says_why grep -qi "inspection" "$T/convert.err"
check error_says_disks_as_copied grep -q "the disks are as copied" "$T/convert.err"
check messages_prefixed grep -q '^virt-v2v: ' "$T/convert.out"
check bytes_unchanged test "$(sha256sum < "$dst")" = "$before"
check still_equals_source cmp "$dst" "$T/noos.raw"
check log_kept grep -q 'virt-v2v-in-place' "$dst.vmimport-convert.log"
check log_says_accelerator grep -q 'libguestfs: direct backend, TCG' "$dst.vmimport-convert.log"
check domain_xml_kept grep -q "<source file=\"$dst\"/>" "$dst.vmimport-domain.xml"
check domain_xml_source_bus grep -q 'bus="sata"' "$dst.vmimport-domain.xml"
scratch=$(sed -n 's/^vmimport convert: scratch folder //p' "$dst.vmimport-convert.log")
check scratch_named test -n "$scratch"
check scratch_removed test ! -e "${scratch:-/nonexistent}"
rec="$dst.vmimport-convert.json"
check record_says_failed "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["status"]=="failed" and r["step"]=="virt-v2v-in-place", r; assert r["disks"][0]["bus"]=="sata", r' "$rec"

"$VMI" manifest "$T/noos.ova" --converted "$rec" > "$T/vm.yaml" 2> "$T/manifest.err"
check manifest_written test -s "$T/vm.yaml"
check manifest_warns_failed grep -q "keep the source's bus" "$T/manifest.err"
check manifest_keeps_sata grep -q 'bus: sata$' "$T/vm.yaml"
check manifest_keeps_e1000 grep -q 'model: e1000$' "$T/vm.yaml"
check_fails manifest_other_vm_record "is for VM" \
  "$VMI" manifest "$T/noos.ova" --converted <(sed 's/"No OS"/"Other"/' "$rec")
# A record edited by hand: members of the wrong type are errors, not a
# crash (strcmp of a null "vm"; json-c aborts on a non-array's length).
check_fails manifest_record_vm_null "is for VM '\\?'" \
  "$VMI" manifest "$T/noos.ova" --converted <(echo '{"vm": null, "status": "converted", "disks": []}')
check_fails manifest_record_disks_not_a_list "the record has 0 disks" \
  "$VMI" manifest "$T/noos.ova" --converted <(echo '{"vm": "No OS", "status": "converted", "disks": {"bus": 1}}')

# copy --convert, progress as JSON lines: the same failure, exit 4, and
# the bytes of the new copy are the source's.
"$VMI" copy "$T/noos.ova" "$T/pvc/noos2.raw" --convert --progress=json \
  > "$T/copy-convert.out" 2> "$T/copy-convert.err"
rc=$?
check copy_convert_exits_4 test "$rc" -eq 4
check copy_convert_json_messages "$PY" -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert any(l.get("status") == "done" for l in lines), "no copy done line"
assert any(l.get("convert") == "message" and "Inspecting" in l["message"] for l in lines), lines
assert lines[-1] == {"status": "failed", "step": "virt-v2v-in-place"}, lines[-1]' "$T/copy-convert.out"
check copy_convert_step_named grep -q "failed at step 'virt-v2v-in-place'" "$T/copy-convert.err"
check copy_convert_bytes_as_copied cmp "$T/pvc/noos2.raw" "$T/noos.raw"

# import --convert: the import fails at the conversion, writes no
# manifest, and leaves the copied disk as copied.
cat > "$T/import.yaml" <<'YAML'
apiVersion: migration.harvesterhci.io/v1beta1
kind: VirtualMachineImport
metadata:
  name: noos
  namespace: default
spec:
  virtualMachineName: "No OS"
YAML
mkdir -p "$T/out"
"$VMI" import -f "$T/import.yaml" "$T/noos.ova" --mode pvc --out "$T/out" \
  --target "disk-0=$T/pvc/noos3.raw" --convert > "$T/import.out" 2> "$T/import.err"
rc=$?
tail -n 5 "$T/import.out"
check import_convert_fails test "$rc" -eq 1
check import_reports_conversion_failed grep -q '"guestConversionFailed"' "$T/import.out"
check import_reports_migration_failed grep -q '"VMMigrationFailed"' "$T/import.out"
check import_writes_no_manifest sh -c "! ls '$T/out' | grep -q ."
check import_disk_as_copied cmp "$T/pvc/noos3.raw" "$T/noos.raw"
check_fails import_convert_needs_pvc "needs --mode pvc" \
  "$VMI" import -f "$T/import.yaml" "$T/noos.ova" --mode image --convert

# inspect --os: an OVA is not read directly (mount it); the VM folder of
# the mount is, and holds no OS.
check_fails inspect_os_needs_mount "mount this source" \
  "$VMI" inspect --os "$T/noos.ova"
mount_fs "$T/noos.ova" "$T/mnt"
vmdir="$T/mnt/$(ls "$T/mnt" | head -n1)"
check_fails inspect_os_mount_folder_no_os "no operating system found on the 1 disk" \
  "$VMI" inspect --os "$vmdir"
unmount_fs "$T/mnt"

# Usage: a two-disk VM cannot be converted from one copied disk.
check_fails convert_needs_every_disk "has 1 disks; 2 DISKs given" \
  "$VMI" convert "$T/noos.ova" "$dst" "$dst"
finish
