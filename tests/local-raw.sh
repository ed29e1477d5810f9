#!/usr/bin/env bash
# Raw images pass through the layer stack unchanged, holes reported.
. "$VMI_SRC/tests/lib.sh"

make_ext4 "$T/plain.img" 100M
truncate -s 123456789 "$T/odd.img"            # not a multiple of anything
printf 'hello' | dd of="$T/odd.img" bs=1 seek=100000000 conv=notrunc status=none

for img in plain odd; do
  check "raw_${img}_cat_matches_source" bash -c "'$LT' cat '$T/$img.img' '$T/$img.out' && cmp '$T/$img.img' '$T/$img.out'"
  check "raw_${img}_random_reads_match" "$LT" random "$T/$img.img" "$T/$img.img" 2000 4 1
  check "raw_${img}_random_reads_through_cache_match" "$LT" random "$T/$img.img" "$T/$img.img" 2000 4 2 $((4<<20))
done
# Holes: the 123456789-byte file holds 5 bytes of data; most of it is hole.
check raw_holes_reported bash -c "'$LT' map '$T/odd.img' | grep -q ' hole\$'"
check raw_allocated_small bash -c "a=\$('$LT' info '$T/odd.img' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"allocated\"])'); [ \"\$a\" -le 1048576 ] && [ \"\$a\" -gt 0 ]"
finish
