#!/usr/bin/env bash
# vmimportfs on local images: the mounted raw view is byte-identical to
# qemu-img's conversion, holes are holes (SEEK_DATA/SEEK_HOLE, st_blocks),
# many threads read at once, bad sources mount nothing, memory stays bounded.
. "$VMI_SRC/tests/lib.sh"

mkdir -p "$T/src" "$T/mnt"
make_ext4 "$T/src/fs.img" 100M
truncate -s 123456789 "$T/src/odd.raw"
printf 'hello' | dd of="$T/src/odd.raw" bs=1 seek=100000000 conv=notrunc status=none
# Formats other layers translate join in here when qemu-img can make them.
qemu-img convert -O qcow2 "$T/src/fs.img" "$T/src/fs-q.qcow2"
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/src/fs.img" "$T/src/fs-so.vmdk"
# Every other subformat, each a VM of its own in the folder (a descriptor's
# extent files are parts of its disk, not VMs).
for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat; do
  qemu-img convert -O vmdk -o subformat=$sub "$T/src/fs.img" "$T/src/fs-$sub.vmdk"
done
qemu-img convert -O vmdk -o zeroed_grain=on "$T/src/fs.img" "$T/src/fs-zeroedgrain.vmdk"
qemu-img convert -O qcow2 -o compat=0.10 "$T/src/fs.img" "$T/src/fs-v2.qcow2"
qemu-img convert -O qcow2 -c -o compression_type=zstd,cluster_size=4096 "$T/src/fs.img" "$T/src/fs-zstd.qcow2"
qemu-img convert -O qcow2 -o extended_l2=on,cluster_size=128k "$T/src/fs.img" "$T/src/fs-xl2.qcow2"
qemu-img convert -O qcow2 -o cluster_size=512 "$T/src/fs.img" "$T/src/fs-c512.qcow2"
qemu-img create -q -f qcow2 -b fs-q.qcow2 -F qcow2 "$T/src/fs-overlay.qcow2"
qemu-io -f qcow2 -c 'write -P 0x5a 1M 3M' -c 'write -z 10M 2M' "$T/src/fs-overlay.qcow2" >/dev/null
ALL="fs fs-c512 fs-monolithicFlat fs-monolithicSparse fs-overlay fs-q fs-so fs-twoGbMaxExtentFlat fs-twoGbMaxExtentSparse fs-v2 fs-xl2 fs-zeroedgrain fs-zstd odd"

check mount_folder_of_images mount_fs "$T/src" "$T/mnt"
check folder_lists_one_vm_per_image bash -c "ls '$T/mnt' | LC_ALL=C sort | tr '\n' ' ' | grep -qx '$ALL '"
for vm in $ALL; do
  ref="$T/$vm.ref"
  src=$(ls "$T/src/$vm".*)
  # qemu-img rounds raw sizes up to 512 bytes; a raw image is its own reference.
  case $src in *.raw|*.img) ln -s "$src" "$ref" ;; *) qemu-img convert -O raw "$src" "$ref" ;; esac
  check "${vm}_mounted_disk_matches_qemu_img_convert" cmp "$T/mnt/$vm/disk-0.img" "$ref"
  case $vm in fs|fs-q|fs-so|odd) n=2000 ;; *) n=200 ;; esac
  check "${vm}_random_reads_from_4_threads_match" "$LT" random "$T/mnt/$vm/disk-0.img" "$ref" $n 4 7
  # Every range qemu-img map calls data must be data for SEEK_DATA too.
  check "${vm}_seek_data_covers_qemu_img_map" seek_data_covers_qemu_map "$T/mnt/$vm/disk-0.img" "$src"
  check "${vm}_cp_sparse_keeps_bytes_and_holes" bash -c "
    cp --sparse=always '$T/mnt/$vm/disk-0.img' '$T/cp.img' && cmp '$T/cp.img' '$ref' &&
    alloc=\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"disks\"][0][\"allocated\"])' '$T/mnt/$vm/vm.json') &&
    used=\$((\$(stat -c %b '$T/cp.img') * 512)) &&
    echo \"cp used \$used, allocated \$alloc\" && [ \$used -le \$((alloc + 65536)) ]"
  rm -f "$T/cp.img"
