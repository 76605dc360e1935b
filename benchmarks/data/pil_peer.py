#!/usr/bin/env python3
"""The PIL peer for tools/bench-data: decode + resize every image of a folder tree as Keras's
load_img(path, target_size=(50, 50)) does (read the bytes, PIL open, convert('RGB') when the mode
is not RGB, resize with NEAREST), then img_to_array (float32), on one core.

Usage: pil_peer.py DIR [SIZE]   prints one JSON line: files, wall_s, cpu_s, images_per_s (CPU).
Needs: pillow, numpy.
"""
import io
import json
import os
import sys
import time

import numpy as np
from PIL import Image


def files_under(root):
    found = []
    for cls in sorted(os.listdir(root)):
        for dirpath, _, names in sorted(os.walk(os.path.join(root, cls))):
            found += [os.path.join(dirpath, n) for n in sorted(names)
                      if n.lower().endswith((".png", ".jpg", ".jpeg", ".bmp"))]
    return found


def load_img(path, size):
    with open(path, "rb") as f:
        img = Image.open(io.BytesIO(f.read()))
        if img.mode != "RGB":
            img = img.convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.NEAREST)
        return np.asarray(img, dtype="float32")


def main():
    root, size = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50
    paths = files_under(root)
    wall, cpu = time.perf_counter(), time.process_time()
    for p in paths:
        load_img(p, size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"files": len(paths), "wall_s": wall, "cpu_s": cpu, "images_per_s": len(paths) / cpu}))


if __name__ == "__main__":
    main()
