#!/usr/bin/env bash
# vmimport copy never writes a file the source reads: a QCOW2 backing
# file, a VMDK descriptor's FLAT extent, an OVF's disk, the file behind a
# loop device (either way round) are refused whatever --force says, and
# left unchanged.  Source files carry qemu's read locks during a copy and
# a mount, so qemu-io cannot write them, and a copy onto a file a mount
# reads is refused.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"

# expect NAME CODE REGEX CMD...: exit code and message.
expect () {
  local name=$1 want=$2 regex=$3 rc; shift 3
  rc=$(run_rc "$@")
  check "$name" bash -c "
    [ $rc -eq $want ] || { echo 'exit $rc, expected $want'; cat '$T/err'; exit 1; }
    grep -Eq -- '$regex' '$T/err' || { echo 'message does not match /$regex/:'; cat '$T/err'; exit 1; }"
}
# unchanged NAME FILE SUM: FILE still hashes to SUM.
unchanged () { check "$1" bash -c "[ \"\$(sha256sum < '$2')\" = '$3' ]"; }

# A QCOW2 over a raw backing file of the same size, data in both.
head -c 32M /dev/urandom > "$T/base.raw"
truncate -s 64M "$T/base.raw"
qemu-img create -q -f qcow2 -b "$T/base.raw" -F raw "$T/top.qcow2"
qemu-io -c 'write -P 0x22 4M 8M' "$T/top.qcow2" >/dev/null
sum_base=$(sha256sum < "$T/base.raw")
expect backing_file_refused_with_force 2 'the source reads it' \
  "$VMI" copy --quiet --force --verify "$T/top.qcow2" "$T/base.raw"
unchanged backing_file_unchanged "$T/base.raw" "$sum_base"

# A VMDK descriptor over two FLAT extents; DST is the second.
head -c 8M /dev/urandom > "$T/e1.bin"
head -c 8M /dev/urandom > "$T/e2.bin"
cat > "$T/two.vmdk" <<'D'
# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="monolithicFlat"

RW 16384 FLAT "e1.bin" 0
RW 16384 FLAT "e2.bin" 0

ddb.virtualHWVersion = "4"
ddb.geometry.cylinders = "16"
ddb.geometry.heads = "16"
ddb.geometry.sectors = "63"
ddb.adapterType = "ide"
D
sum_e2=$(sha256sum < "$T/e2.bin")
expect vmdk_extent_refused_with_force 2 'the source reads it.*e2.bin' \
  "$VMI" copy --quiet --force "$T/two.vmdk" "$T/e2.bin"
unchanged vmdk_extent_unchanged "$T/e2.bin" "$sum_e2"

# A loop device over the backing file, and a loop device as the source
# with the file behind it as DST.
make_loop "$T/base.raw"
expect loop_over_backing_file_refused 2 'the source reads it' \
  "$VMI" copy --quiet --force --target-is-zero "$T/top.qcow2" "$LOOP"
unchanged loop_over_backing_file_unchanged "$T/base.raw" "$sum_base"
expect file_behind_loop_source_refused 2 'the source reads it' \
  "$VMI" copy --quiet --force "$LOOP" "$T/base.raw"
unchanged file_behind_loop_source_unchanged "$T/base.raw" "$sum_base"

# An OVA and the copy of its own archive: refused even when named by
# another path (a hard link).
mkdir -p "$T/ova"
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$T/e1.bin" "$T/ova/disk1.vmdk"
cat > "$T/ova/vm.ovf" <<'O'
<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References><File ovf:href="disk1.vmdk" ovf:id="file1"/></References>
  <DiskSection><Info>disks</Info>
    <Disk ovf:capacity="8388608" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="vm"><Info>vm</Info>
    <VirtualHardwareSection><Info>hw</Info>
      <Item><rasd:ElementName>disk</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
O
tar -C "$T/ova" -cf "$T/vm.ova" vm.ovf disk1.vmdk
ln "$T/vm.ova" "$T/link.ova"
sum_ova=$(sha256sum < "$T/vm.ova")
expect ova_archive_refused_with_force 2 'the source reads it|same file' \
  "$VMI" copy --quiet --force "$T/vm.ova" "$T/link.ova"
unchanged ova_archive_unchanged "$T/vm.ova" "$sum_ova"
sum_disk1=$(sha256sum < "$T/ova/disk1.vmdk")
expect ovf_disk_refused_with_force 2 'the source reads it' \
  "$VMI" copy --quiet --force "$T/ova/vm.ovf" "$T/ova/disk1.vmdk"
unchanged ovf_disk_unchanged "$T/ova/disk1.vmdk" "$sum_disk1"

# A mount reads base.raw (through top.qcow2): qemu-io cannot write it, and
# a copy onto it from the mount (another process) is refused.
mount_fs "$T/top.qcow2" "$T/mnt"
check mounted_source_has_qemu_read_lock bash -c "
  ! qemu-io -c 'write 0 4k' -f raw '$T/base.raw' 2> '$T/qemu.err' &&
  grep -q 'write\" lock' '$T/qemu.err'"
expect file_read_by_a_mount_refused 3 'another program holds it' \
  "$VMI" copy --quiet --force "$T/mnt/top/disk-0.img" "$T/base.raw"
unchanged file_read_by_a_mount_unchanged "$T/base.raw" "$sum_base"
unmount_fs "$T/mnt"

# qemu's locks are shared ones: a DST that qemu-io holds open for writing
# (a running VM's disk) is refused too.
qemu-img create -q -f raw "$T/busy.raw" 64M
sum_busy=$(sha256sum < "$T/busy.raw")
mkfifo "$T/qemu-in"
qemu-io -f raw "$T/busy.raw" < "$T/qemu-in" > /dev/null 2>&1 &
qpid=$!
exec 7> "$T/qemu-in"
at_exit "exec 7>&-; kill $qpid"
sleep 0.5
expect file_written_by_qemu_refused 3 'another program holds it' \
  "$VMI" copy --quiet --force "$T/top.qcow2" "$T/busy.raw"
unchanged file_written_by_qemu_unchanged "$T/busy.raw" "$sum_busy"
exec 7>&-
wait $qpid 2>/dev/null

# An honest copy still works (and leaves no lock behind).
check backing_chain_copy_matches bash -c "
  '$VMI' copy --quiet '$T/top.qcow2' '$T/out.raw' &&
  qemu-img convert -f qcow2 -O raw '$T/top.qcow2' '$T/ref.raw' && cmp '$T/ref.raw' '$T/out.raw'"
finish
