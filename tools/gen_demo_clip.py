#!/usr/bin/python3
"""Make the demo clip for `make demo`: a camera's view that runs through every
condition the default camera-health model knows, so that the labels it prints
change with the picture.

    gen_demo_clip.py OUT.mp4

H.264 in MP4, 640x360 at 25 fps, 52 s, no B-frames, a key frame every 25
frames (one a second), made by piping raw RGB frames to the ffmpeg command.
The scenes are the photographs held out from the model's training
(tools/camera_health_data.py TEST_PHOTOS), panned and zoomed slowly:

     0 -  8 s  normal        coffee cup, slow pan and zoom
     8 - 15 s  covered       a hand slides over the lens, stays, slides away
    15 - 19 s  normal        rocket on the launch pad
    19 - 26 s  defocused     focus goes soft, stays soft, comes back
    26 - 30 s  normal        cameraman (grey, like a night-mode camera)
    30 - 36 s  noise         bursts of snow and interference
    36 - 42 s  test-pattern  colour bars, then a blue "NO SIGNAL" screen
    42 - 48 s  overexposed   exposure climbs until the picture is blown out
    48 - 52 s  normal        back to the coffee cup

Each change is gradual (or, for a lost signal, a cut), so the label changes
somewhere in the ramp.  A timestamp in the corner, as cameras show one.
Everything is seeded: the same command gives the same frames.
"""

import math
import os
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree
import camera_health_data as chd  # noqa: E402

W, H, FPS = 640, 360, 25
SEED = 2024

# (start s, end s, what); the frame generator below follows this table.
TIMELINE = [(0, 8, "normal"), (8, 15, "covered"), (15, 19, "normal"), (19, 26, "defocused"),
            (26, 30, "normal"), (30, 36, "noise"), (36, 42, "test-pattern"),
            (42, 48, "overexposed"), (48, 52, "normal")]
DURATION = TIMELINE[-1][1]


def smooth(t):
    """0 -> 1 ease-in-out for t in [0, 1] (clamped)."""
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


def ramp(t, t0, t1, t2, t3):
    """0 before t0, rising to 1 at t1, 1 until t2, falling to 0 at t3."""
    if t < t0 or t > t3:
        return 0.0
    if t < t1:
        return smooth((t - t0) / (t1 - t0))
    if t <= t2:
        return 1.0
    return 1.0 - smooth((t - t2) / (t3 - t2))


class Pan:
    """A slow pan and zoom across a photograph: crop boxes of the frame's aspect
    moved linearly from box a to box b over [t0, t1]."""

    def __init__(self, im, a, b, t0, t1):
        self.im, self.a, self.b, self.t0, self.t1 = im, a, b, t0, t1

    def box(self, frac_cx, frac_cy, frac_w):
        iw, ih = self.im.size
        bw = min(iw, ih * W / H) * frac_w
        bh = bw * H / W
        cx = bw / 2 + (iw - bw) * frac_cx
        cy = bh / 2 + (ih - bh) * frac_cy
        return (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)

    def frame(self, t):
        u = smooth((t - self.t0) / (self.t1 - self.t0)) * 0.8 + 0.2 * (t - self.t0) / (self.t1 - self.t0)
        u = min(1.0, max(0.0, u))
        p = [a + (b - a) * u for a, b in zip(self.a, self.b)]
        return chd.to_f(self.im.resize((W, H), Image.BICUBIC, box=self.box(*p)))


