#!/usr/bin/env python3
"""Rewrite the parentFileNameHint of a monolithicSparse VMDK made by
qemu-img (its descriptor is embedded in the sectors the header names): a
test fixture for parent names qemu-img will not write, such as a linked
clone's absolute /vmfs/volumes/<datastore>/dir/base.vmdk.
    vmdk-set-hint.py FILE OLD-HINT NEW-HINT
The descriptor's sectors are written whole: its text, then NULs to their
end (whatever followed the text before, e.g. an older longer descriptor)."""
import struct
import sys

path, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
b = bytearray(open(path, "rb").read())
if b[:4] != b"KDMV":
    sys.exit("vmdk-set-hint: %s is not a sparse VMDK (magic %r)" % (path, bytes(b[:4])))
desc_sec, desc_n = struct.unpack_from("<QQ", b, 28)
start, size = desc_sec * 512, desc_n * 512
if desc_sec == 0 or size == 0 or start + size > len(b):
    sys.exit("vmdk-set-hint: %s has no embedded descriptor (sectors %d+%d)"
             % (path, desc_sec, desc_n))
region = bytes(b[start:start + size])
nul = region.find(b"\0")
text = region if nul < 0 else region[:nul]
key_old = b'parentFileNameHint="' + old + b'"'
if key_old not in text:
    sys.exit("vmdk-set-hint: %s: no %s in its descriptor" % (path, key_old.decode()))
text = text.replace(key_old, b'parentFileNameHint="' + new + b'"', 1)
if len(text) > size:
    sys.exit("vmdk-set-hint: no room in the descriptor of %s (%d bytes of text, "
             "%d of sectors)" % (path, len(text), size))
b[start:start + size] = text + b"\0" * (size - len(text))
open(path, "wb").write(b)
