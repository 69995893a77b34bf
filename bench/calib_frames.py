#!/usr/bin/python3
"""The fixtures' int8 calibration frames as PNGs, for `lcnet-infer --calibrate`.

    bench/calib_frames.py FRAMES.u8 DIR

FRAMES.u8 is raw 224x224 RGB u8 (`calib224x224.u8` of `make fixtures`);
--calibrate reads a folder of images, so each frame (at most 100) becomes
DIR/NNN.png.  Calibrated with --resize stretch, the engine sees each frame
unchanged.  Needs PIL.
"""
import sys

from PIL import Image

SIZE = 224 * 224 * 3


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: calib_frames.py FRAMES.u8 DIR\n")
        return 2
    src, dst = argv
    with open(src, "rb") as f:
        data = f.read()
    for i in range(min(100, len(data) // SIZE)):
        Image.frombytes("RGB", (224, 224), data[i * SIZE:(i + 1) * SIZE]).save(f"{dst}/{i:03d}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
