#!/usr/bin/env bash
# seSparse deltas (VMFS6 snapshots), written by tests/sesparse-gen.py over a
# base qemu-img made: 3 levels with allocated, zero, unmapped and
# unallocated grains, grain tables and grains in shuffled order, a partial
# last grain.  qemu-img convert -O raw of the top descriptor is the oracle,
# through the layer stack, the mount, vmimport copy and over HTTP; SEEK_DATA
# and our map against qemu-img map.  Hostile headers and tables fail naming the
# cause; nothing crashes (ASan, UBSan), nothing reads wrong bytes.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"
GEN="python3 $S/tests/sesparse-gen.py"
lt () { timeout 60 "$LT" "$@"; }
M=1048576
SIZE=$((50 * M + 1536))
SECT=$((SIZE / 512))

map_matches_qemu () {
  lt map "$1" > "$T/map.ours" && qemu-img map --output=json "$1" > "$T/map.qemu" &&
  python3 - "$T/map.ours" "$T/map.qemu" <<'PY'
import json, sys
ours = [l.split() for l in open(sys.argv[1])]
ours = [(int(o), int(o) + int(n), t) for o, n, t in ours]
bad = []
for r in json.load(open(sys.argv[2])):
    a, b = r["start"], r["start"] + r["length"]
    for o, e, t in ours:
        if e <= a or o >= b:
            continue
        if r["data"] and not r["zero"] and t != "data":
            bad.append("qemu data %d+%d is %s in ours at %d" % (a, b - a, t, o))
        if t == "hole" and r["present"]:
            bad.append("our hole %d+%d is present in qemu (%s)" % (o, e - o, r))
        if t == "zero" and not r["zero"]:
            bad.append("our zeros %d+%d are data in qemu (%s)" % (o, e - o, r))
if bad:
    sys.exit("\n".join(bad[:10]))
PY
}
cat_matches () { lt cat "$1" "$T/cat.out" && cmp "$2" "$T/cat.out"; }

# --- Three levels over a qemu-made base ---------------------------------------
d="$T/ds"; mkdir -p "$d"
qemu-img create -q -f vmdk "$d/vm.vmdk" $SIZE
qemu-io -f vmdk -c 'write -P 0x11 0 8M' -c 'write -P 0x12 20M 4M' -c 'write -P 0x13 45M 1M' "$d/vm.vmdk" >/dev/null
cid0=$(grep -a -m1 '^CID=' "$d/vm.vmdk" | cut -d= -f2)
# Grains: 4 KiB; a grain table spans 4096 of them (16 MiB); 12801 grains.
$GEN "$d" vm-000001 $SECT vm.vmdk "$cid0" 1111aaaa data:0:300 zero:1000:50 unmap:1100:20 \
  data:2000:1 data:4095:2 zero:5000:2000 data:12800:1 > "$T/l1.json"
$GEN "$d" vm-000002 $SECT vm-000001.vmdk 1111aaaa 2222bbbb data:100:100 zero:250:100 \
  unmap:0:10 data:8192:4096 data:1010:5 > "$T/l2.json"
$GEN "$d" vm-000003 $SECT vm-000002.vmdk 2222bbbb 3333cccc data:5:3 zero:2100:10 \
  data:9000:64 data:4000:200 zero:12800:1 > "$T/l3.json"
