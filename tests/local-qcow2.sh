#!/usr/bin/env bash
# QCOW2 images made by qemu-img read as qemu reads them: every byte (cat and
# random reads, with and without the block cache) equals `qemu-img convert
# -O raw`, and every range `qemu-img map` calls data is data in our map.
. "$VMI_SRC/tests/lib.sh"

N=${QCOW2_READS:-2000}     # random reads per image and per check
NC=${QCOW2_CACHED_READS:-300}  # through the cache (slower: it copies)
CACHE=$((16<<20))          # smaller than most images: blocks get evicted
SEED=1

# Scattered writes at odd offsets and lengths (patterns, zeroes, unmaps).
scribble () {
  local img=$1 fmt=${2:-qcow2}
  qemu-io -f "$fmt" \
    -c 'write -P 0xab 1000 3000' \
    -c 'write -P 0x11 65000 200000' \
    -c 'write -P 0x22 3m 1m' \
    -c 'write -P 0x33 5000000 777' \
    -c 'write -P 0x44 9m 1234567' \
    "$img" >/dev/null
}

cat > "$T/datacheck.py" <<'PY'
# Every range qemu-img map reports as data must be data in layer-tool map.
import json, sys, bisect
qemu = json.load(open(sys.argv[1]))
ours = []
for line in open(sys.argv[2]):
    off, length, kind = line.split()
    ours.append((int(off), int(length), kind))
starts = [o for o, _, _ in ours]
bad = 0
for e in qemu:
    if not e.get("data"):
        continue
    pos, end = e["start"], e["start"] + e["length"]
    while pos < end:
        i = bisect.bisect_right(starts, pos) - 1
        if i < 0:
            print("no extent at", pos); bad += 1; break
        o, l, k = ours[i]
        if k != "data" or pos >= o + l:
            print(f"qemu says data at {pos}..{end}, we say {k} at {o}+{l}")
            bad += 1
            break
        pos = o + l
sys.exit(1 if bad else 0)
PY

# verify NAME IMG [CACHED_READS]: the checks every image gets.
verify () {
  local name=$1 img=$2 n=$N nc=${3:-$NC}
  local ref="$T/$name.ref" out="$T/$name.out"
  SEED=$((SEED+1))
  qemu-img convert -O raw "$img" "$ref"
  check "${name}_cat_matches_qemu_img_convert" \
    bash -c "'$LT' cat '$img' '$out' && cmp '$ref' '$out'"
  check "${name}_random_reads_match_qemu" "$LT" random "$img" "$ref" "$n" 4 "$SEED"
  check "${name}_random_reads_through_cache_match_qemu" \
    "$LT" random "$img" "$ref" "$nc" 4 "$SEED" "$CACHE"
  check "${name}_qemu_data_ranges_are_data" bash -c \
    "qemu-img map --output=json '$img' > '$T/$name.qmap' && '$LT' map '$img' > '$T/$name.map' && python3 '$T/datacheck.py' '$T/$name.qmap' '$T/$name.map'"
  rm -f "$ref" "$out" "$T/$name.qmap" "$T/$name.map"
}

# --- Versions and cluster sizes, scattered writes, odd virtual sizes.
qemu-img create -q -f qcow2 -o compat=0.10 "$T/v2.qcow2" 20M
scribble "$T/v2.qcow2"
qemu-io -f qcow2 -c 'write -z 1m 2m' "$T/v2.qcow2" >/dev/null   # v2: no zero flag
verify v2_compat_0_10 "$T/v2.qcow2"
check v2_detected_as_qcow2 bash -c "'$LT' info '$T/v2.qcow2' | grep -q '\"format\": \"qcow2\"'"

