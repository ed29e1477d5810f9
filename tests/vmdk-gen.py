#!/usr/bin/env python3
"""Write VMDK layouts qemu-img cannot, from a raw image (test fixtures).

  vmdk-gen.py stream RAW OUT [--raw-deflate] [--short-first-grain]
      VMware's streamOptimized: version 3, compressed grains behind grain
      markers, GT/GD markers, gdOffset = GD_AT_END and the real header in
      the footer, then end-of-stream.  --short-first-grain: the first grain
      inflates to 1000 bytes (a hostile image).
  vmdk-gen.py cowd RAW OUT
      An ESX "COWD" sparse extent (VMFSSPARSE), 4096 entries per table.
"""
import struct
import sys
import zlib

SECTOR = 512
GD_AT_END = 0xFFFFFFFFFFFFFFFF


def pad(b):
    return b + b"\0" * (-len(b) % SECTOR)


def kdmv_header(capacity, gd_offset, overhead, flags, version=3):
    h = b"KDMV" + struct.pack("<IIQQQQIQQQ", version, flags, capacity, 128,
                              1, 20, 512, 0, gd_offset, overhead)
    h += b"\0" + b"\n \r\n" + struct.pack("<H", 1)
    return pad(h)


def marker(val, size, typ):
    return pad(struct.pack("<QII", val, size, typ))


def stream(raw, out, raw_deflate=False, short_first=False):
    data = open(raw, "rb").read()
    data += b"\0" * (-len(data) % SECTOR)
    capacity = len(data) // SECTOR
    gbytes = 128 * SECTOR
    ngrains = (len(data) + gbytes - 1) // gbytes
    flags = 1 | (1 << 16) | (1 << 17)
    desc = pad(("# Disk DescriptorFile\nversion=1\nCID=12345678\n"
                "parentCID=ffffffff\ncreateType=\"streamOptimized\"\n\n"
                "RW %d SPARSE \"stream.vmdk\"\n" % capacity).encode())
    desc += b"\0" * (20 * SECTOR - len(desc))
    f = open(out, "wb")
    f.write(kdmv_header(capacity, GD_AT_END, 21, flags))
    f.write(desc)
    gtes = {}
    for g in range(ngrains):
        chunk = data[g * gbytes:(g + 1) * gbytes]
        if chunk.count(0) == len(chunk):
            continue
        chunk += b"\0" * (gbytes - len(chunk))  # VMware writes whole grains
        if short_first:                         # hostile: inflates short
            chunk, short_first = chunk[:1000], False
        if raw_deflate:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            z = c.compress(chunk) + c.flush()
        else:
            z = zlib.compress(chunk)
        gtes[g] = f.tell() // SECTOR
        f.write(pad(struct.pack("<QI", g * 128, len(z)) + z))
    ngts = (ngrains + 511) // 512
    gd = [0] * ngts
    for t in range(ngts):
        entries = [gtes.get(t * 512 + i, 0) for i in range(512)]
        if not any(entries):
            continue
        f.write(marker(4, 0, 1))
        gd[t] = f.tell() // SECTOR
        f.write(struct.pack("<512I", *entries))
    gd_bytes = pad(struct.pack("<%dI" % ngts, *gd))
    f.write(marker(len(gd_bytes) // SECTOR, 0, 2))
    gd_off = f.tell() // SECTOR
    f.write(gd_bytes)
    f.write(marker(1, 0, 3))
    f.write(kdmv_header(capacity, gd_off, 21, flags))
    f.write(marker(0, 0, 0))
    f.close()


def cowd(raw, out):
    data = open(raw, "rb").read()
    data += b"\0" * (-len(data) % SECTOR)
    capacity = len(data) // SECTOR
    gran = 16                               # 8 KiB grains
    gbytes = gran * SECTOR
    ngrains = (len(data) + gbytes - 1) // gbytes
    ngts = (ngrains + 4095) // 4096
    gd_sector = 4
    pos = gd_sector + (ngts * 4 + SECTOR - 1) // SECTOR
    gd = [0] * ngts
    tables = []
    grains = []
    for t in range(ngts):
        entries = [0] * 4096
        for i in range(4096):
            g = t * 4096 + i
            chunk = data[g * gbytes:(g + 1) * gbytes]
            if chunk and chunk.count(0) != len(chunk):
                entries[i] = -1
        if not any(entries):
            continue
        gd[t] = pos
        pos += 4096 * 4 // SECTOR
        tables.append(entries)
    for entries, t in zip(tables, [t for t in range(ngts) if gd[t]]):
        for i in range(4096):
            if entries[i]:
                entries[i] = pos
                g = t * 4096 + i
                grains.append(data[g * gbytes:(g + 1) * gbytes].ljust(gbytes, b"\0"))
                pos += gran
    hdr = b"COWD" + struct.pack("<10I", 1, 3, capacity, gran, gd_sector, ngts,
                                pos, 0, 0, 0)
    f = open(out, "wb")
    f.write(hdr.ljust(gd_sector * SECTOR, b"\0"))
    f.write(pad(struct.pack("<%dI" % ngts, *gd)))
    for entries in tables:
        f.write(struct.pack("<4096I", *entries))
    for g in grains:
        f.write(g)
    f.close()


if __name__ == "__main__":
    if sys.argv[1] == "stream":
        stream(sys.argv[2], sys.argv[3], "--raw-deflate" in sys.argv,
               "--short-first-grain" in sys.argv)
    elif sys.argv[1] == "cowd":
        cowd(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