qemu-img convert -O raw "$d/vm-000003.vmdk" "$d/ref3.raw"
qemu-img convert -O raw "$d/vm-000001.vmdk" "$d/ref1.raw"
check sesparse_fixture_is_4_deep_in_qemu bash -c "qemu-img info --backing-chain '$d/vm-000003.vmdk' | grep -c '^image:' | grep -qx 4"
check sesparse_levels_differ bash -c "! cmp -s '$d/ref1.raw' '$d/ref3.raw'"
check sesparse_1_level_cat_matches_qemu cat_matches "$d/vm-000001.vmdk" "$d/ref1.raw"
check sesparse_3_levels_cat_matches_qemu cat_matches "$d/vm-000003.vmdk" "$d/ref3.raw"
check sesparse_1_level_map_matches_qemu map_matches_qemu "$d/vm-000001.vmdk"
check sesparse_3_levels_map_matches_qemu map_matches_qemu "$d/vm-000003.vmdk"
check sesparse_random_reads_match_qemu lt random "$d/vm-000003.vmdk" "$d/ref3.raw" 500 4 5
check sesparse_random_reads_through_cache_match_qemu lt random "$d/vm-000003.vmdk" "$d/ref3.raw" 200 4 6 $((1 << 20))
check sesparse_copy_matches_qemu bash -c "'$VMI' copy --quiet '$d/vm-000003.vmdk' '$T/copy.out' && cmp '$d/ref3.raw' '$T/copy.out'"
rm -f "$T/copy.out"
mount_matches_qemu sesparse "$d/vm-000003.vmdk" vm-000003 "$d/ref3.raw"
check sesparse_over_http_starts nginx_start "$d"
check sesparse_over_http_matches_qemu cat_matches "$NGINX_URL/vm-000003.vmdk" "$d/ref3.raw"
nginx_stop

# --- Hostile extents: each damage on a fresh copy of level 1 ------------------
# poke FILE OFFSET BYTES VALUE: a little-endian integer, in place.
poke () {
  local s="" i
  for ((i = 0; i < $3; i++)); do s+=$(printf '\\x%02x' $(( ($4 >> (8 * i)) & 255 ))); done
  printf "$s" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none
}
js () { python3 -c "import json,sys; j=json.load(open('$T/l1.json')); print($1)"; }
GT0=$(js 'j["gt"]["0"]'); GRAIN0=$(js 'j["grains"]["0"]'); GDOFF=$(js 'j["regions"]["gd"][0]')
hostile () {   # NAME: a fresh copy of level 1 beside it; prints the extent
  sed "s/vm-000001-sesparse/$1-sesparse/" "$d/vm-000001.vmdk" > "$d/$1.vmdk"
  cp --sparse=always "$d/vm-000001-sesparse.vmdk" "$d/$1-sesparse.vmdk"
  echo "$d/$1-sesparse.vmdk"
}
desc_of () { echo "${1%-sesparse.vmdk}.vmdk"; }
check sesparse_hostile_copy_reads_before_damage cat_matches "$(desc_of "$(hostile good)")" "$d/ref1.raw"

