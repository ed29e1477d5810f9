#!/usr/bin/env bash
# seSparse through the VMware source: a VM whose disk backing names an
# seSparse delta (snap/vm-000001.vmdk, VMFS6's snapshot format) over a flat
# base, both in the vcsim peer's datastore (tests/vcsim), read in place over
# /folder: vmimport copy and the mount equal qemu-img convert -O raw of the
# same files, and the delta's CID check holds over HTTP too.
. "$VMI_SRC/tests/lib.sh"
. "$S/tests/vmware-lib.sh"

setup () {
  local cid
  VC_PW="$T/password"
  printf 'S3cret-of-the-peer\n' > "$VC_PW"
  build_vcsim || return 1
  qemu-img create -q -f vmdk -o subformat=monolithicFlat "$D/vm.vmdk" 24M
  qemu-io -f vmdk -c 'write -P 0x11 0 4M' -c 'write -P 0x12 12M 2M' "$D/vm.vmdk" >/dev/null
  cid=$(sed -n 's/^CID=//p' "$D/vm.vmdk")
  python3 "$S/tests/sesparse-gen.py" "$D" vm-000001 $((24 * 2048)) vm.vmdk "$cid" 5e5e0001 \
    data:0:100 zero:200:100 unmap:3000:50 data:3100:300 data:4096:10 >/dev/null || return 1
  qemu-img convert -O raw "$D/vm-000001.vmdk" "$D/se.ref"
  qemu-img convert -O raw "$D/vm.vmdk" "$D/base.ref"
  cmp -s "$D/se.ref" "$D/base.ref" && { echo "the delta changes nothing"; return 1; }
  cat > "$T/spec.json" <<JSON
{"user": "$VC_USER", "password": "$(cat "$VC_PW")", "vms": [
 {"name": "snap", "folder": "", "guest": "otherGuest64", "cpus": 1, "cores": 1,
  "memory_mb": 256, "firmware": "bios", "controllers": ["pvscsi"],
  "disks": [{"controller": 0, "datastore_path": "snap/vm-000001.vmdk",
             "files": ["$D/vm.vmdk", "$D/vm-flat.vmdk", "$D/vm-000001.vmdk",
                       "$D/vm-000001-sesparse.vmdk"], "capacity_kb": 24576}],
  "nics": []}]}
JSON
  VC_DIR="$T/vc"
  start_vcsim "$T/spec.json" "$VC_DIR" || return 1
  VC_URL=$(json_get "$VC_DIR/state.json" url)
  VC_CA="$VC_DIR/ca.pem"
  VC_HOST=${VC_URL#https://}; VC_HOST=${VC_HOST%/sdk}
  VC_SRC="vmware://admin%40vsphere.local@$VC_HOST/DC0"
  VC_OPTS=(--ca-cert "$VC_CA" --password-file "$VC_PW")
}
check "vcsim builds, seSparse delta over a flat base in its datastore" setup
if [ "$FAILS" -ne 0 ]; then
  cat "$T/vc/log" 2>/dev/null
  finish
fi

copy_cmp () {
  rm -f "$T/copy.raw"
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm "$(vc_moref snap 0)" --disk 0 "$T/copy.raw" \
    && cmp "$D/se.ref" "$T/copy.raw"
}
check sesparse_over_flat_through_vmware_copy_matches_qemu copy_cmp
mount_cmp () {
  mount_fs "$VC_SRC" "$T/mnt" "${VC_OPTS[@]}" && cmp "$T/mnt/snap/disk-0.img" "$D/se.ref"
}
check sesparse_over_flat_through_vmware_mount_matches_qemu mount_cmp
unmount_fs "$T/mnt" >/dev/null 2>&1
# The base written after the snapshot: its CID moves on, the read is refused.
qemu-io -f vmdk -c 'write -P 0x66 0 4k' "$D/vm.vmdk" >/dev/null
check_fails sesparse_changed_base_through_vmware_is_refused "parentCID 0*[0-9a-f]+ does not match CID" \
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm "$(vc_moref snap 0)" --disk 0 "$T/copy2.raw"
finish
