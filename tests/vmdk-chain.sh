#!/usr/bin/env bash
# VMDK snapshot chains: delta disks (parentCID / parentFileNameHint) read
# over their parents, 3 deep, hosted sparse and descriptor deltas, one in a
# subfolder naming its parent relative to that folder (../), and an ESX
# vmfsSparse (COWD) delta.
# Bytes are compared with qemu-img convert -O raw of the top (through the
# layer stack, the mount, vmimport copy and over HTTP); the map with qemu-img map both
# ways (our data covers qemu's, our holes are holes in the whole chain).
# Broken chains (parent changed since the snapshot, missing parent, loops,
# too deep, parent not a VMDK) are refused with a message naming the cause.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"
GEN="$S/tests/vmdk-gen.py"
lt () { timeout 60 "$LT" "$@"; }
M=1048576

# map_matches_qemu SRC: our extents against qemu-img map of SRC.
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
        # Our holes are the chain's: nothing there in any layer, or
        # zeros (a flat base's own holes, which qemu calls zero data).
        if t == "hole" and r["present"] and not r["zero"]:
            bad.append("our hole %d+%d is data in qemu (%s)" % (o, e - o, r))
if bad:
    sys.exit("\n".join(bad[:10]))
PY
}
cat_matches () { lt cat "$1" "$T/cat.out" && cmp "$2" "$T/cat.out"; }

# --- A 3-deep chain as qemu makes it ----------------------------------------
# base: monolithicFlat (a descriptor and a flat file); mid: a hosted sparse
# delta in a subfolder, naming "../base.vmdk" (relative to its own folder);
# top: a twoGbMaxExtentSparse delta (a descriptor whose extents are sparse
# files) naming "snap/mid.vmdk".  Every file stays inside the top's folder.
d="$T/chain"; mkdir -p "$d/snap"
qemu-img create -q -f vmdk -o subformat=monolithicFlat "$d/base.vmdk" 48M
qemu-io -f vmdk -c 'write -P 0x11 0 8M' -c 'write -P 0x12 20M 4M' -c 'write -P 0x13 47M 1M' "$d/base.vmdk" >/dev/null
qemu-img create -q -f vmdk -b ../base.vmdk -F vmdk "$d/snap/mid.vmdk"
qemu-io -f vmdk -c 'write -P 0x21 4M 8M' -c 'write -P 0x22 21M 64k' -c 'write -P 0x23 30M 3M' "$d/snap/mid.vmdk" >/dev/null
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse -b snap/mid.vmdk -F vmdk "$d/top.vmdk"
qemu-io -f vmdk -c 'write -P 0x31 6M 64k' -c 'write -P 0x32 31M 1M' -c 'write -P 0x33 40M 512' "$d/top.vmdk" >/dev/null
qemu-img convert -O raw "$d/top.vmdk" "$d/ref.raw"
# 2 deep: a hosted sparse delta beside the base (mid's own parent is
# outside mid's folder, which local images may not reach on their own).
qemu-img create -q -f vmdk -b base.vmdk -F vmdk "$d/two.vmdk"
qemu-io -f vmdk -c 'write -P 0x51 2M 1M' -c 'write -P 0x52 46M 2M' "$d/two.vmdk" >/dev/null
qemu-img convert -O raw "$d/two.vmdk" "$d/two.raw"
check vmdk_chain_fixture_is_3_deep bash -c "qemu-img info --backing-chain '$d/top.vmdk' | grep -c '^image:' | grep -qx 3"
check vmdk_chain_3_deep_cat_matches_qemu cat_matches "$d/top.vmdk" "$d/ref.raw"
check vmdk_chain_2_deep_sparse_delta_cat_matches_qemu cat_matches "$d/two.vmdk" "$d/two.raw"
check vmdk_chain_3_deep_map_matches_qemu map_matches_qemu "$d/top.vmdk"
check vmdk_chain_2_deep_map_matches_qemu map_matches_qemu "$d/two.vmdk"
check vmdk_chain_random_reads_match_qemu lt random "$d/top.vmdk" "$d/ref.raw" 500 4 11
check vmdk_chain_copy_matches_qemu bash -c "'$VMI' copy --quiet '$d/top.vmdk' '$T/copy.out' && cmp '$d/ref.raw' '$T/copy.out'"
rm -f "$T/copy.out"

mount_matches_qemu vmdk_chain "$d/top.vmdk" top "$d/ref.raw"

# Over HTTP: the parents are URLs beside the top (snap/../base.vmdk too).
check vmdk_chain_over_http_starts nginx_start "$d"
check vmdk_chain_over_http_matches_qemu cat_matches "$NGINX_URL/top.vmdk" "$d/ref.raw"
nginx_stop