for cs in 512 4096 65536 2097152; do
  # Not a multiple of the cluster size (nor of 4 KiB).
  qemu-img create -q -f qcow2 -o compat=1.1,cluster_size=$cs "$T/v3-$cs.qcow2" $((20*1048576 + 3*512))
  scribble "$T/v3-$cs.qcow2"
  qemu-io -f qcow2 -c 'write -P 0x55 20971000 2000' "$T/v3-$cs.qcow2" >/dev/null
  verify "v3_cluster_${cs}_odd_size" "$T/v3-$cs.qcow2"
  rm -f "$T/v3-$cs.qcow2"
done

# --- Zero clusters: the v3 zero flag (with and without a host cluster).
qemu-img create -q -f qcow2 -o compat=1.1 "$T/zero.qcow2" 16M
qemu-io -f qcow2 -c 'write -P 0x66 0 8m' -c 'write -z 1M 2M' -c 'write -z -u 5m 1m' \
  -c 'write -z 10m 2m' "$T/zero.qcow2" >/dev/null
verify v3_zero_clusters "$T/zero.qcow2"
check v3_zero_clusters_reported_as_zero bash -c \
  "'$LT' map '$T/zero.qcow2' | grep -qx '1048576 2097152 zero'"

# --- Empty, sparse, full.
qemu-img create -q -f qcow2 "$T/empty.qcow2" 64M
verify empty "$T/empty.qcow2"
check empty_is_one_hole bash -c "[ \"\$('$LT' map '$T/empty.qcow2')\" = '0 67108864 hole' ]"
qemu-img create -q -f qcow2 "$T/sparse.qcow2" 64G
qemu-io -f qcow2 -c 'write -P 1 0 64k' -c 'write -P 2 33g 100k' -c 'write -P 3 63g 1m' \
  "$T/sparse.qcow2" >/dev/null
check sparse_64g_map_is_cheap_and_small bash -c \
  "timeout 10 '$LT' map '$T/sparse.qcow2' > '$T/sparse.map' && [ \$(wc -l < '$T/sparse.map') -le 7 ] && grep -q '^35433480192 131072 data\$' '$T/sparse.map'"
check sparse_64g_allocated_is_metadata_only bash -c \
  "'$LT' info '$T/sparse.qcow2' | grep -q '\"allocated\": $((65536 + 131072 + 1048576))'"
rm -f "$T/sparse.qcow2" "$T/sparse.map"
head -c $((24<<20)) /dev/urandom > "$T/full.raw"
qemu-img convert -q -f raw -O qcow2 "$T/full.raw" "$T/full.qcow2"
verify full_random_data "$T/full.qcow2"
# 512-byte clusters: 768 L2 tables, read through a cache of 4 of them.
qemu-img convert -q -f raw -O qcow2 -o cluster_size=512 "$T/full.raw" "$T/full512.qcow2"
check l2_cache_of_4_tables_evicts_and_reads_match bash -c \
  "VMIMPORT_QCOW2_L2_CACHE=0 '$LT' random '$T/full512.qcow2' '$T/full.raw' $N 4 77"
rm -f "$T/full.raw" "$T/full.qcow2" "$T/full512.qcow2"
qemu-img create -q -f qcow2 -o preallocation=metadata "$T/prealloc.qcow2" 16M
qemu-io -f qcow2 -c 'write -P 9 1m 100k' "$T/prealloc.qcow2" >/dev/null
verify preallocated_metadata "$T/prealloc.qcow2"
rm -f "$T/prealloc.qcow2"

# --- A real filesystem, plain and compressed (zlib and zstd), 64k and 4k.
make_ext4 "$T/fs.raw" 64M
qemu-img convert -q -f raw -O qcow2 "$T/fs.raw" "$T/fs.qcow2"
verify ext4_converted "$T/fs.qcow2"
for ct in zlib zstd; do
  qemu-img convert -q -c -f raw -O qcow2 -o compression_type=$ct "$T/fs.raw" "$T/fs-$ct.qcow2"
  verify "ext4_compressed_$ct" "$T/fs-$ct.qcow2" 1000
  qemu-img convert -q -c -f raw -O qcow2 -o compression_type=$ct,cluster_size=4096 \
    "$T/fs.raw" "$T/fs-$ct-4k.qcow2"
  verify "ext4_compressed_${ct}_cluster_4096" "$T/fs-$ct-4k.qcow2"
  rm -f "$T/fs-$ct.qcow2" "$T/fs-$ct-4k.qcow2"