f=$(hostile magic); poke "$f" 0 8 0xcafebab0
check_fails sesparse_bad_magic_is_refused "magic-sesparse\.vmdk\" \(descriptor line [0-9]+\) has no seSparse header" lt info "$(desc_of "$f")"
f=$(hostile version); poke "$f" 8 8 0x0000000300000001
check_fails sesparse_unknown_version_is_refused "version-sesparse\.vmdk: unsupported seSparse version 0x0000000300000001" lt info "$(desc_of "$f")"
f=$(hostile grain); poke "$f" 24 8 16
check_fails sesparse_other_grain_size_is_refused "grain-sesparse\.vmdk: unsupported seSparse geometry: grains of 16 sectors" lt info "$(desc_of "$f")"
f=$(hostile flags); poke "$f" 40 8 1
check_fails sesparse_unknown_flags_are_refused "flags-sesparse\.vmdk: unsupported seSparse flags" lt info "$(desc_of "$f")"
f=$(hostile journal); poke "$f" $((512 + 24)) 8 1
check_fails sesparse_journal_to_replay_is_refused "journal-sesparse\.vmdk: seSparse journal must be replayed" lt info "$(desc_of "$f")"
f=$(hostile vmagic); poke "$f" 512 8 0
check_fails sesparse_bad_volatile_magic_is_refused "vmagic-sesparse\.vmdk: seSparse volatile header has a bad magic" lt info "$(desc_of "$f")"
f=$(hostile capacity); poke "$f" 16 8 $((SECT + 8))
check_fails sesparse_capacity_unlike_descriptor_is_refused "descriptor line [0-9]+ gives extent .*capacity-sesparse\.vmdk\" $SECT sectors, its header says $((SECT + 8))" lt info "$(desc_of "$f")"
# The grain tables region moved onto the constant header.
f=$(hostile gtheader); poke "$f" $((80 + 16 * 4)) 8 0
check_fails sesparse_table_region_in_header_is_refused "gtheader-sesparse\.vmdk: seSparse grain tables region at sector 0 .* overlaps the constant header" lt info "$(desc_of "$f")"
# ... or onto the grain directory.
f=$(hostile gtgd); poke "$f" $((80 + 16 * 4)) 8 64
check_fails sesparse_table_region_over_directory_is_refused "gtgd-sesparse\.vmdk: seSparse grain tables region .* overlaps the grain directory region" lt info "$(desc_of "$f")"
f=$(hostile gdshort); poke "$f" $((88 + 16 * 3)) 8 0
check_fails sesparse_empty_directory_is_refused "gdshort-sesparse\.vmdk: seSparse grain directory region at sector 64 \(0 sectors\)" lt info "$(desc_of "$f")"
f=$(hostile gde); poke "$f" "$GDOFF" 8 0x1000000000000999
check_fails sesparse_directory_entry_past_table_region_is_refused "gde-sesparse\.vmdk: seSparse grain directory entry 0 \(0x1000000000000999\) names no grain table" lt info "$(desc_of "$f")"
f=$(hostile gde2); poke "$f" "$GDOFF" 8 0x2000000000000000
check_fails sesparse_directory_entry_of_unknown_kind_is_refused "gde2-sesparse\.vmdk: seSparse grain directory entry 0" lt info "$(desc_of "$f")"
# A grain table entry whose grain index is past the file's end (but in
# the grains region): the read fails naming grain and offset.
f=$(hostile pasteof)
truncate -s $(( $(js 'j["regions"]["grains"][0]') + 4096 * 3 )) "$f"
poke "$f" "$GT0" 8 0x3000000000000000
check_fails sesparse_grain_past_end_of_file_fails_the_read "pasteof-sesparse\.vmdk: seSparse grain [0-9]+ \(disk offset [0-9]+\) at offset [0-9]+ points past end of file" lt cat "$(desc_of "$f")" "$T/o"
f=$(hostile idx); poke "$f" "$GT0" 8 0x3000ffffffffffff
check_fails sesparse_grain_index_past_grains_region_fails "idx-sesparse\.vmdk: seSparse grain 0 \(disk offset 0\) is grain [0-9]+ of a grains region of [0-9]+" lt cat "$(desc_of "$f")" "$T/o"
f=$(hostile gtetype); poke "$f" "$GT0" 8 0x7000000000000000
check_fails sesparse_unknown_grain_entry_type_fails "gtetype-sesparse\.vmdk: seSparse grain 0 \(disk offset 0\) has a grain table entry of unknown type" lt cat "$(desc_of "$f")" "$T/o"
f=$(hostile gte0); poke "$f" "$GT0" 8 0x0000000000000005
check_fails sesparse_unallocated_entry_with_bits_fails "gte0-sesparse\.vmdk: seSparse grain 0 .* unknown type \(0x0000000000000005\)" lt map "$(desc_of "$f")"
f=$(hostile cut); truncate -s $((GT0 + 100)) "$f"
check_fails sesparse_grain_table_past_end_of_file_fails "cut-sesparse\.vmdk: seSparse grain table [0-9]+ \(directory entry 0\) at offset $GT0 is past the end of the file" lt cat "$(desc_of "$f")" "$T/o"
f=$(hostile short); truncate -s 300 "$f"
check_fails sesparse_truncated_header_is_refused "short-sesparse\.vmdk: truncated: 300 bytes" lt info "$(desc_of "$f")"
# The extent alone is not a disk; its parent chain is in the descriptor.
check_fails sesparse_bare_extent_is_refused "is an seSparse extent, not a disk: open the descriptor" lt info "$d/vm-000001-sesparse.vmdk"
# A cycle in parent hints: level 1 names level 3 as its parent.
x="$T/cycle"; mkdir -p "$x"; cp --sparse=always "$d"/vm-00000* "$x/"
sed -i 's/^parentFileNameHint=.*/parentFileNameHint="vm-000003.vmdk"/' "$x/vm-000001.vmdk"
check_fails sesparse_cycle_in_parent_hints_is_refused "parent loop: .*vm-000003\.vmdk\" is already in this disk's chain" lt info "$x/vm-000003.vmdk"
finish
