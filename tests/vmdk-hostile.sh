#!/usr/bin/env bash
# Hostile VMDKs: each fails at open with a message naming the cause, or the
# affected read fails naming the file and offset.  Never a crash (ASan,
# UBSan), never a hang (timeout), never wrong bytes.
. "$VMI_SRC/tests/lib.sh"
GEN="$S/tests/vmdk-gen.py"
lt () { timeout 20 "$LT" "$@"; }

# poke FILE OFFSET BYTES VALUE: overwrite a little-endian integer in place.
poke () {
  local s="" i
  for ((i = 0; i < $3; i++)); do s+=$(printf '\\x%02x' $(( ($4 >> (8 * i)) & 255 ))); done
  printf "$s" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none
}
# peek FILE OFFSET BYTES: print the little-endian integer there.
peek () { od -A n -t u$3 -j $(($2)) -N $3 "$1" | tr -d ' '; }

head -c $((2 * 1048576)) /dev/urandom > "$T/src.raw"
truncate -s $((4 * 1048576 + 512)) "$T/src.raw"
qemu-img convert -O vmdk -o subformat=monolithicSparse "$T/src.raw" "$T/good.vmdk"
python3 "$GEN" stream "$T/src.raw" "$T/stream.vmdk"
check vmdk_hostile_fixtures_are_good_before_damage bash -c "'$LT' cat '$T/good.vmdk' '$T/o' && cmp '$T/o' '$T/src.raw' && '$LT' cat '$T/stream.vmdk' '$T/o' && cmp '$T/o' '$T/src.raw'"

fresh () { cp "$T/good.vmdk" "$T/$1.vmdk"; echo "$T/$1.vmdk"; }
GD=$(( $(peek "$T/good.vmdk" 56 8) * 512 ))

# --- sparse header ---------------------------------------------------------
f=$(fresh short); truncate -s 300 "$f"
check_fails vmdk_truncated_header_is_refused "short\.vmdk: truncated: 300 bytes" lt info "$f"
f=$(fresh cut); truncate -s $((GD + 1024)) "$f"
check_fails vmdk_truncated_before_grains_is_refused "cut\.vmdk: (truncated: header says grains start|grain table [0-9]+ at offset [0-9]+ points past end of file)" lt info "$f"
f=$(fresh cutdata); truncate -s $(( $(stat -c %s "$f") - 1048576 )) "$f"
check_fails vmdk_grain_past_truncated_end_fails_read_naming_offset "cutdata\.vmdk: grain [0-9]+ at offset [0-9]+ points past end of file \(size [0-9]+\)" lt cat "$f" "$T/o"
f=$(fresh cap); poke "$f" 12 8 $((1 << 60))
check_fails vmdk_absurd_capacity_is_refused "cap\.vmdk: capacity of [0-9]+ sectors is absurd" lt info "$f"
f=$(fresh capmax); poke "$f" 12 8 0xffffffffffffffff
check_fails vmdk_overflowing_capacity_is_refused "capmax\.vmdk: capacity of 18446744073709551615 sectors is absurd" lt info "$f"
f=$(fresh grain); poke "$f" 20 8 100
check_fails vmdk_grain_size_not_power_of_two_is_refused "grain\.vmdk: grain size of 100 sectors is not a power of two" lt info "$f"
f=$(fresh hugegrain); poke "$f" 20 8 $((1 << 40))
check_fails vmdk_huge_grain_size_is_refused "hugegrain\.vmdk: grain size of 1099511627776 sectors" lt info "$f"
f=$(fresh gtes); poke "$f" 44 4 0
check_fails vmdk_zero_entries_per_grain_table_is_refused "gtes\.vmdk: 0 entries per grain table" lt info "$f"
f=$(fresh gtes2); poke "$f" 44 4 100000
check_fails vmdk_huge_grain_tables_are_refused "gtes2\.vmdk: 100000 entries per grain table" lt info "$f"
f=$(fresh ver); poke "$f" 4 4 4
check_fails vmdk_unknown_version_is_refused "ver\.vmdk: unsupported sparse VMDK version 4" lt info "$f"
f=$(fresh alg); poke "$f" 77 2 7
check_fails vmdk_unknown_compression_is_refused "alg\.vmdk: unsupported compression algorithm 7" lt info "$f"
f=$(fresh nl); poke "$f" 75 1 10
check_fails vmdk_text_mode_transfer_is_detected "nl\.vmdk: newline check bytes" lt info "$f"
f=$(fresh gdoff); poke "$f" 56 8 $((1 << 40))
check_fails vmdk_grain_directory_past_end_is_refused "gdoff\.vmdk: grain directory at sector [0-9]+ .* past end of file" lt info "$f"
f=$(fresh gt); poke "$f" $GD 4 0x7fffffff
check_fails vmdk_grain_table_past_end_is_refused_at_open "gt\.vmdk: grain table 0 at offset 1099511627264 points past end of file \(size [0-9]+\)" lt info "$f"
f=$(fresh gte); GT0=$(( $(peek "$f" $GD 4) * 512 )); poke "$f" $GT0 4 0x7fffffff
check_fails vmdk_grain_past_end_fails_read_with_file_and_offset "gte\.vmdk: grain 0 at offset 1099511627264 points past end of file" lt cat "$f" "$T/o"

