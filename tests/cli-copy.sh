#!/usr/bin/env bash
# vmimport copy: sparse, parallel copies into a file and into a loop device
# match the source byte for byte; holes stay holes on a file; unallocated
# ranges of a dirty device are zeroed (BLKZEROOUT); --verify prints the
# image's SHA-256.  Sources: raw here; QCOW2 / streamOptimized VMDK when the
# format layers are in the build.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"

# A raw disk: an ext4 filesystem with data in the first 100 MiB of 256 MiB,
# random bytes near the end, a zero-filled but allocated MiB in the middle.
R=$T/src.raw
make_ext4 "$R" 100M
truncate -s 256M "$R"
head -c 3000000 /dev/urandom | dd of="$R" bs=1M seek=250 conv=notrunc status=none
dd if=/dev/zero of="$R" bs=1M seek=180 count=1 conv=notrunc status=none
SIZE=$(stat -c %s "$R")

# copy_cases NAME SRC REF: file, dirty loop device, fresh loop device.
copy_cases () {
  local name=$1 src=$2 ref=$3 size
  size=$(stat -c %s "$ref")
  rm -f "$T/$name.out"
  check "${name}_copy_to_file_matches" bash -c "'$VMI' copy --quiet '$src' '$T/$name.out' && cmp '$ref' '$T/$name.out'"
  # Source allocation as du sees it on the raw image (qemu-img convert
  # writes zeros as holes).
  local src_alloc
  src_alloc=$(alloc_bytes "$ref")
  check "${name}_file_keeps_holes" bash -c "a=\$(( \$(stat -c %b '$T/$name.out') * \$(stat -c %B '$T/$name.out') )); echo \"dst \$a src $src_alloc\"; [ \$a -le $((src_alloc + 1048576)) ]"
  # A dirty device: unallocated ranges must be zeroed.
  fill_ff "$T/$name.dev" "$size"
  make_loop "$T/$name.dev"
  check "${name}_copy_to_dirty_loop_device_zeroes_holes" bash -c "'$VMI' copy --quiet '$src' '$LOOP' && cmp -n $size '$ref' '$LOOP'"
  # A fresh (all-zero) device: --target-is-zero skips the zeroing.
  rm -f "$T/$name.dev0"
  truncate -s "$size" "$T/$name.dev0"
  make_loop "$T/$name.dev0"
  check "${name}_copy_to_fresh_loop_device_target_is_zero" bash -c "'$VMI' copy --quiet --target-is-zero '$src' '$LOOP' && cmp -n $size '$ref' '$LOOP'"
}

copy_cases raw "$R" "$R"

# --target-is-zero on a dirty device leaves its 0xFF: the option is a
# promise the tool trusts (and this shows the zeroing above is real).
fill_ff "$T/lie.dev" "$SIZE"
make_loop "$T/lie.dev"
check target_is_zero_skips_zeroing bash -c "'$VMI' copy --quiet --target-is-zero '$R' '$LOOP' && ! cmp -s -n $SIZE '$R' '$LOOP'"

