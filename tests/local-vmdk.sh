#!/usr/bin/env bash
# VMDK -> raw through the layer stack (layer-tool, no FUSE): every subformat
# qemu-img writes, VMware's streamOptimized layout (footer, markers), ESX
# COWD, zeroed grains, hand-written descriptors with FLAT+ZERO+SPARSE
# extents in a subfolder, and a >2 GiB twoGbMaxExtent disk.  Bytes are
# compared with qemu-img convert -O raw; extents must cover every range
# qemu-img map calls data.
. "$VMI_SRC/tests/lib.sh"
GEN="$S/tests/vmdk-gen.py"

# Every range qemu-img map reports as data is data in ours.
cat > "$T/mapcheck.py" <<'PY'
import json, subprocess, sys
q = json.loads(subprocess.check_output(
    ["qemu-img", "map", "--output=json", sys.argv[1]]))
ours = []
for line in open(sys.argv[2]):
    off, n, t = line.split()
    if t == "data":
        ours.append((int(off), int(off) + int(n)))
bad = 0
for r in q:
    if not r["data"] or r["zero"]:   # qemu: "data" + "zero" is a hole
        continue
    start, end = r["start"], r["start"] + r["length"]
    pos = start
    for a, b in ours:
        if a <= pos < b:
            pos = b
        if pos >= end:
            break
    if pos < end:
        print("qemu data %d+%d not data in ours (from %d)"
              % (start, end - start, pos))
        bad += 1
sys.exit(1 if bad else 0)
PY

map_covers_qemu () {
  "$LT" map "$1" > "$T/ours.map" && python3 "$T/mapcheck.py" "$1" "$T/ours.map"
}
cat_matches () {   # SRC REF
  "$LT" cat "$1" "$T/cat.out" && cmp "$2" "$T/cat.out"
}
allocated_at_most () {   # SRC BYTES
  local a
  a=$("$LT" info "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["allocated"])') || return 1
  echo "allocated $a"; [ "$a" -le "$2" ]
}

# VMDK_SECTIONS="desc big" runs only those sections (while developing).
want () { [ -z "${VMDK_SECTIONS:-}" ] || [[ " $VMDK_SECTIONS " == *" $1 "* ]]; }

# Source images; sizes are not multiples of the 64 KiB grain.
make_ext4 "$T/ext4.img" $((100 * 1048576 + 7 * 512))
truncate -s $((33 * 1048576 + 512)) "$T/empty.img"
truncate -s $((50 * 1048576 + 1536)) "$T/sparse.img"
for at in 0 70000 12345678 $((50 * 1048576 + 1024)); do
  head -c 500 /dev/urandom | dd of="$T/sparse.img" bs=1 seek=$at conv=notrunc status=none
done
head -c $((12 * 1048576 + 1536)) /dev/urandom > "$T/full.img"

if want subformats; then
variants="monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized zeroed_grain compat6 version3"
for img in ext4 empty sparse full; do
  for v in $variants; do
    d="$T/$img-$v"; mkdir -p "$d"
    case $v in
      zeroed_grain) o=subformat=monolithicSparse,zeroed_grain=on ;;
      compat6) o=compat6 ;;
      version3) o=subformat=monolithicSparse ;;
      *) o=subformat=$v ;;
    esac
    qemu-img convert -O vmdk -o "$o" "$T/$img.img" "$d/disk.vmdk"
    # Version 3 (changed block tracking) reads as version 1.
    [ $v = version3 ] && printf '\003' | dd of="$d/disk.vmdk" bs=1 seek=4 conv=notrunc status=none
    qemu-img convert -O raw "$d/disk.vmdk" "$d/ref.raw"
    check "vmdk_${v}_${img}_cat_matches_qemu" cat_matches "$d/disk.vmdk" "$d/ref.raw"
    check "vmdk_${v}_${img}_map_covers_qemu_data" map_covers_qemu "$d/disk.vmdk"
    if [ $img = ext4 ] || [ $img = sparse ]; then
      check "vmdk_${v}_${img}_random_reads_match_qemu" "$LT" random "$d/disk.vmdk" "$d/ref.raw" 2000 4 7
    fi
    if [ $img = empty ]; then
      check "vmdk_${v}_empty_has_no_data" allocated_at_most "$d/disk.vmdk" 0
    fi
    rm -f "$d/ref.raw"
  done