# --- streamOptimized --------------------------------------------------------
fs () { cp "$T/stream.vmdk" "$T/$1.vmdk"; echo "$T/$1.vmdk"; }
FIRST=$((21 * 512))   # the generator's first grain marker
f=$(fs badz); poke "$f" $((FIRST + 12 + 10)) 8 0x1122334455667788
check_fails vmdk_grain_that_does_not_inflate_fails_read "badz\.vmdk: compressed grain 0 at offset $FIRST does not inflate" lt cat "$f" "$T/o"
python3 "$GEN" stream "$T/src.raw" "$T/shortz.vmdk" --short-first-grain
check_fails vmdk_grain_inflating_short_fails_read "shortz\.vmdk: compressed grain 0 at offset $FIRST inflates to 1000 bytes, expected 65536" lt cat "$T/shortz.vmdk" "$T/o"
f=$(fs lba); poke "$f" $FIRST 8 999
check_fails vmdk_grain_marker_for_other_sector_fails_read "lba\.vmdk: grain marker at offset $FIRST is for sector 999, expected 0" lt cat "$f" "$T/o"
f=$(fs csize); poke "$f" $((FIRST + 8)) 4 0xffffffff
check_fails vmdk_compressed_size_past_limit_fails_read "csize\.vmdk: compressed grain 0 at offset $FIRST has size 4294967295" lt cat "$f" "$T/o"
f=$(fs nofooter); truncate -s $(( $(stat -c %s "$f") - 512 )) "$f"
check_fails vmdk_stream_without_footer_is_refused "nofooter\.vmdk: header says the grain directory is in the footer, but there is no valid footer" lt info "$f"
f=$(fs tiny); truncate -s 1024 "$f"
check_fails vmdk_stream_cut_short_is_refused "tiny\.vmdk: .*(too small|truncated)" lt info "$f"
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/src.raw" "$T/qs.vmdk"
f="$T/qs.vmdk"; QGD=$(( $(peek "$f" 56 8) * 512 )); QGT=$(( $(peek "$f" $QGD 4) * 512 )); Z=$(( $(peek "$f" $QGT 4) * 512 ))
poke "$f" $((Z + 12)) 8 0
check_fails vmdk_qemu_stream_damaged_grain_fails_read "qs\.vmdk: compressed grain 0 at offset $Z does not inflate" lt cat "$f" "$T/o"

