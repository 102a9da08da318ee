#!/usr/bin/env python3
"""Writes a zonefs super block (Linux fs/zonefs/zonefs.h, struct zonefs_super)
to the file named on the command line: what mkzonefs writes to the first zone
after resetting every zone.  No features: files get uid/gid 0 and mode 0640."""
import struct
import sys
import zlib

ZONEFS_MAGIC = 0x5A4F4653  # 'ZOFS'
label = b"nvemu-zns".ljust(64, b"\0")
uuid = bytes.fromhex("6e76656d757a6f6e656673a5c3d2e1f0")
# magic, crc, label[64], uuid[16], features, uid, gid, perm, reserved[3988]
body = struct.pack("<II64s16sQIII", ZONEFS_MAGIC, 0, label, uuid, 0, 0, 0, 0)
block = body + bytes(4096 - len(body))
# The kernel computes crc32(~0, block with s_crc = 0) with no final inversion.
crc = zlib.crc32(block) ^ 0xFFFFFFFF
block = block[:4] + struct.pack("<I", crc) + block[8:]
with open(sys.argv[1], "wb") as f:
    f.write(block)