done
for v in monolithicSparse streamOptimized twoGbMaxExtentFlat; do
  qemu-img convert -O raw "$T/ext4-$v/disk.vmdk" "$T/ref.raw"
  check "vmdk_${v}_ext4_random_reads_through_cache_match_qemu" "$LT" random "$T/ext4-$v/disk.vmdk" "$T/ref.raw" 2000 4 9 $((4 << 20))
done

fi

# Zeroed grains (GTE 1): written by qemu-io on a zeroed_grain image.
d="$T/zg"; mkdir -p "$d"
qemu-img convert -O vmdk -o subformat=monolithicSparse,zeroed_grain=on "$T/full.img" "$d/disk.vmdk"
qemu-io -c "write -z 65536 65536" -c "write -z 1M 2M" "$d/disk.vmdk" >/dev/null
qemu-img convert -O raw "$d/disk.vmdk" "$d/ref.raw"
check vmdk_zeroed_grains_cat_matches_qemu cat_matches "$d/disk.vmdk" "$d/ref.raw"
check vmdk_zeroed_grains_reported_as_zero bash -c "'$LT' map '$d/disk.vmdk' | grep -qx '65536 65536 zero' && '$LT' map '$d/disk.vmdk' | grep -qx '1048576 2097152 zero'"
check vmdk_zeroed_grains_random_reads_match_qemu "$LT" random "$d/disk.vmdk" "$d/ref.raw" 1000 4 3

# VMware's streamOptimized: version 3, GD_AT_END with the header in the
# footer, GT/GD markers; zlib streams (and bare deflate, which qemu cannot
# read, so that one is compared with the source).
d="$T/vmw"; mkdir -p "$d"
python3 "$GEN" stream "$T/ext4.img" "$d/stream.vmdk"
qemu-img convert -O raw "$d/stream.vmdk" "$d/ref.raw"
check vmdk_vmware_stream_fixture_reads_in_qemu cmp "$d/ref.raw" "$T/ext4.img"
check vmdk_vmware_stream_footer_cat_matches_qemu cat_matches "$d/stream.vmdk" "$d/ref.raw"
check vmdk_vmware_stream_footer_map_covers_qemu_data map_covers_qemu "$d/stream.vmdk"
check vmdk_vmware_stream_footer_random_reads_match "$LT" random "$d/stream.vmdk" "$d/ref.raw" 2000 4 5
python3 "$GEN" stream "$T/sparse.img" "$d/raw-deflate.vmdk" --raw-deflate
check vmdk_stream_bare_deflate_grains_match_source cat_matches "$d/raw-deflate.vmdk" "$T/sparse.img"

# ESX COWD sparse extent behind a vmfsSparse descriptor.  (qemu reads the
# extent twice over, so the source is the reference.)
d="$T/cowd"; mkdir -p "$d"
python3 "$GEN" cowd "$T/sparse.img" "$d/disk-sparse.vmdk"
printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfsSparse"\n\nRW %d VMFSSPARSE "disk-sparse.vmdk"\n' \
  $(($(stat -c %s "$T/sparse.img") / 512)) > "$d/disk.vmdk"
check vmdk_cowd_cat_matches_source cat_matches "$d/disk.vmdk" "$T/sparse.img"
check vmdk_cowd_random_reads_match_source "$LT" random "$d/disk.vmdk" "$T/sparse.img" 1000 4 4

