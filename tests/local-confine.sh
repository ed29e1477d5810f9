#!/usr/bin/env bash
# Local images stay inside their folder: a VMDK extent or a QCOW2 backing
# file outside the image's folder tree (absolute, "..", a symlink) is
# refused with a message naming the path and --allow-outside-paths; with
# the flag (or the folder listed) the image reads exactly what qemu-img
# reads.  json: and protocol backing files are refused even with the flag.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/ova-lib.sh"

mkdir -p "$T/outside" "$T/img/sub" "$T/elsewhere"
head -c 1048576 /dev/urandom > "$T/outside/secret.raw"
head -c 1048576 /dev/urandom > "$T/img/sub/in.raw"
qemu-img create -q -f qcow2 "$T/outside/base.qcow2" 4M
qemu-io -f qcow2 -c 'write -P 0x5a 0 1m' -c 'write -P 0x33 3m 4096' "$T/outside/base.qcow2" >/dev/null

flat () {   # NAME EXTENT-PATH
  printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n# Extent description\nRW 2048 FLAT "%s" 0\n' "$2" > "$T/img/$1.vmdk"
}
flat inside "sub/in.raw"
flat abs "$T/outside/secret.raw"
flat dotdot "../outside/secret.raw"
ln -s ../outside/secret.raw "$T/img/link.raw"
flat link "link.raw"
flat shadow "/etc/shadow"
qemu-img create -q -f qcow2 -b "$T/outside/base.qcow2" -F qcow2 "$T/img/back-abs.qcow2"
qemu-img create -q -f qcow2 -b ../outside/base.qcow2 -F qcow2 "$T/img/back-rel.qcow2"
qemu-io -f qcow2 -c 'write -P 0x77 2m 65536' "$T/img/back-rel.qcow2" >/dev/null
qemu-img create -q -f qcow2 -u -F raw \
  -b 'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/passwd"}}' "$T/img/json.qcow2" 4M
flat jsonext 'json:{driver:file,filename:/etc/passwd}'
flat nbdext 'nbd:127.0.0.1:10809'
qemu-img create -q -f qcow2 -u -F raw -b 'nbd:127.0.0.1:10809' "$T/img/nbd.qcow2" 4M
qemu-img create -q -f qcow2 -u -F raw -b 'http://127.0.0.1:1/x.raw' "$T/img/http.qcow2" 4M

lt () { timeout 60 "$LT" "$@"; }
same_as_qemu () {   # IMAGE: layer-tool cat equals qemu-img convert -O raw
  qemu-img convert -O raw "$1" "$T/want.raw" && lt cat "$1" "$T/got.raw" \
    && cmp "$T/want.raw" "$T/got.raw"
}
outside='is outside the image.s folder .*refused \(--allow-outside-paths allows it'

check confine_extent_inside_folder_reads_back same_as_qemu "$T/img/inside.vmdk"
check_fails confine_absolute_extent_refused "abs\.vmdk: extent \"$T/outside/secret\.raw\" .*$outside" lt info "$T/img/abs.vmdk"
check_fails confine_dotdot_extent_refused "dotdot\.vmdk: extent \"\.\./outside/secret\.raw\" .*\($T/outside/secret\.raw\) $outside" lt info "$T/img/dotdot.vmdk"
check_fails confine_symlinked_extent_refused "link\.vmdk: extent \"link\.raw\" .*\($T/outside/secret\.raw\) $outside" lt info "$T/img/link.vmdk"
check_fails confine_etc_shadow_extent_refused "shadow\.vmdk: extent \"/etc/shadow\" .*$outside" lt info "$T/img/shadow.vmdk"
check_fails confine_absolute_backing_refused "back-abs\.qcow2: backing file \"$T/outside/base\.qcow2\": .*$outside" lt info "$T/img/back-abs.qcow2"
check_fails confine_dotdot_backing_refused "back-rel\.qcow2: backing file \"\.\./outside/base\.qcow2\": .*$outside" lt info "$T/img/back-rel.qcow2"
# Never any secret bytes in the output.
check confine_refusal_reads_nothing bash -c "! '$LT' cat '$T/img/abs.vmdk' '$T/leak' 2>/dev/null && [ ! -s '$T/leak' ]"

# With the flag: what qemu-img reads.
for img in abs.vmdk dotdot.vmdk link.vmdk back-abs.qcow2 back-rel.qcow2; do
  check "confine_allowed_${img%%.*}_${img##*.}_reads_as_qemu" \
    env VMI_ALLOW_OUTSIDE_PATHS= bash -c "$(declare -f lt same_as_qemu); T='$T' LT='$LT' same_as_qemu '$T/img/$img'"
done
check confine_listed_folder_allows env VMI_ALLOW_OUTSIDE_PATHS="$T/elsewhere:$T/outside" \
  bash -c "$(declare -f lt same_as_qemu); T='$T' LT='$LT' same_as_qemu '$T/img/back-rel.qcow2'"
