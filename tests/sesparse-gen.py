#!/usr/bin/env python3
"""Write an seSparse delta disk (VMFS6 snapshots) for tests.

No tool writes seSparse, so this writes one from the format as qemu's reader
(block/vmdk.c) understands it: a descriptor NAME.vmdk (createType="seSparse",
parentCID, parentFileNameHint, one SESPARSE extent) and the extent
NAME-sesparse.vmdk.

  sesparse-gen.py [--compact] DIR NAME SECTORS PARENT PARENT_CID CID SPEC...

SECTORS is the capacity in 512-byte sectors (the parent's).  Each SPEC is
KIND:FIRST:COUNT in 4 KiB grains, applied in order (a later one wins):
  data    allocated grains of random bytes (seeded by NAME and the grain)
  zero    grains that read as zeros (type 2)
  unmap   unmapped grains (type 1), zeros too
  hole    back to unallocated (the parent's)
Grains are stored in a shuffled order, grain tables in reverse order of
their directory entries, so that no lookup is the identity.  The extent is
a sparse file (--compact: grains in reverse order from the start of
their region, so that the file stays small).  Prints the layout as JSON (byte offsets) for tests that
damage it: regions, "gt" (directory index -> table offset), "grains"
(disk grain -> file offset).
"""
import json
import os
import random
import struct
import sys

SECTOR = 512
GRAIN = 4096
GTES = 4096
GT_SECTORS = 64


def pad(b, n):
    return b + b"\0" * (n - len(b))


def main():
    compact = "--compact" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--compact"]
    d, name, sectors, parent, pcid, cid = args[:6]
    sectors = int(sectors)
    ngrains = (sectors * SECTOR + GRAIN - 1) // GRAIN
    ngd = (ngrains + GTES - 1) // GTES
    state = {}                                  # grain -> kind
    for spec in args[6:]:
        kind, first, count = spec.split(":")
        for g in range(int(first), int(first) + int(count)):
            if not 0 <= g < ngrains:
                sys.exit("grain %d is past the capacity" % g)
            if kind == "hole":
                state.pop(g, None)
            elif kind in ("data", "zero", "unmap"):
                state[g] = kind
            else:
                sys.exit("unknown kind " + kind)

    # Regions, in sectors: const header, volatile header, journal header,
    # journal, grain directory, grain tables, free bitmap, backmap, grains.
    gd_sectors = max(1, (ngd * 8 + SECTOR - 1) // SECTOR)
    regions = [(1, 1), (2, 2), (4, 60), (64, gd_sectors)]
    gt_off = (64 + gd_sectors + 63) // 64 * 64
    regions.append((gt_off, ngd * GT_SECTORS))
    fb_off = gt_off + ngd * GT_SECTORS
    regions += [(fb_off, 8), (fb_off + 8, 8)]
    grains_off = fb_off + 16
    regions.append((grains_off, ngrains * 8))

    rng = random.Random(name)
    data = sorted(g for g, k in state.items() if k == "data")
    if compact:
        slots = list(range(len(data)))[::-1]
    else:
        slots = rng.sample(range(ngrains), len(data))
    index = dict(zip(data, slots))
    used_gd = sorted({g // GTES for g in state})
    table_of = {gdi: ngd - 1 - gdi for gdi in used_gd}

    const = struct.pack("<QQQQQQQQQQ", 0xCAFEBABE, 0x0000000200000001,
                        sectors, 8, GT_SECTORS, 0, 0, 0, 0, 0)
    for off, size in regions:
        const += struct.pack("<QQ", off, size)
    volatile = struct.pack("<QQQQ", 0xCAFECAFE, 0, 1, 0)
    ext = "%s-sesparse.vmdk" % name
    path = os.path.join(d, ext)
    with open(path, "wb") as f:
        f.write(pad(const, SECTOR))
        f.write(pad(volatile, SECTOR))
        gd = [0] * ngd
        for gdi, t in table_of.items():
            gd[gdi] = 0x1000000000000000 | t
        f.seek(64 * SECTOR)
        f.write(struct.pack("<%dQ" % ngd, *gd))
        for gdi, t in table_of.items():
            e = [0] * GTES
            for i in range(GTES):
                k = state.get(gdi * GTES + i)
                if k == "zero":
                    e[i] = 0x2000000000000000
                elif k == "unmap":
                    e[i] = 0x1000000000000000
                elif k == "data":
                    x = index[gdi * GTES + i]
                    e[i] = 0x3000000000000000 | (x & 0xFFF) << 48 | x >> 12
            f.seek((gt_off + t * GT_SECTORS) * SECTOR)
            f.write(struct.pack("<%dQ" % GTES, *e))
        for g in data:
            r = random.Random("%s/%d" % (name, g))
            f.seek((grains_off + index[g] * 8) * SECTOR)
            f.write(r.randbytes(GRAIN))
    with open(os.path.join(d, name + ".vmdk"), "w") as f:
        f.write('# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\n'
                "CID=%s\nparentCID=%s\nisNativeSnapshot=\"no\"\n"
                'createType="seSparse"\nparentFileNameHint="%s"\n'
                "# Extent description\nRW %d SESPARSE \"%s\"\n\n"
                "# The Disk Data Base\n#DDB\n\n"
                'ddb.grain = "8"\nddb.longContentID = "0"\n'
                % (cid, pcid, parent, sectors, ext))
    names = ["volatile", "journal_header", "journal", "gd", "gt",
             "free_bitmap", "backmap", "grains"]
    print(json.dumps({
        "extent": path,
        "regions": {n: [o * SECTOR, s * SECTOR]
                    for n, (o, s) in zip(names, regions)},
        "gt": {str(gdi): (gt_off + t * GT_SECTORS) * SECTOR
               for gdi, t in table_of.items()},
        "grains": {str(g): (grains_off + index[g] * 8) * SECTOR
                   for g in data},
    }))


if __name__ == "__main__":
    if len([a for a in sys.argv[1:] if a != "--compact"]) < 6:
        sys.exit(__doc__)
    main()