# --- An ESX vmfsSparse delta: a descriptor naming a COWD extent -------------
# Grains that are all zeros in delta.raw stay unallocated (the parent's).
# (No blank line before the extent line: qemu's sscanf then reads the extent
# twice and doubles the disk.)
truncate -s 48M "$T/delta.raw"
for at in 1 9 22 33; do
  head -c 100000 /dev/urandom | dd of="$T/delta.raw" bs=1 seek=$((at * M + 4096)) conv=notrunc status=none
done
python3 "$GEN" cowd "$T/delta.raw" "$d/esx-000001-delta.vmdk"
cid=$(sed -n 's/^CID=//p' "$d/base.vmdk")
printf '# Disk DescriptorFile\nversion=1\nCID=0badcafe\nparentCID=%s\ncreateType="vmfsSparse"\nparentFileNameHint="base.vmdk"\n# Extent description\nRW %d VMFSSPARSE "esx-000001-delta.vmdk"\n' \
  "$cid" $((48 * 2048)) > "$d/esx-000001.vmdk"
qemu-img convert -O raw "$d/esx-000001.vmdk" "$d/esx.raw"
check vmdk_vmfssparse_delta_cat_matches_qemu cat_matches "$d/esx-000001.vmdk" "$d/esx.raw"
check vmdk_vmfssparse_delta_map_matches_qemu map_matches_qemu "$d/esx-000001.vmdk"
check vmdk_vmfssparse_delta_is_not_its_parent bash -c "! cmp -s '$d/esx.raw' '$d/two.raw'"

# --- Broken chains ----------------------------------------------------------
# The parent written after the snapshot: its CID moved on (qemu refuses too).
b="$T/changed"; cp -r "$d" "$b"
qemu-io -f vmdk -c 'write -P 0x44 0 4k' "$b/snap/mid.vmdk" >/dev/null
check vmdk_changed_parent_also_fails_in_qemu bash -c "! qemu-img convert -O raw '$b/top.vmdk' '$T/x.raw' 2>/dev/null"
check_fails vmdk_changed_parent_is_refused "top\.vmdk: parentCID [0-9a-f]{8} does not match CID [0-9a-f]{8} of parent \"snap/mid\.vmdk\"" lt info "$b/top.vmdk"
rm -f "$b/base.vmdk"
check_fails vmdk_missing_grandparent_is_refused "parent \"snap/mid\.vmdk\": .*mid\.vmdk: parent \"\.\./base\.vmdk\"" lt info "$b/top.vmdk"

desc_delta () {   # NAME HINT [PARENTCID]: a vmfsSparse delta over the COWD
  printf '# Disk DescriptorFile\nversion=1\nCID=%s\nparentCID=%s\ncreateType="vmfsSparse"\n%s\nRW %d VMFSSPARSE "esx-000001-delta.vmdk"\n' \
    "${4:-0badcafe}" "${3:-0badcafe}" "$2" $((48 * 2048)) > "$d/$1.vmdk"
  echo "$d/$1.vmdk"
}
f=$(desc_delta self 'parentFileNameHint="self.vmdk"')
check_fails vmdk_delta_naming_itself_is_refused "self\.vmdk: parent loop: .*self\.vmdk\" is already in this disk's chain" lt info "$f"
desc_delta loopa 'parentFileNameHint="loopb.vmdk"' >/dev/null
f=$(desc_delta loopb 'parentFileNameHint="./snap/../loopa.vmdk"')
check_fails vmdk_two_deltas_naming_each_other_are_refused "parent loop: .*loopb\.vmdk\" is already in this disk's chain" lt info "$f"
f=$(desc_delta nohint '')
check_fails vmdk_delta_without_parent_hint_is_refused "nohint\.vmdk: is a delta disk \(parentCID 0badcafe\) but names no parent" lt info "$f"
f=$(desc_delta rawparent 'parentFileNameHint="esx.raw"')
check_fails vmdk_parent_not_vmdk_is_refused "rawparent\.vmdk: parent \".*esx\.raw\" is not a VMDK" lt info "$f"
f=$(desc_delta badcid 'parentFileNameHint="base.vmdk"' 'xyz')
check_fails vmdk_bad_parent_cid_is_refused "badcid\.vmdk: descriptor line [0-9]+: parentCID is not 8 hex digits" lt info "$f"
# 33 deltas over one base: VMware's limit is 32.
desc_delta deep0 'parentFileNameHint="base.vmdk"' "$cid" 00000000 >/dev/null
for i in $(seq 1 33); do
  desc_delta deep$i "parentFileNameHint=\"deep$((i - 1)).vmdk\"" 00000000 00000000 >/dev/null
done
check vmdk_chain_of_32_deltas_reads lt info "$d/deep31.vmdk"
check_fails vmdk_chain_of_34_deltas_is_refused "chain of parents is longer than 32 files" lt info "$d/deep33.vmdk"
finish