# --- descriptors -------------------------------------------------------------
mkdir -p "$T/d"
cp "$T/good.vmdk" "$T/d/s.vmdk"
SECT=$(( $(stat -c %s "$T/src.raw") / 512 ))
head -c 100000 /dev/urandom > "$T/d/small.bin"
desc () {   # NAME CREATETYPE LINES...
  local n=$1 ct=$2; shift 2
  { printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
    [ -n "$ct" ] && printf 'createType="%s"\n' "$ct"
    printf '# Extent description\n'; printf '%s\n' "$@"; } > "$T/d/$n.vmdk"
  echo "$T/d/$n.vmdk"
}
f=$(desc self monolithicFlat 'RW 100 FLAT "self.vmdk" 0')
check_fails vmdk_descriptor_naming_itself_flat_is_refused "self\.vmdk: extent .*self\.vmdk\" \(descriptor line [0-9]+\) is itself a VMDK descriptor" lt info "$f"
f=$(desc selfs twoGbMaxExtentSparse 'RW 100 SPARSE "selfs.vmdk"')
check_fails vmdk_descriptor_naming_itself_sparse_is_refused "selfs\.vmdk: extent .* is itself a VMDK descriptor; descriptors do not nest" lt info "$f"
desc loopb twoGbMaxExtentSparse 'RW 100 SPARSE "loopa.vmdk"' >/dev/null
f=$(desc loopa twoGbMaxExtentSparse 'RW 100 SPARSE "loopb.vmdk"')
check_fails vmdk_descriptor_loop_is_refused "loopa\.vmdk: extent .*loopb\.vmdk\" .* descriptors do not nest" lt info "$f"
f=$(desc flatsparse monolithicFlat "RW $SECT FLAT \"s.vmdk\" 0")
check_fails vmdk_sparse_file_as_flat_extent_is_refused "flatsparse\.vmdk: flat extent .*s\.vmdk\" .* holds a sparse VMDK header" lt info "$f"
f=$(desc big monolithicFlat 'RW 18446744073709551615 FLAT "small.bin" 0')
check_fails vmdk_overflowing_extent_size_is_refused "big\.vmdk: descriptor line [0-9]+: bad sector count" lt info "$f"
f=$(desc big2 monolithicFlat 'RW 2199023255553 FLAT "small.bin" 0')
check_fails vmdk_extent_over_2p50_is_refused "big2\.vmdk: descriptor line [0-9]+: extent larger than 2\^50 bytes" lt info "$f"
f=$(desc sum monolithicFlat 'RW 2199023255552 ZERO' 'RW 1 ZERO')
check_fails vmdk_extents_summing_past_2p50_are_refused "sum\.vmdk: descriptor line [0-9]+: extents add up to more than 2\^50" lt info "$f"
f=$(desc off monolithicFlat 'RW 10 FLAT "small.bin" 18446744073709551615')
check_fails vmdk_overflowing_flat_offset_is_refused "off\.vmdk: descriptor line [0-9]+: bad offset" lt info "$f"
f=$(desc short monolithicFlat 'RW 1000 FLAT "small.bin" 0')
check_fails vmdk_flat_extent_smaller_than_declared_is_refused "short\.vmdk: flat extent .*small\.bin\" is 100000 bytes, the descriptor \(line [0-9]+\) needs 512000" lt info "$f"
f=$(desc mism twoGbMaxExtentSparse "RW $((SECT - 1)) SPARSE \"s.vmdk\"")
check_fails vmdk_sparse_extent_size_mismatch_is_refused "mism\.vmdk: descriptor line [0-9]+ gives extent .*s\.vmdk\" $((SECT - 1)) sectors, its header says $SECT" lt info "$f"
f=$(desc ct foo 'RW 10 ZERO')
check_fails vmdk_unknown_create_type_is_refused "ct\.vmdk: unsupported createType \"foo\"" lt info "$f"
f=$(desc noct '' 'RW 10 ZERO')
check_fails vmdk_missing_create_type_is_refused "noct\.vmdk: descriptor has no createType" lt info "$f"
f=$(desc rdm vmfsRawDeviceMap 'RW 10 ZERO')
check_fails vmdk_unknown_device_create_type_is_refused "rdm\.vmdk: unsupported createType" lt info "$f"
f=$(desc rdm2 vmfsPassthroughRawDeviceMap 'RW 10 VMFSRDM "small.bin"')
check_fails vmdk_raw_device_mapping_is_refused "rdm2\.vmdk: (createType \"vmfsPassthroughRawDeviceMap\" maps a raw device|.*raw device)" lt info "$f"
f=$(desc weird monolithicFlat 'RW 10 WEIRD "small.bin"')
check_fails vmdk_unknown_extent_type_is_refused "weird\.vmdk: descriptor line [0-9]+: unknown extent type" lt info "$f"
f=$(desc noacc monolithicFlat 'NOACCESS 10 FLAT "small.bin" 0')
check_fails vmdk_noaccess_extent_is_refused "noacc\.vmdk: descriptor line [0-9]+: NOACCESS" lt info "$f"
f=$(desc none monolithicFlat)
check_fails vmdk_descriptor_without_extents_is_refused "none\.vmdk: descriptor names no extents" lt info "$f"
f=$(desc missing monolithicFlat 'RW 10 FLAT "not-there.bin" 0')
check_fails vmdk_missing_extent_file_is_refused "missing\.vmdk: extent \"not-there\.bin\" \(descriptor line [0-9]+\)" lt info "$f"
f=$(desc ver monolithicFlat 'RW 10 ZERO'); sed -i 's/^version=1/version=9/' "$f"
check_fails vmdk_unknown_descriptor_version_is_refused "ver\.vmdk: descriptor line [0-9]+: unsupported descriptor version" lt info "$f"
f=$(desc delta monolithicSparse "RW $SECT SPARSE \"s.vmdk\""); sed -i 's/^parentCID=ffffffff/parentCID=1234abcd\nparentFileNameHint="base.vmdk"/' "$f"
check_fails vmdk_delta_disk_without_its_parent_is_refused "delta\.vmdk: parent \"base\.vmdk\": .*base\.vmdk" lt info "$f"
f=$(desc huge monolithicFlat 'RW 10 ZERO'); head -c 1100000 /dev/zero | tr '\0' '#' >> "$f"
check_fails vmdk_huge_descriptor_is_refused "huge\.vmdk: [0-9]+ bytes is too large for a VMDK descriptor" lt info "$f"