if want desc; then
# A hand-written descriptor: FLAT with an offset, ZERO, SPARSE, FLAT again,
# extent files in a subfolder with a space in its name.  qemu ignores ZERO
# lines, so its reference is the same descriptor with a flat file of zeros
# in place of the ZERO extent; a second reference is built with dd.
d="$T/desc"; mkdir -p "$d/sub dir/deeper"
head -c $((3 * 1048576)) /dev/urandom > "$d/sub dir/deeper/flat.bin"
truncate -s $((1000 * 512)) "$d/sub dir/deeper/zero.bin"
desc () {   # SPARSE-SECTORS ZERO-LINE
  printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="twoGbMaxExtentSparse"\n\n# Extent description\n'
  printf 'RW 2048 FLAT "sub dir/deeper/flat.bin" 100\n'
  printf '%s\n' "$2"
  printf 'RW %d SPARSE "sub dir/deeper/part-%d.vmdk"\n' "$1" "$1"
  printf 'RW 300 FLAT "sub dir/deeper/flat.bin" 0\n\nddb.virtualHWVersion = "4"\n'
}
by_hand () {   # SPARSE-RAW
  dd if="$d/sub dir/deeper/flat.bin" bs=512 skip=100 count=2048 status=none
  head -c $((1000 * 512)) /dev/zero; cat "$1"
  dd if="$d/sub dir/deeper/flat.bin" bs=512 count=300 status=none
}
# 40960 sectors is a whole number of grains; qemu misreads the end of a
# sparse extent that is not (it reads the last grain whole, past the
# extent), so 40961 is checked against the dd reference only.
for sectors in 40960 40961; do
  head -c $((10 * 1048576 + 512)) /dev/urandom > "$T/part.raw"
  truncate -s $((sectors * 512)) "$T/part.raw"
  qemu-img convert -O vmdk -o subformat=monolithicSparse "$T/part.raw" "$d/sub dir/deeper/part-$sectors.vmdk"
  desc $sectors 'RW 1000 ZERO' > "$d/disk-$sectors.vmdk"
  by_hand "$T/part.raw" > "$d/by-hand.raw"
  check "vmdk_descriptor_${sectors}_flat_zero_sparse_cat_matches_dd" cat_matches "$d/disk-$sectors.vmdk" "$d/by-hand.raw"
  check "vmdk_descriptor_${sectors}_flat_zero_sparse_random_reads_match_dd" "$LT" random "$d/disk-$sectors.vmdk" "$d/by-hand.raw" 2000 4 11
  check "vmdk_descriptor_${sectors}_zero_extent_reported_as_zero" bash -c "'$LT' map '$d/disk-$sectors.vmdk' | grep -qx '$((2048 * 512)) $((1000 * 512)) zero'"
done
desc 40960 'RW 1000 FLAT "sub dir/deeper/zero.bin" 0' > "$d/qemu.vmdk"
qemu-img convert -O raw "$d/qemu.vmdk" "$d/ref.raw"
check vmdk_descriptor_flat_zero_sparse_cat_matches_qemu cat_matches "$d/disk-40960.vmdk" "$d/ref.raw"
check vmdk_descriptor_map_covers_qemu_data bash -c "'$LT' map '$d/disk-40960.vmdk' > '$T/ours.map' && python3 '$T/mapcheck.py' '$d/qemu.vmdk' '$T/ours.map'"
fi

if want big; then
# More than 2 GiB, split in 2 GiB extents, nearly empty: stays cheap.
d="$T/big"; mkdir -p "$d"
truncate -s $((3 * 1073741824 + 3 * 512)) "$T/big.img"
for at in 0 $((2047 * 1048576 - 300)) $((2 * 1073741824)) $((3 * 1073741824 + 900)); do
  head -c 600 /dev/urandom | dd of="$T/big.img" bs=1 seek=$at conv=notrunc status=none
done
for v in twoGbMaxExtentSparse twoGbMaxExtentFlat; do
  mkdir -p "$d/$v"
  qemu-img convert -O vmdk -o subformat=$v "$T/big.img" "$d/$v/disk.vmdk"
  check "vmdk_${v}_3gib_cat_matches_source" cat_matches "$d/$v/disk.vmdk" "$T/big.img"
  check "vmdk_${v}_3gib_random_reads_match_source" "$LT" random "$d/$v/disk.vmdk" "$T/big.img" 1000 4 13
  check "vmdk_${v}_3gib_map_covers_qemu_data" map_covers_qemu "$d/$v/disk.vmdk"
  check "vmdk_${v}_3gib_is_mostly_holes" allocated_at_most "$d/$v/disk.vmdk" $((4 * 1048576))
done
fi
finish
