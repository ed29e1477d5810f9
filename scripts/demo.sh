#!/usr/bin/env bash
# The main job on a generated sample: install what is needed, build, make a
# small VM (an ext4 disk as a streamOptimized VMDK and a QCOW2), mount it
# with vmimportfs, show vm.json, copy the raw disk out sparsely, and check
# the bytes against qemu-img's own conversion.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (apt-get, FUSE)" >&2; exit 1; }
bash scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null

S=build/sample
rm -rf "$S"; mkdir -p "$S/files/etc" "$S/vm" "$S/mnt"
echo "demo-vm" > "$S/files/etc/hostname"
seq 1 100000 > "$S/files/numbers.txt"
head -c 2000000 /dev/urandom > "$S/files/random.bin"
qemu-img create -q -f raw "$S/disk.raw" 256M
mkfs.ext4 -q -F -L demo -d "$S/files" "$S/disk.raw"
qemu-img convert -O vmdk -o subformat=streamOptimized "$S/disk.raw" "$S/vm/demo-vmdk.vmdk"
qemu-img convert -O qcow2 -c "$S/disk.raw" "$S/vm/demo-qcow2.qcow2"

echo "== vmimportfs $S/vm $S/mnt"
build/fs/vmimportfs "$S/vm" "$S/mnt"
trap 'fusermount3 -u "$S/mnt" 2>/dev/null || true' EXIT
ls -ls "$S/mnt"/*
echo "== $S/mnt/demo-vmdk/vm.json"
cat "$S/mnt/demo-vmdk/vm.json"
for vm in demo-vmdk demo-qcow2; do
  echo "== cp --sparse=always $S/mnt/$vm/disk-0.img $S/$vm.img"
  cp --sparse=always "$S/mnt/$vm/disk-0.img" "$S/$vm.img"
  qemu-img convert -O raw "$S"/vm/$vm.* "$S/$vm.ref"
  cmp "$S/$vm.img" "$S/$vm.ref" && echo "   identical to qemu-img convert -O raw; $(du -k "$S/$vm.img" | cut -f1) KiB allocated of $(stat -c %s "$S/$vm.img") bytes"
done
fusermount3 -u "$S/mnt"
trap - EXIT
echo "== done: unmounted"
