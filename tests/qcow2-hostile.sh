#!/usr/bin/env bash
# Hostile and unsupported QCOW2 images: each is refused at open with a
# message naming the cause, or the read gets an error naming the file and
# the offsets.  Never a crash (ASan/UBSan abort), never a hang (timeout).
. "$VMI_SRC/tests/lib.sh"

# Edits a QCOW2 file in place (the test's own forger, independent of ours).
cat > "$T/forge.py" <<'PY'
import struct, sys, zlib
cmd, img = sys.argv[1], sys.argv[2]
f = open(img, "r+b")
def rd(off, n): f.seek(off); return f.read(n)
def wr(off, b): f.seek(off); f.write(b)
h = rd(0, 112)
cb = struct.unpack(">I", h[20:24])[0]
cs = 1 << cb
l1off = struct.unpack(">Q", h[40:48])[0]
ver = struct.unpack(">I", h[4:8])[0]
ext = ver >= 3 and (struct.unpack(">Q", h[72:80])[0] >> 4) & 1
esz = 16 if ext else 8
l2n = cs // esz
def l2_addr(g):
    l1e = struct.unpack(">Q", rd(l1off + 8 * (g // cs // l2n), 8))[0]
    l2 = l1e & 0x00fffffffffffe00
    assert l2, "no L2 table there"
    return l2 + esz * ((g // cs) % l2n)
a = sys.argv[3:]
if cmd == "u32":          # u32 OFFSET VALUE
    wr(int(a[0]), struct.pack(">I", int(a[1], 0)))
elif cmd == "u64":        # u64 OFFSET VALUE
    wr(int(a[0]), struct.pack(">Q", int(a[1], 0)))
elif cmd == "or64":       # or64 OFFSET BITS
    v = struct.unpack(">Q", rd(int(a[0]), 8))[0]
    wr(int(a[0]), struct.pack(">Q", v | int(a[1], 0)))
elif cmd == "l1":         # l1 INDEX VALUE
    wr(l1off + 8 * int(a[0]), struct.pack(">Q", int(a[1], 0)))
elif cmd == "l2":         # l2 GUEST_OFFSET VALUE [BITMAP]
    ad = l2_addr(int(a[0]))
    wr(ad, struct.pack(">Q", int(a[1], 0)))
    if len(a) > 2:
        wr(ad + 8, struct.pack(">Q", int(a[2], 0)))
elif cmd == "l2get":      # l2get GUEST_OFFSET: print the entry
    print(hex(struct.unpack(">Q", rd(l2_addr(int(a[0])), 8))[0]))
elif cmd in ("cgarbage", "cshort"):   # the compressed stream at GUEST_OFFSET
    e = struct.unpack(">Q", rd(l2_addr(int(a[0])), 8))[0]
    assert e >> 62 & 1, "not a compressed cluster"
    shift = 62 - (cb - 8)
    off = e & ((1 << shift) - 1)
    if cmd == "cgarbage":
        wr(off, bytes((i * 37 + 11) & 255 for i in range(300)))
    else:   # a valid raw deflate stream of 1000 bytes: too short a cluster
        c = zlib.compressobj(9, zlib.DEFLATED, -12)
        wr(off, c.compress(b"x" * 1000) + c.flush())
elif cmd == "cmove":      # point the compressed descriptor past the end
    ad = l2_addr(int(a[0]))
    e = struct.unpack(">Q", rd(ad, 8))[0]
    shift = 62 - (cb - 8)
    wr(ad, struct.pack(">Q", (e & ~((1 << shift) - 1)) | (1 << 40)))
PY
forge () { python3 "$T/forge.py" "$@"; }

# fails_cleanly REGEX CMD...: CMD exits 1 (not a signal, not a sanitizer's
# abort, not a timeout) and says something matching REGEX.
fails_cleanly () {
  local regex=$1 rc; shift
  timeout 20 "$@" >"$T/fc.out" 2>&1
  rc=$?
  cat "$T/fc.out"
  if [ "$rc" -ne 1 ]; then echo "exit status $rc, want 1 (a clean failure)"; return 1; fi
  grep -Eq -- "$regex" "$T/fc.out" || { echo "message does not match /$regex/"; return 1; }
}
refused () {   # NAME REGEX IMG: opening fails
  check "$1" fails_cleanly "$2" "$LT" info "$3"
}
read_fails () {   # NAME REGEX IMG: opens, but reading every byte fails
  check "$1" fails_cleanly "$2" "$LT" cat "$3" "$T/out.raw"
}
fresh () {   # IMG [create options]: a v3 image with data in its first clusters
  local img=$1; shift
  qemu-img create -q -f qcow2 "$@" "$img" 8M
  qemu-io -f qcow2 -c 'write -P 0x61 0 256k' -c 'write -P 0x62 5m 64k' "$img" >/dev/null
}

# --- Features we must not read through.
printf '%s' 'not-a-real-secret' > "$T/pw"
# qemu-img times its PBKDF by the thread's CPU time and gives up ("Unable
# to get accurate CPU usage") when a run measures 0 ms, which happens on
# VMs that account CPU time by the tick.  Try a few times; if it never
# works, take a plain image and set its header's crypt_method (offset 32)
# to 2, which is what we refuse on, and say so in the log.
for i in 1 2 3 4 5 6; do
  qemu-img create -q -f qcow2 --object "secret,id=sec0,file=$T/pw" \
    -o encrypt.format=luks,encrypt.key-secret=sec0 "$T/luks.qcow2" 8M && break
  echo "qemu-img create (LUKS) failed, attempt $i" >&2
done
if [ ! -s "$T/luks.qcow2" ]; then
  echo "no LUKS image from qemu-img: crypt_method set to 2 in a plain one" >&2
  qemu-img create -q -f qcow2 "$T/luks.qcow2" 8M
  printf '\x00\x00\x00\x02' | dd of="$T/luks.qcow2" bs=1 seek=32 conv=notrunc status=none
fi
refused encrypted_luks_refused 'luks.qcow2: .*encrypted \(crypt_method 2, LUKS\)' "$T/luks.qcow2"
check encrypted_message_has_no_secret bash -c "! '$LT' info '$T/luks.qcow2' 2>&1 | grep -q not-a-real-secret"
fresh "$T/aes.qcow2"
forge u32 "$T/aes.qcow2" 32 1
refused encrypted_aes_refused 'encrypted \(crypt_method 1, AES\)' "$T/aes.qcow2"

qemu-img create -q -f qcow2 -o data_file="$T/external.raw" "$T/datafile.qcow2" 8M
refused external_data_file_refused 'datafile.qcow2: .*external data file \(".*external.raw"' "$T/datafile.qcow2"

fresh "$T/unknown.qcow2"
forge or64 "$T/unknown.qcow2" 72 $((1<<5))
refused unknown_incompatible_bit_refused 'unknown incompatible feature bit 5' "$T/unknown.qcow2"
fresh "$T/unknown63.qcow2"
forge or64 "$T/unknown63.qcow2" 72 0x8000000000000000
refused unknown_incompatible_bit_63_refused 'unknown incompatible feature bit 63' "$T/unknown63.qcow2"

fresh "$T/corrupt.qcow2"
forge or64 "$T/corrupt.qcow2" 72 2
refused corrupt_bit_refused 'corrupt.qcow2: .*marked corrupt' "$T/corrupt.qcow2"

# Dirty (lazy refcounts not yet written back): read as it is.
fresh "$T/dirty.qcow2"
qemu-img convert -O raw "$T/dirty.qcow2" "$T/dirty.ref"
forge or64 "$T/dirty.qcow2" 72 1
check dirty_bit_image_reads_as_before bash -c \
  "'$LT' cat '$T/dirty.qcow2' '$T/dirty.out' && cmp '$T/dirty.ref' '$T/dirty.out'"

# --- Broken headers.
fresh "$T/v1.qcow2"
forge u32 "$T/v1.qcow2" 4 1
refused version_1_refused 'version 1 \(only 2 and 3' "$T/v1.qcow2"
for bits in 8 30 0 4294967295; do
  fresh "$T/cb$bits.qcow2"
  forge u32 "$T/cb$bits.qcow2" 20 "$bits"
  refused "cluster_bits_${bits}_refused" "cluster_bits $bits is out of range" "$T/cb$bits.qcow2"
done
fresh "$T/absurd.qcow2"
forge u64 "$T/absurd.qcow2" 24 $((1<<60))
refused absurd_size_refused 'virtual size 1152921504606846976 is absurd' "$T/absurd.qcow2"
fresh "$T/l1small.qcow2"
forge u32 "$T/l1small.qcow2" 36 0
refused l1_table_too_small_refused 'L1 table has 0 entries; virtual size 8388608 needs 1' "$T/l1small.qcow2"
fresh "$T/l1huge.qcow2"
forge u32 "$T/l1huge.qcow2" 36 0xffffffff
refused l1_table_too_large_refused 'L1 table of 4294967295 entries is larger than 32 MiB' "$T/l1huge.qcow2"
fresh "$T/l1off.qcow2"
forge u64 "$T/l1off.qcow2" 40 $((1<<40))
refused l1_table_past_eof_refused 'L1 table at offset 1099511627776 .* past the end of the file' "$T/l1off.qcow2"
fresh "$T/hlen.qcow2"
forge u32 "$T/hlen.qcow2" 100 99999
refused header_length_refused 'header_length 99999 is invalid' "$T/hlen.qcow2"
fresh "$T/ext.qcow2"
forge u32 "$T/ext.qcow2" 112 0x6803f857; forge u32 "$T/ext.qcow2" 116 0x7fffffff
refused header_extension_too_long_refused 'header extension 0x6803f857 .* past the end' "$T/ext.qcow2"
fresh "$T/ctype.qcow2"
forge or64 "$T/ctype.qcow2" 72 8      # compression type bit; type field 0
refused compression_type_bit_without_type_refused 'compression type bit set but compression_type is 0' "$T/ctype.qcow2"

# --- Truncated files.
fresh "$T/trunc.qcow2"
cp "$T/trunc.qcow2" "$T/trunc-hdr.qcow2"
truncate -s 50 "$T/trunc-hdr.qcow2"
refused truncated_to_50_bytes_refused 'file is 50 bytes, shorter than a header' "$T/trunc-hdr.qcow2"
# Keep the header and tables (the first data cluster is at 327680), cut the data.
[ "$(forge l2get "$T/trunc.qcow2" 0)" = 0x8000000000050000 ] || echo "unexpected layout"
truncate -s 427680 "$T/trunc.qcow2"
read_fails truncated_data_read_fails_naming_offsets \
  'trunc.qcow2: guest offset 131072 maps to host offset 458752, past the end of the file \(size 427680\)' "$T/trunc.qcow2"

# --- Tables pointing past the end of the file, or misaligned.
fresh "$T/l1eof.qcow2"
forge l1 "$T/l1eof.qcow2" 0 $((1<<45))
refused l1_entry_past_eof_refused 'L1 entry 0 \(guest offset 0\): L2 table at host offset 35184372088832 is past the end' "$T/l1eof.qcow2"
fresh "$T/l1mis.qcow2"
forge l1 "$T/l1mis.qcow2" 0 $((65536*3 + 512))
refused l1_entry_misaligned_refused 'L1 entry 0 .* not aligned' "$T/l1mis.qcow2"
fresh "$T/l2eof.qcow2"
forge l2 "$T/l2eof.qcow2" 65536 0x8000100000000000
read_fails l2_entry_past_eof_read_fails \
  'l2eof.qcow2: guest offset 65536 maps to host offset 17592186044416, past the end of the file' "$T/l2eof.qcow2"
check l2_entry_past_eof_map_still_works "$LT" map "$T/l2eof.qcow2"
fresh "$T/l2mis.qcow2"
forge l2 "$T/l2mis.qcow2" 0 0x8000000000041000
read_fails l2_entry_misaligned_read_fails 'guest offset 0: cluster offset is not aligned' "$T/l2mis.qcow2"
qemu-img create -q -f qcow2 -o extended_l2=on "$T/sub.qcow2" 8M
qemu-io -f qcow2 -c 'write -P 1 0 64k' "$T/sub.qcow2" >/dev/null
e=$(forge l2get "$T/sub.qcow2" 0)
forge l2 "$T/sub.qcow2" 0 "$e" 0x0000000100000001
read_fails subcluster_allocated_and_zero_read_fails 'guest offset 0: subcluster is both allocated and zero' "$T/sub.qcow2"
forge l2 "$T/sub.qcow2" 0 0 0x1
read_fails subcluster_allocated_without_offset_read_fails 'subcluster is allocated in a cluster with no host offset' "$T/sub.qcow2"

# --- Compressed clusters that are not what they claim.
head -c $((1<<20)) /dev/urandom | base64 > "$T/text"    # compressible
truncate -s 2M "$T/text"
for ct in zlib zstd; do
  qemu-img convert -q -c -f raw -O qcow2 -o compression_type=$ct "$T/text" "$T/c-$ct.qcow2"
  cp "$T/c-$ct.qcow2" "$T/cg-$ct.qcow2"
  forge cgarbage "$T/cg-$ct.qcow2" 131072
  read_fails "compressed_${ct}_garbage_read_fails" \
    "cg-$ct.qcow2: compressed cluster at guest offset 131072 \(host offset [0-9]+, [0-9]+ bytes\): (deflate|zstd)" "$T/cg-$ct.qcow2"
  cp "$T/c-$ct.qcow2" "$T/cm-$ct.qcow2"
  forge cmove "$T/cm-$ct.qcow2" 65536
  read_fails "compressed_${ct}_past_eof_read_fails" \
    "compressed cluster at guest offset 65536: host offset 1099511627776 is past the end of the file" "$T/cm-$ct.qcow2"
done
cp "$T/c-zlib.qcow2" "$T/cs.qcow2"
forge cshort "$T/cs.qcow2" 0
read_fails compressed_short_stream_read_fails \
  'compressed cluster at guest offset 0 .*inflates to less than the cluster size' "$T/cs.qcow2"

# --- Backing files: loops, depth, missing.
qemu-img create -q -f qcow2 "$T/a.qcow2" 8M
qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 "$T/b.qcow2"
qemu-img rebase -q -u -b b.qcow2 -F qcow2 "$T/a.qcow2"
refused backing_loop_refused 'backing file loop: ".*a.qcow2" is already in' "$T/a.qcow2"
qemu-img create -q -f qcow2 "$T/self.qcow2" 8M
qemu-img rebase -q -u -b ./self.qcow2 -F qcow2 "$T/self.qcow2"
refused backing_self_loop_refused 'backing file loop' "$T/self.qcow2"
qemu-img create -q -f raw "$T/deep0.img" 1M
prev=deep0.img; pf=raw
for i in $(seq 1 17); do
  qemu-img create -q -f qcow2 -b $prev -F $pf "$T/deep$i.qcow2"
  prev=deep$i.qcow2; pf=qcow2
done
check backing_chain_of_16_opens bash -c "'$LT' info '$T/deep16.qcow2'"
refused backing_chain_of_17_refused 'backing chain is longer than 16 files' "$T/deep17.qcow2"
qemu-img create -q -f qcow2 -b "$T/missing.qcow2" -F qcow2 -u "$T/orphan.qcow2" 8M
refused missing_backing_refused 'orphan.qcow2: backing file ".*missing.qcow2": .*No such file' "$T/orphan.qcow2"
qemu-img create -q -f qcow2 "$T/fmt.qcow2" 8M
qemu-img rebase -q -u -b deep0.img -F qed "$T/fmt.qcow2" 2>/dev/null
if qemu-img info "$T/fmt.qcow2" 2>/dev/null | grep -q 'backing file format: qed'; then
  refused unsupported_backing_format_refused 'backing file format "qed" is not supported' "$T/fmt.qcow2"
fi
finish