check verify_prints_sha256_of_the_raw_image bash -c "
  '$VMI' copy --quiet --verify '$R' '$T/v.out' > '$T/v.txt' &&
  [ \"\$(cut -d' ' -f1 '$T/v.txt')\" = \"\$(sha256sum < '$R' | cut -d' ' -f1)\" ]"
check verify_json_line_when_piped bash -c "
  '$VMI' copy --verify '$R' '$T/v2.out' | tail -n 1 | python3 -c '
import json,sys; j=json.load(sys.stdin); assert j[\"verified\"] is True and len(j[\"sha256\"]) == 64, j'"
for j in 1 3 16; do
  rm -f "$T/j.out"
  check "jobs_${j}_same_bytes" bash -c "'$VMI' copy --quiet --jobs $j '$R' '$T/j.out' && cmp '$R' '$T/j.out'"
done
# Only allocated extents are read: the final JSON line says how much.
rm -f "$T/r.out"
check copy_reads_only_allocated_bytes bash -c "
  '$VMI' copy '$R' '$T/r.out' | tail -n 1 | python3 -c '
import json,sys; j=json.load(sys.stdin); assert j[\"status\"] == \"done\"
assert j[\"read\"] <= $(alloc_bytes "$R"), j'"
# A file DST is flushed after the last write only with --fsync (as cp and
# qemu-img leave it); strace shows the order of calls.
head -c 3M /dev/urandom > "$T/small.img"
synced_after_last_write () {   # EXPECT (1 or 0) [copy options]
  local expect=$1; shift
  rm -f "$T/s.out"
  strace -f -qq -o "$T/strace.txt" -e trace=pwrite64,fdatasync,fsync \
    "$VMI" copy --quiet "$@" "$T/small.img" "$T/s.out" && cmp "$T/small.img" "$T/s.out" &&
    python3 -c '
import sys; lines = open(sys.argv[1]).read().splitlines()
last = max(i for i, l in enumerate(lines) if "pwrite64(" in l)
synced = any("sync(" in l for l in lines[last:])
print("synced after the last write:", synced)
sys.exit(0 if synced == (sys.argv[2] == "1") else 1)' "$T/strace.txt" "$expect"
}
check fsync_flushes_after_the_last_write synced_after_last_write 1 --fsync
check no_fsync_by_default_on_a_file synced_after_last_write 0
check no_fsync_with_buffered synced_after_last_write 0 --buffered

# Writes go around the page cache (O_DIRECT) unless --buffered; a piece that
# is not 4 KiB-aligned (this image ends 1000 bytes past a MiB) goes through
# the page cache.  strace tells which descriptor took how many bytes.  A new
# file is not truncated to 0 (ext4 would write it all back on close), and
# no write into the page cache is larger than 512 KiB.
head -c $((5 * 1048576 + 1000)) /dev/urandom > "$T/odd.img"
direct_bytes () {   # SRC REF EXPECT_DIRECT EXPECT_BUFFERED [copy options]
  local src=$1 ref=$2 want_d=$3 want_b=$4; shift 4
  rm -f "$T/o.out" "$T"/strace-d.*
  # -ff: a file per thread, so that no call is split across lines.
  strace -ff -qq -o "$T/strace-d" -e trace=openat,pwrite64,ftruncate \
    "$VMI" copy --quiet "$@" "$src" "$T/o.out" && cmp "$ref" "$T/o.out" &&
    python3 -c '
import glob, re, sys
direct, d, b, bmax = set(), 0, 0, 0
files = sorted(glob.glob(sys.argv[1] + ".*"), key=lambda f: int(f.rsplit(".", 1)[1]))
for l in (l for f in files for l in open(f)):
    m = re.search(r"openat\(.*O_DIRECT.*\) = (\d+)$", l)
    if m:
        direct.add(m.group(1))
    m = re.search(r"pwrite64\((\d+), .*\) = (\d+)$", l)
    if m:
        if m.group(1) in direct: d += int(m.group(2))
        else: b += int(m.group(2)); bmax = max(bmax, int(m.group(2)))
    if re.search(r"ftruncate\(\d+, 0\)", l):
        sys.exit("a new file was truncated to 0: " + l)
print("direct", d, "buffered", b, "largest buffered write", bmax)
# Larger writes into the page cache get large folios, which are slow to
# fault in on VMs that hand free memory back to the host (tools/target.c).
if bmax > 512 * 1024:
    sys.exit("a write into the page cache larger than 512 KiB")
if sys.argv[2] == "both":   # some of each, and no more than the source holds
    sys.exit(0 if d > 0 and b > 0 and d + b <= int(sys.argv[3]) else 1)
sys.exit(0 if (d, b) == (int(sys.argv[2]), int(sys.argv[3])) else 1)' "$T/strace-d" "$want_d" "$want_b"
}
check writes_go_direct_but_the_unaligned_tail \
  direct_bytes "$T/odd.img" "$T/odd.img" $((5 * 1048576)) 1000
check buffered_writes_all_through_the_page_cache \
  direct_bytes "$T/odd.img" "$T/odd.img" 0 $((5 * 1048576 + 1000)) --buffered
# Extents that all start off 4 KiB boundaries (a QCOW2 of 512-byte
# clusters): their aligned middles go direct, their edges through the page
# cache, and the bytes match qemu-img's.
qemu-img create -q -f qcow2 -o cluster_size=512 "$T/c512.qcow2" 24M
qemu-io -f qcow2 -c 'write -P 0xab 1000 3000' -c 'write -P 0x11 65000 200000' \
  -c 'write -P 0x33 5000000 777' -c 'write -P 0x44 9437696 1234567' \
  -c 'write -P 0x55 20971000 2000' "$T/c512.qcow2" >/dev/null
qemu-img convert -O raw "$T/c512.qcow2" "$T/c512.ref"
check unaligned_extents_split_direct_and_buffered \
  direct_bytes "$T/c512.qcow2" "$T/c512.ref" both $((24 << 20))
# --force overwrites a non-empty file, and the result has no stale bytes.
head -c 8M /dev/urandom > "$T/old.out"
truncate -s 300M "$T/old.out"
head -c 8M /dev/urandom | dd of="$T/old.out" bs=1M seek=200 conv=notrunc status=none
check force_overwrites_and_leaves_no_stale_bytes bash -c "'$VMI' copy --quiet --force '$R' '$T/old.out' && cmp '$R' '$T/old.out'"
# A path inside a folder of images with --vm/--disk.
mkdir -p "$T/dir" && cp --sparse=always "$R" "$T/dir/vm1.img" && truncate -s 1M "$T/dir/vm2.img"
rm -f "$T/d.out"
check copy_source_vm_disk_selects bash -c "'$VMI' copy --quiet '$T/dir' --vm vm1 --disk 0 '$T/d.out' && cmp '$R' '$T/d.out'"

# Format layers: skipped only while the layer is still the stub.
if ! grep -q '^/\* STUB' "$S/convert/qcow2.c"; then
  qemu-img convert -f raw -O qcow2 "$R" "$T/src.qcow2"
  qemu-img convert -O raw "$T/src.qcow2" "$T/qcow2.ref"
  copy_cases qcow2 "$T/src.qcow2" "$T/qcow2.ref"
else
  echo "skip qcow2 cases: the QCOW2 layer is not in this build"
fi
if ! grep -q '^/\* STUB' "$S/convert/vmdk.c"; then
  qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$R" "$T/src.vmdk"
  qemu-img convert -O raw "$T/src.vmdk" "$T/vmdk.ref"
  copy_cases vmdk "$T/src.vmdk" "$T/vmdk.ref"
else
  echo "skip vmdk cases: the VMDK layer is not in this build"
fi
finish