done
# Compressed, the last cluster partial (qemu pads it before compressing),
# 512-byte clusters (the smallest zstd window we accept).
head -c 1001984 /dev/urandom | base64 -w0 | head -c 1001984 > "$T/text.raw"
for ct in zlib zstd; do
  qemu-img convert -q -c -f raw -O qcow2 -o compression_type=$ct,cluster_size=512 "$T/text.raw" "$T/text-$ct.qcow2"
  verify "compressed_${ct}_cluster_512_odd_size" "$T/text-$ct.qcow2"
  rm -f "$T/text-$ct.qcow2"
done
rm -f "$T/text.raw"
# Compressed clusters next to plain ones and zero ones.
qemu-img convert -q -c -f raw -O qcow2 "$T/fs.raw" "$T/mixed.qcow2"
scribble "$T/mixed.qcow2"
qemu-io -f qcow2 -c 'write -z 20m 3m' "$T/mixed.qcow2" >/dev/null
verify compressed_overwritten_in_places "$T/mixed.qcow2"
rm -f "$T/mixed.qcow2"

# --- Extended L2 entries (subclusters): 64k and 2M clusters.
for cs in 65536 2097152; do
  qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=$cs "$T/ext-$cs.qcow2" 24M
  scribble "$T/ext-$cs.qcow2"
  qemu-io -f qcow2 -c 'write -z 70000 4096' -c 'write -z -u 4m 200k' \
    -c 'write -P 0x77 12m 3000' "$T/ext-$cs.qcow2" >/dev/null
  verify "extended_l2_cluster_$cs" "$T/ext-$cs.qcow2" 1000
  rm -f "$T/ext-$cs.qcow2"
done
qemu-img convert -q -c -f raw -O qcow2 -o extended_l2=on "$T/fs.raw" "$T/ext-c.qcow2"
verify extended_l2_compressed "$T/ext-c.qcow2"
rm -f "$T/ext-c.qcow2"

# --- Backing chains of three, relative names, one in a subfolder:
#   chain/top.qcow2 -> sub/mid.qcow2 -> base (named relative to sub/).
mkdir -p "$T/chain/sub"
cp "$T/fs.raw" "$T/chain/sub/base.raw"
qemu-img create -q -f qcow2 -b base.raw -F raw "$T/chain/sub/mid.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 0x5a 2m 1m' -c 'write -z 10m 1m' "$T/chain/sub/mid.qcow2" >/dev/null
qemu-img create -q -f qcow2 -b sub/mid.qcow2 -F qcow2 "$T/chain/top.qcow2" 64M
scribble "$T/chain/top.qcow2"
qemu-io -f qcow2 -c 'write -z 30m 1m' "$T/chain/top.qcow2" >/dev/null
verify chain_of_3_raw_base "$T/chain/top.qcow2" 1000
check chain_of_3_small_l2_caches_random_reads_match bash -c \
  "qemu-img convert -O raw '$T/chain/top.qcow2' '$T/top.ref' && VMIMPORT_QCOW2_L2_CACHE=0 '$LT' random '$T/chain/top.qcow2' '$T/top.ref' $N 4 78"
rm -f "$T/top.ref"

# The same with a qcow2 base (extended L2) and a v2 middle image.
qemu-img convert -q -f raw -O qcow2 -o extended_l2=on "$T/fs.raw" "$T/chain/sub/base.qcow2"
qemu-img create -q -f qcow2 -o compat=0.10 -b base.qcow2 -F qcow2 "$T/chain/sub/mid2.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 0x5b 6m 100k' "$T/chain/sub/mid2.qcow2" >/dev/null
qemu-img create -q -f qcow2 -b sub/mid2.qcow2 -F qcow2 "$T/chain/top2.qcow2" 64M
scribble "$T/chain/top2.qcow2"
verify chain_of_3_qcow2_base "$T/chain/top2.qcow2"

