#!/usr/bin/env python3
"""Rewrite the parentFileNameHint of a monolithicSparse VMDK made by
qemu-img (its descriptor is embedded, padded with NULs): a test fixture for
parent names qemu-img will not write, such as a linked clone's absolute
/vmfs/volumes/<datastore>/dir/base.vmdk.
    vmdk-set-hint.py FILE OLD-HINT NEW-HINT"""
import sys

path, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
b = open(path, "rb").read()
key_old = b'parentFileNameHint="' + old + b'"'
key_new = b'parentFileNameHint="' + new + b'"'
i = b.index(key_old)
end = b.index(b"\0", i)             # the descriptor text ends in NUL padding
grow = len(key_new) - len(key_old)
if grow < 0 or b[end:end + grow] != b"\0" * grow:
    sys.exit("vmdk-set-hint: no room in the descriptor of %s" % path)
b = b[:i] + key_new + b[i + len(key_old):end] + b[end + grow:]
open(path, "wb").write(b)