done
# vmimport works on paths inside the mount (raw files with holes).
check vmimport_copy_from_inside_the_mount bash -c "
  '$VMI' copy --quiet '$T/mnt/fs-so/disk-0.img' '$T/copy.img' && cmp '$T/copy.img' '$T/fs-so.ref' &&
  [ \$(( \$(stat -c %b '$T/copy.img') * 512 )) -le \$(( \$(qemu-img info --output=json '$T/fs-so.ref' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"actual-size\"])') + 1048576 )) ]"
rm -f "$T/copy.img"
check vmimport_inspect_inside_the_mount_finds_ext4 bash -c "
  '$VMI' inspect --json '$T/mnt/fs-q/disk-0.img' | python3 -c 'import json,sys; j=json.load(sys.stdin); assert \"ext4\" in json.dumps(j), j'"
check st_blocks_is_allocated_size bash -c "[ \$(stat -c %b '$T/mnt/odd/disk-0.img') -le 16 ] && [ \$(stat -c %s '$T/mnt/odd/disk-0.img') -eq 123456789 ]"
check vm_json_names_disk_and_format python3 - "$T/mnt/fs-q/vm.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
d = v["disks"][0]
assert v["name"] == "fs-q", v
assert d["file"] == "disk-0.img" and d["capacity"] == 100 * 2**20 and d["source_format"] == "qcow2", d
assert v["cpus"] is None and v["memory_mib"] is None and v["firmware"] is None
PY
check mount_is_read_only bash -c "! touch '$T/mnt/fs/disk-0.img' 2>/dev/null && ! touch '$T/mnt/new' 2>/dev/null"
check unmount_cleanly unmount_fs "$T/mnt"

# A single image mounts as <name>/; daemon mode returns once mounted.
check daemon_mode_mounts_and_unmounts bash -c "
  '$VMIFS' '$T/src/odd.raw' '$T/mnt' && mountpoint -q '$T/mnt' &&
  cmp -n 1000 '$T/mnt/odd/disk-0.img' '$T/src/odd.raw' && fusermount3 -u '$T/mnt'"

# Large requests: a sequential reader through the page cache makes FUSE
# requests of 1 MiB (read-ahead raised from the kernel's 128 KiB).
check mount_with_debug_log mount_fs "$T/src/fs.img" "$T/mnt" -v -v
check sequential_reads_arrive_as_1mib_requests bash -c "
  dd if='$T/mnt/fs/disk-0.img' of=/dev/null bs=4M status=none &&
  grep -c 'read 1048576 bytes' '$T/vmimportfs.log' | awk '{ exit !(\$1 >= 50) }'"
unmount_fs "$T/mnt"

# Drop-behind: a reader streaming through a disk leaves at most about
# --drop-behind (64 MiB by default) plus 16 MiB of it in the kernel's page
# cache, and reads the right bytes; with --drop-behind 0, or with random
# reads, the pages stay.  fincore counts the cached pages of the mounted
# file.
mkdir -p "$T/stream"
head -c 200M /dev/urandom > "$T/stream.raw"
qemu-img convert -O qcow2 "$T/stream.raw" "$T/stream/s.qcow2"
cached_mib () { fincore -b -n -o RES "$1" | awk '{ print int($1 / 1048576) }'; }
drops () { grep -c "dropped the kernel's cached pages" "$1"; }
export -f cached_mib drops
check mount_for_drop_behind mount_fs "$T/stream/s.qcow2" "$T/mnt" -v
check streaming_copy_leaves_at_most_96m_cached bash -c "
  cp '$T/mnt/s/disk-0.img' '$T/stream.copy' && cmp '$T/stream.copy' '$T/stream.raw' &&
  c=\$(cached_mib '$T/mnt/s/disk-0.img') && echo \"cached: \$c MiB\" && [ \$c -le 96 ]"
check random_reads_drop_nothing bash -c "
  d=\$(drops '$T/vmimportfs.log') && '$LT' random '$T/mnt/s/disk-0.img' '$T/stream.raw' 3000 2 5 &&
  c=\$(cached_mib '$T/mnt/s/disk-0.img') && echo \"cached: \$c MiB, drops \$d then \$(drops '$T/vmimportfs.log')\" &&
  [ \$c -ge 100 ] && [ \$(drops '$T/vmimportfs.log') -eq \$d ]"
unmount_fs "$T/mnt"
check mount_keeping_the_cache mount_fs "$T/stream/s.qcow2" "$T/mnt" --drop-behind 0
check drop_behind_0_keeps_every_page bash -c "
  cp '$T/mnt/s/disk-0.img' '$T/stream.copy' && cmp '$T/stream.copy' '$T/stream.raw' &&
  c=\$(cached_mib '$T/mnt/s/disk-0.img') && echo \"cached: \$c MiB\" && [ \$c -ge 190 ]"
unmount_fs "$T/mnt"
# The daemon drops pages through a file it opens in its own mount, which
# keeps the mount busy while it is open: unmounting right after a streaming
# read must still work (a drop under way ends before the reader's close
# returns).  With 256 KiB read-ahead the last read of this 200 MiB disk asks
# for a drop of 64 MiB of pages, which takes a few ms: without the wait,
# fusermount3 found the mount busy every time.
check unmount_right_after_streaming_reads bash -c "
  for i in 1 2 3 4; do
    '$VMIFS' -f --readahead 256 '$T/stream/s.qcow2' '$T/mnt' 2>>'$T/vmimportfs.log' & pid=\$!
    for j in \$(seq 200); do mountpoint -q '$T/mnt' && break; sleep 0.05; done
    dd if='$T/mnt/s/disk-0.img' of=/dev/null bs=1M status=none || exit 1
    if ! fusermount3 -u '$T/mnt'; then echo \"read \$i: the mount was busy\"; sleep 1; fusermount3 -u '$T/mnt'; exit 1; fi
    wait \$pid || exit 1
  done"
rm -f "$T/stream.copy"

# Bad sources: a message naming the file and the cause, exit 1, no mount.
head -c 1000 /dev/urandom > "$T/garbage.qcow2"
printf 'QFI\xfb' | dd of="$T/garbage.qcow2" conv=notrunc status=none
check_fails missing_source_names_the_file "nosuch.img: No such file" timeout 20 "$VMIFS" -f "$T/nosuch.img" "$T/mnt"
check_fails corrupt_qcow2_is_refused "garbage.qcow2" timeout 20 "$VMIFS" -f "$T/garbage.qcow2" "$T/mnt"
check bad_source_leaves_nothing_mounted bash -c "! mountpoint -q '$T/mnt'"
check bad_source_exit_status_is_1 bash -c "timeout 20 '$VMIFS' -f '$T/nosuch.img' '$T/mnt' 2>/dev/null; [ \$? -eq 1 ]"
check_fails unknown_option_is_usage_error "Usage" "$VMIFS" --bogus "$T/src" "$T/mnt"

# Memory: read every data byte of a 20 GiB sparse image (320 MiB of data
# spread over it) through a 16 MiB cache; the daemon's peak RSS stays under
# the cache size + 32 MiB (ASan's quarantine is kept small, and meson's
# MALLOC_PERTURB_, which touches every page malloc hands out, is off).
truncate -s 20G "$T/big.raw"
for i in $(seq 0 319); do
  dd if=/dev/urandom of="$T/big.raw" bs=1M count=1 seek=$((i * 64)) conv=notrunc status=none
done
mkdir -p "$T/mnt2"
MALLOC_PERTURB_=0 ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=1:malloc_context_size=2:allocator_release_to_os_interval_ms=500" \
  check mount_big_sparse mount_fs "$T/big.raw" "$T/mnt2" --cache-size 16M
pid=$(pgrep -f "vmimportfs -f --cache-size 16M $T/big.raw" | head -1)
# (cmp of two 20 GiB files takes minutes; compare the data runs, and check
# that the copy holds nothing but holes elsewhere.)
check read_20g_sparse_image_end_to_end bash -c "cp --sparse=always '$T/mnt2/big/disk-0.img' '$T/big.copy' && python3 - '$T/big.copy' '$T/big.raw' <<'PY'
import os, sys
a, b = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
assert os.fstat(a).st_size == os.fstat(b).st_size == 20 << 30
M = 1 << 20
for i in range(320):
    off = i * 64 * M
    assert os.pread(a, M, off) == os.pread(b, M, off), f'run {i} differs'
pos = 0
while True:
    try:
        d = os.lseek(a, pos, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(a, d, os.SEEK_HOLE)
    assert d % (64 * M) < M and h - d <= M + 4096 or os.pread(a, h - d, d).count(0) == h - d, f'unexpected data at {d}'
    pos = h
PY"
rm -f "$T/big.copy"
check peak_rss_under_cache_plus_32m bash -c "
  hwm=\$(awk '/VmHWM/ {print \$2}' /proc/$pid/status); echo \"peak RSS \${hwm} kB\"
  [ \"\$hwm\" -lt \$(( (16 + 32) * 1024 )) ]"
unmount_fs "$T/mnt2"
finish