# Backing file smaller than the overlay (past its end reads as zeros) and
# larger (the overlay's size wins); the backing format is probed when the
# image does not name it.
qemu-img create -q -f raw "$T/chain/small.raw" 3M
printf 'tail' | dd of="$T/chain/small.raw" bs=1 seek=$((3*1048576 - 4)) conv=notrunc status=none
qemu-img create -q -f qcow2 -b small.raw -F raw "$T/chain/grown.qcow2" 10M
qemu-io -f qcow2 -c 'write -P 1 8m 4k' "$T/chain/grown.qcow2" >/dev/null
verify backing_smaller_than_overlay "$T/chain/grown.qcow2"
qemu-img create -q -f qcow2 -b sub/mid.qcow2 -F qcow2 "$T/chain/shrunk.qcow2" 5M
verify backing_larger_than_overlay "$T/chain/shrunk.qcow2"
qemu-img create -q -f qcow2 -b sub/mid.qcow2 -F qcow2 "$T/chain/probed.qcow2" 64M
# qemu-img no longer writes images without a backing format: rename the
# backing format extension (0xe2792aca) to an unknown one, which is ignored.
python3 - "$T/chain/probed.qcow2" <<'PY'
import sys
f = open(sys.argv[1], "r+b"); h = f.read(65536)
i = h.index(bytes.fromhex("e2792aca"), 72)
f.seek(i); f.write(bytes.fromhex("7e570001"))
PY
verify backing_format_probed "$T/chain/probed.qcow2"
# A raw backing file whose bytes look like QCOW2 stays raw when -F raw says so.
qemu-img create -q -f qcow2 "$T/chain/looks-qcow2.raw" 1M
qemu-img create -q -f qcow2 -b looks-qcow2.raw -F raw "$T/chain/rawfmt.qcow2" 1M
verify backing_format_raw_is_not_probed "$T/chain/rawfmt.qcow2"
# --- A virtual size that is not a multiple of 512 (qemu-img rounds up when
# it creates one; other tools write them).  We expose every byte; qemu reads
# the size rounded down to a sector.  So the prefix qemu reads is compared
# with qemu-img convert, and the tail with the same image read before its
# size was cut (README, "QCOW2 sizes").
qemu-img create -q -f qcow2 "$T/odd.qcow2" 1000448
qemu-io -f qcow2 -c 'write -P 0x11 0 4096' -c 'write -P 0x5a 990000 10448' \
  "$T/odd.qcow2" >/dev/null
qemu-img convert -O raw "$T/odd.qcow2" "$T/odd-uncut.ref"
python3 -c '
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(24); f.write(struct.pack(">Q", 1000001))' "$T/odd.qcow2"
qemu-img convert -O raw "$T/odd.qcow2" "$T/odd-qemu.ref"
"$LT" cat "$T/odd.qcow2" "$T/odd.out"
check qcow2_odd_size_exposed_exactly test "$(stat -c %s "$T/odd.out")" -eq 1000001
check qcow2_odd_size_qemu_rounds_down test "$(stat -c %s "$T/odd-qemu.ref")" -eq 999936
check qcow2_odd_size_prefix_matches_qemu_img_convert cmp -n 999936 "$T/odd-qemu.ref" "$T/odd.out"
check qcow2_odd_size_tail_matches_the_uncut_image \
  cmp -i 999936:999936 -n $((1000001 - 999936)) "$T/odd-uncut.ref" "$T/odd.out"
check qcow2_odd_size_tail_holds_data bash -c "
  tail -c 65 '$T/odd.out' | od -An -tx1 | grep -q 5a"
finish