check_fails confine_other_listed_folder_still_refuses "or list its folder there" \
  env VMI_ALLOW_OUTSIDE_PATHS="$T/elsewhere" "$LT" info "$T/img/dotdot.vmdk"

# A VMDK delta whose parentFileNameHint leaves the folder (issue 24's
# chains go through the same opener).
qemu-img create -q -f vmdk "$T/outside/parent.vmdk" 4M
qemu-io -f vmdk -c 'write -P 0x61 0 64k' "$T/outside/parent.vmdk" >/dev/null
qemu-img create -q -f vmdk -b ../outside/parent.vmdk -F vmdk "$T/img/delta.vmdk"
qemu-io -f vmdk -c 'write -P 0x62 1m 64k' "$T/img/delta.vmdk" >/dev/null
check_fails confine_vmdk_parent_outside_refused "delta\.vmdk: parent \"\.\./outside/parent\.vmdk\": .*$outside" lt info "$T/img/delta.vmdk"
check confine_vmdk_parent_with_flag_reads_as_qemu \
  env VMI_ALLOW_OUTSIDE_PATHS= bash -c "$(declare -f lt same_as_qemu); T='$T' LT='$LT' same_as_qemu '$T/img/delta.vmdk'"

# json: and protocols: refused, flag or not.
for img in json nbd http; do
  check_fails "confine_${img}_backing_refused_even_with_flag" \
    "$img\.qcow2: backing file .*(json: specification|names a protocol).*(refused even with --allow-outside-paths|not supported)" \
    env VMI_ALLOW_OUTSIDE_PATHS= "$LT" info "$T/img/$img.qcow2"
done
for img in jsonext nbdext; do
  check_fails "confine_${img}ent_refused_even_with_flag" \
    "$img\.vmdk: extent .*json: specification or names a protocol, not a file.*refused even with --allow-outside-paths" \
    env VMI_ALLOW_OUTSIDE_PATHS= "$LT" info "$T/img/$img.vmdk"
done

# An OVF beside its disks: a symlink out of its folder is refused too.
mkdir -p "$T/ovf"
ln -s ../outside/secret.raw "$T/ovf/disk1.img"
make_ovf "$T/ovf/app.ovf" '{"name": "app", "cpus": 1, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "disk1.img", "capacity": 1048576, "format": "raw"}], "nics": []}'
check_fails confine_ovf_symlinked_disk_refused "disk1\.img.*\($T/outside/secret\.raw\) $outside" "$LT" vmjson "$T/ovf/app.ovf"
check confine_ovf_symlinked_disk_with_flag bash -c "VMI_ALLOW_OUTSIDE_PATHS= '$LT' cat '$T/ovf/app.ovf' '$T/ovf.out' && cmp '$T/ovf.out' '$T/outside/secret.raw'"
mkdir -p "$T/ovfc"
ln -s ../outside/secret.raw "$T/ovfc/disk1.img.000000000"
sed 's|<File ovf:href="disk1.img" ovf:id="file1"/>|<File ovf:chunkSize="1048576" ovf:href="disk1.img" ovf:id="file1" ovf:size="1048576"/>|' "$T/ovf/app.ovf" > "$T/ovfc/app.ovf"
check_fails confine_ovf_symlinked_chunk_refused "disk1\.img\.000000000.*$outside" "$LT" cat "$T/ovfc/app.ovf" "$T/ovfc.out"

# The flag on both commands.
check_fails confine_vmimport_ls_refuses "abs\.vmdk.*--allow-outside-paths" "$VMI" ls "$T/img/abs.vmdk"
check confine_vmimport_ls_with_flag "$VMI" ls --allow-outside-paths "$T/img/abs.vmdk"
check confine_vmimport_copy_with_folder_listed bash -c "'$VMI' copy --quiet --allow-outside-paths='$T/outside' '$T/img/back-rel.qcow2' --vm back-rel --disk 0 '$T/copy.raw' && qemu-img convert -O raw '$T/img/back-rel.qcow2' '$T/want2.raw' && cmp '$T/copy.raw' '$T/want2.raw'"
check_fails confine_vmimportfs_refuses "dotdot\.vmdk.*--allow-outside-paths" "$VMIFS" -f "$T/img/dotdot.vmdk" "$T/mnt0"
mount_fs "$T/img/dotdot.vmdk" "$T/mnt" --allow-outside-paths
check confine_vmimportfs_with_flag_reads_as_qemu bash -c "qemu-img convert -O raw '$T/img/dotdot.vmdk' '$T/want3.raw' && cmp '$T/mnt/dotdot/disk-0.img' '$T/want3.raw'"
unmount_fs "$T/mnt"
finish