# A COWD whose directory is too short for its capacity.
python3 "$GEN" cowd "$T/src.raw" "$T/d/c.vmdk"
poke "$T/d/c.vmdk" 24 4 0
f=$(desc cowd vmfsSparse "RW $SECT VMFSSPARSE \"c.vmdk\"")
check_fails vmdk_cowd_short_directory_is_refused "c\.vmdk: grain directory has 0 entries, capacity needs 1" lt info "$f"

# --- random damage: never a crash or a hang ----------------------------------
# Write N damaged copies (1 to 8 bytes changed in the first SPAN bytes).
cat > "$T/mutate.py" <<'PY'
import random, sys
src, prefix, n, span = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
orig = open(src, "rb").read()
for seed in range(n):
    r = random.Random(seed)
    b = bytearray(orig)
    for _ in range(r.randint(1, 8)):
        i = r.randrange(min(span, len(b)))
        b[i] = r.choice([0, 0xff, r.randrange(256), b[i] ^ (1 << r.randrange(8))])
    open("%s.%d" % (prefix, seed), "wb").write(b)
PY
survives () {   # SRC SPAN N
  local i rc
  python3 "$T/mutate.py" "$1" "$T/m" "$3" "$2" || return 1
  for i in $(seq 0 $(($3 - 1))); do
    timeout 20 "$LT" cat "$T/m.$i" "$T/o" >/dev/null 2>"$T/m.err"; rc=$?
    if [ $rc -ge 124 ]; then echo "copy $i: exit $rc"; cat "$T/m.err"; return 1; fi
    rm -f "$T/m.$i"
  done
}
check vmdk_random_header_damage_never_crashes survives "$T/good.vmdk" 512 40
check vmdk_random_metadata_damage_never_crashes survives "$T/good.vmdk" $((GD + 8192)) 40
check vmdk_random_stream_damage_never_crashes survives "$T/stream.vmdk" $(stat -c %s "$T/stream.vmdk") 40
finish