def hand_mask(c, h, w):
    """Where a hand coming in from the right covers the frame (1) or not (0):
    a soft edge with four rounded fingers, moving left as c goes 0 -> 1."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    edge = w * (1.1 - 1.45 * c)
    fingers = 0.06 * w * np.abs(np.sin((yy / h) * math.pi * 4 + 0.7))
    d = (xx - (edge - fingers)) / (0.05 * w)
    return (1.0 / (1.0 + np.exp(-d)))[..., None]


def no_signal_screen(h, w):
    im = Image.new("RGB", (w, h), (16, 24, 200))
    d = ImageDraw.Draw(im)
    f = chd.font(h * 0.12, 1)
    t = "NO SIGNAL"
    x0, y0, x1, y1 = d.textbbox((0, 0), t, font=f)
    bx, by = (w - (x1 - x0)) // 2, (h - (y1 - y0)) // 2
    d.rectangle([bx - 24, by - 18, bx + x1 - x0 + 24, by + y1 - y0 + 18], outline=(255, 255, 255),
                width=3)
    d.text((bx - x0, by - y0), t, font=f, fill=(255, 255, 255))
    f2 = chd.font(h * 0.05, 0)
    d.text((bx - x0, by + (y1 - y0) + 30), "Check the camera cable", font=f2, fill=(220, 220, 220))
    return chd.to_f(im)


def timestamp(u8, t):
    im = Image.fromarray(u8)
    d = ImageDraw.Draw(im)
    s = int(t)
    text = "2024-06-07 14:%02d:%02d  CAM 01" % (12 + (s + 31) // 60, (s + 31) % 60)
    d.text((12, 10), text, font=chd.font(17, 3), fill=(255, 255, 255), stroke_width=1,
           stroke_fill=(0, 0, 0))
    return np.asarray(im)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_demo_clip.py OUT.mp4")
    out = sys.argv[1]
    rng = np.random.default_rng(SEED)
    photos = {name: im for (_, name, _), im in zip(chd.TEST_PHOTOS,
                                                   chd.load_photos(chd.TEST_PHOTOS))}
    coffee, rocket, camera = photos["coffee.png"], photos["rocket.jpg"], photos["camera.png"]

    pans = [
        (0, 15.5, Pan(coffee, (0.2, 0.3, 0.95), (0.7, 0.6, 0.7), 0, 15.5)),
        (14.5, 26.5, Pan(rocket, (0.3, 0.9, 0.95), (0.5, 0.8, 0.85), 14.5, 26.5)),
        (25.5, 36.5, Pan(camera, (0.1, 0.7, 0.85), (0.6, 0.5, 0.6), 25.5, 36.5)),
        (41.5, 52, Pan(coffee, (0.8, 0.2, 0.8), (0.4, 0.5, 1.0), 41.5, 52)),
    ]
    bars = chd.to_f(Image.fromarray(chd.to_u8(chd.bars_smpte(H, W))))
    blue = no_signal_screen(H, W)
    # Skin, out of focus: a warm colour with soft shading.
    skin = chd.expose_to_mean(np.full((H, W, 3), (0.75, 0.5, 0.38), np.float32)
                              * (0.7 + 0.6 * chd.smooth_field(rng, H, W, 3)), 0.35)

    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "%dx%d" % (W, H), "-r", str(FPS),
           "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
           "-bf", "0", "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", out]
    ff = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    n = DURATION * FPS
    for i in range(n):
        t = i / FPS
        # The scene: the pans that cover t, cross-faded where two overlap.
        live = [(a, b, p) for a, b, p in pans if a <= t <= b]
        x = None
        for a, b, p in live:
            f = p.frame(t)
            wgt = min(1.0, (t - a) / 1.0) if a > 0 and x is not None else 1.0
            x = f if x is None else x * (1 - wgt) + f * wgt
        if x is None:
            x = np.zeros((H, W, 3), np.float32)

        # covered, 8 - 15 s: the hand slides in (1.5 s), stays, slides out (1 s).
        c = ramp(t, 8.3, 9.8, 13.8, 14.8)
        if c > 0:
            mask = hand_mask(c, H, W)
            # The closer the hand, the less light: the hand itself darkens.
            dark = chd.expose(skin, 0.02 + 0.5 * (1 - c) ** 2)
            x = x * (1 - mask) + dark * mask
            x = chd.expose(x, 1.0 - 0.6 * c)
        # defocused, 19 - 26 s: blur up to sigma 20 (about 5 px at 160x160).
        b = ramp(t, 19.3, 21.3, 24.8, 25.8)
        if b > 0:
            x = chd.pil_blur(x, 20.0 * b)
        # noise, 30 - 36 s: two bursts of snow, the scene fading behind them.
        z = max(ramp(t, 30.2, 30.8, 32.4, 32.9), ramp(t, 33.2, 33.6, 35.6, 35.9))
        if z > 0:
            snow = chd.noise_field(rng, H, W, grain=3, channels=1, kind="uniform")
            lines = 0.7 + 0.6 * chd.smooth_field(rng, H, 1, cells=9)[:, :, :1]
            x = x * (1 - 0.85 * z) + snow * lines * 0.85 * z
            x = x + rng.standard_normal((H, W, 1)).astype(np.float32) * 0.3 * z
        # test-pattern, 36 - 42 s: the signal is lost (a cut), bars, then a blue screen.
        if 36.0 <= t < 39.0:
            x = bars
        elif 39.0 <= t < 42.0:
            x = blue
        # overexposed, 42 - 48 s: exposure climbs 64x, holds, comes back.
        e = ramp(t, 42.3, 44.3, 46.5, 47.8)
        if e > 0:
            x = chd.expose(x, 2.0 ** (6 * e))
            x = 0.35 * e + (1 - 0.35 * e) * x
        u8 = chd.to_u8(x)
        if not (36.0 <= t < 42.0):      # a lost signal takes the camera's OSD with it
            u8 = timestamp(u8, t)
        ff.stdin.write(np.ascontiguousarray(u8).tobytes())
    ff.stdin.close()
    if ff.wait() != 0:
        sys.exit("gen_demo_clip: ffmpeg failed")
    print("wrote %s: %dx%d, %d fps, %d s (%s)" % (
        out, W, H, FPS, DURATION, ", ".join("%d-%d %s" % seg for seg in TIMELINE)))


if __name__ == "__main__":
    main()
