#!/usr/bin/env bash
# VMDK -> raw through the layer stack (layer-tool, no FUSE): every subformat
# qemu-img writes, VMware's streamOptimized layout (footer, markers), ESX
# COWD, zeroed grains, hand-written descriptors with FLAT+ZERO+SPARSE
# extents in a subfolder, and a >2 GiB twoGbMaxExtent disk.  Bytes are
# compared with qemu-img convert -O raw; extents must cover every range
# qemu-img map calls data.
. "$VMI_SRC/tests/lib.sh"
GEN="$S/tests/vmdk-gen.py"

# Every range qemu-img map reports as data is data in ours.  Maps are
# collected as the test goes (map_covers_qemu NAME OURS [QEMU-SRC]) and
# checked together at the end (check_maps), one python run for all.
mkdir -p "$T/maps"
map_covers_qemu () {
  local name=$1 ours=$2 theirs=${3:-$2}
  if "$LT" map "$ours" > "$T/maps/$name.ours" 2> "$T/maps/$name.err" &&
     qemu-img map --output=json "$theirs" > "$T/maps/$name.qemu" 2>> "$T/maps/$name.err"; then
    echo "$name" >> "$T/maps/list"
  else
    check "$name" cat "$T/maps/$name.err" false
  fi
}
cat > "$T/mapcheck.py" <<'PY'
import json, os, sys
d = sys.argv[1]
for name in open(os.path.join(d, "list")).read().split():
    q = json.load(open(os.path.join(d, name + ".qemu")))
    ours = []
    for line in open(os.path.join(d, name + ".ours")):
        off, n, t = line.split()
        if t == "data":
            ours.append((int(off), int(off) + int(n)))
    bad = []
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
            bad.append("qemu data %d+%d not data in ours (from %d)"
                       % (start, end - start, pos))
    with open(os.path.join(d, name + ".result"), "w") as f:
        f.write("\n".join(bad[:10]) if bad else "ok")
PY
map_result () { cat "$1"; echo; [ "$(cat "$1")" = ok ]; }
check_maps () {
  local name
  [ -f "$T/maps/list" ] || return 0
  python3 "$T/mapcheck.py" "$T/maps" || { check map_checker_runs false; return; }
  while read -r name; do
    check "$name" map_result "$T/maps/$name.result"
  done < "$T/maps/list"
}
cat_matches () {   # SRC REF
  "$LT" cat "$1" "$T/cat.out" && cmp "$2" "$T/cat.out"
}
allocated_at_most () {   # SRC BYTES
  local a
  a=$("$LT" info "$1" | sed -n 's/.*"allocated": \([0-9]*\).*/\1/p')
  [ -n "$a" ] || return 1
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
    map_covers_qemu "vmdk_${v}_${img}_map_covers_qemu_data" "$d/disk.vmdk"
    if [ $img = ext4 ] || [ $img = sparse ]; then
      n=2000; [ $img = sparse ] && n=500
      check "vmdk_${v}_${img}_random_reads_match_qemu" "$LT" random "$d/disk.vmdk" "$d/ref.raw" $n 4 7
    fi
    if [ $img = empty ]; then
      # (qemu writes the first 4 KiB of a flat file to learn its alignment)
      check "vmdk_${v}_empty_has_no_data" allocated_at_most "$d/disk.vmdk" 4096
    fi
    rm -f "$d/ref.raw"
  done
done
# Through the block cache as the daemon stacks it (the streamOptimized ext4
# case reads fewer: every cache miss inflates up to 128 grains).
for c in monolithicSparse:ext4:2000 twoGbMaxExtentFlat:ext4:2000 streamOptimized:sparse:2000 streamOptimized:ext4:300; do
  IFS=: read -r v img n <<< "$c"
  qemu-img convert -O raw "$T/$img-$v/disk.vmdk" "$T/ref.raw"
  check "vmdk_${v}_${img}_random_reads_through_cache_match_qemu" "$LT" random "$T/$img-$v/disk.vmdk" "$T/ref.raw" $n 4 9 $((4 << 20))
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
map_covers_qemu vmdk_vmware_stream_footer_map_covers_qemu_data "$d/stream.vmdk"
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
# ESXi's own layout: createType "vmfs", one VMFS extent without offset.
printf '# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\n\n# Extent description\nRW 6144 VMFS "sub dir/deeper/flat.bin"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = "lsilogic"\nddb.thinProvisioned = "1"\n' > "$d/esx.vmdk"
qemu-img convert -O raw "$d/esx.vmdk" "$d/esx.raw"
check vmdk_esxi_vmfs_descriptor_matches_qemu cat_matches "$d/esx.vmdk" "$d/esx.raw"
check vmdk_esxi_vmfs_descriptor_matches_flat_file cat_matches "$d/esx.vmdk" "$d/sub dir/deeper/flat.bin"
desc 40960 'RW 1000 FLAT "sub dir/deeper/zero.bin" 0' > "$d/qemu.vmdk"
qemu-img convert -O raw "$d/qemu.vmdk" "$d/ref.raw"
check vmdk_descriptor_flat_zero_sparse_cat_matches_qemu cat_matches "$d/disk-40960.vmdk" "$d/ref.raw"
map_covers_qemu vmdk_descriptor_map_covers_qemu_data "$d/disk-40960.vmdk" "$d/qemu.vmdk"
fi

if want big; then
# More than 2 GiB (data across the extent boundary), split in 2 GiB extents, nearly empty: stays cheap.
d="$T/big"; mkdir -p "$d"
truncate -s $((2 * 1073741824 + 1048576 + 3 * 512)) "$T/big.img"
for at in 0 $((2047 * 1048576 - 300)) $((2 * 1073741824 - 300)) $((2 * 1073741824 + 1048576 + 900)); do
  head -c 600 /dev/urandom | dd of="$T/big.img" bs=1 seek=$at conv=notrunc status=none
done
for v in twoGbMaxExtentSparse twoGbMaxExtentFlat; do
  mkdir -p "$d/$v"
  qemu-img convert -O vmdk -o subformat=$v "$T/big.img" "$d/$v/disk.vmdk"
  check "vmdk_${v}_over_2gib_cat_matches_source" cat_matches "$d/$v/disk.vmdk" "$T/big.img"
  check "vmdk_${v}_over_2gib_random_reads_match_source" "$LT" random "$d/$v/disk.vmdk" "$T/big.img" 1000 4 13
  map_covers_qemu "vmdk_${v}_over_2gib_map_covers_qemu_data" "$d/$v/disk.vmdk"
  check "vmdk_${v}_over_2gib_is_mostly_holes" allocated_at_most "$d/$v/disk.vmdk" $((4 * 1048576))
done
# 64 GiB with one grain written: extents come from metadata, quickly.
for v in monolithicSparse streamOptimized; do
  qemu-img create -q -f vmdk -o subformat=$v "$d/64g-$v.vmdk" 64G
done
qemu-io -c "write -P 7 40G 64k" "$d/64g-monolithicSparse.vmdk" >/dev/null
check vmdk_64gib_sparse_extents_are_cheap bash -c "timeout 20 '$LT' map '$d/64g-monolithicSparse.vmdk' | grep -qx '42949672960 65536 data' && timeout 20 '$LT' info '$d/64g-monolithicSparse.vmdk' | grep -q '\"allocated\": 65536'"
check vmdk_64gib_empty_stream_is_all_hole bash -c "timeout 20 '$LT' map '$d/64g-streamOptimized.vmdk' | grep -qx '0 68719476736 hole'"
fi
check_maps
finish
