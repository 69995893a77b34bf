#!/usr/bin/python3
"""Synthesised, labelled camera frames for the camera-health default model.

Classes, in model output order (CLASSES):

  normal        a real scene: random crops, scales, flips, colour and exposure
                jitter of photographs, sometimes slightly dark or bright, with
                mild sensor noise, blur or JPEG artefacts and an on-screen
                timestamp now and then
  covered       the lens blocked: a very dark, blurred remnant of the scene, or
                a hand / cloth right at the lens (procedural skin or fabric,
                out of focus, little light, some sensor noise), or plain black
  defocused     a real scene under heavy Gaussian or disc (bokeh-like) blur
  noise         snow / interference: heavy Gaussian, uniform "snow",
                salt-and-pepper or line interference, the scene faint or gone
  test-pattern  what a recorder or encoder shows without a signal: SMPTE, EBU
                and HD colour bars, flat blue / black / grey screens with "NO
                SIGNAL"-style text, checkerboards, ramps and step wedges,
                grids, test cards, zone plates (procedural)
  overexposed   the scene pushed to near-white: exposure far above normal,
                clipped, with haze, bloom and low contrast

Photographs come from two Debian packages: python3-skimage (scikit-image's
sample images) and palapeli-data (the photographs of KDE's jigsaw puzzle
game); only public-domain and CC0 ones are used, each listed with its licence
in models/SOURCES.md.  TRAIN_PHOTOS and TEST_PHOTOS are disjoint: the held-out
test split never sees a training photograph.

Frames are HxWx3 uint8 RGB, made at any size (the model's input size, or a
camera's for the demo clip).  Everything is drawn from the numpy Generator it
is given, so a seed fixes every frame.

As a command, writes sample PNGs (a few per class) for a look or for
lcnet-infer:

    camera_health_data.py [--split train|test] [--size HxW] [--per-class N]
                          [--seed S] OUTDIR
"""

import argparse
import io
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CLASSES = ("normal", "covered", "defocused", "noise", "test-pattern", "overexposed")

# (source, file, weight).  "skimage": python3-skimage's skimage/data/;
# "palapeli": palapeli-data's puzzle photographs.  Scenes are drawn more often
# than close-up textures.
TRAIN_PHOTOS = (("skimage", "astronaut.png", 3), ("skimage", "chelsea.png", 2),
                ("palapeli", "cincinnati-bridge.jpg", 3), ("palapeli", "citrus-fruits.jpg", 2),
                ("palapeli", "european-honey-bee.jpg", 2), ("skimage", "brick.png", 1),
                ("skimage", "grass.png", 1), ("skimage", "gravel.png", 1),
                ("skimage", "coins.png", 1), ("skimage", "text.png", 1),
                ("skimage", "ihc.png", 1))
TEST_PHOTOS = (("skimage", "coffee.png", 1), ("skimage", "rocket.jpg", 1),
               ("skimage", "camera.png", 1))
PALAPELI_DIR = "/usr/share/palapeli/collection"
MAX_SIDE = 800      # photographs are scaled down to this once, when loaded

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf",
              "DejaVuSansMono-Bold.ttf", "DejaVuSansCondensed-Bold.ttf")

NO_SIGNAL_TEXTS = ("NO SIGNAL", "No Signal", "NO VIDEO", "VIDEO LOSS", "NO INPUT",
                   "Check signal cable", "SIGNAL LOST", "No Video Input", "HDMI 1",
                   "CH 01  NO VIDEO", "Camera offline", "NO SIGNAL INPUT", "AV",
                   "Connecting...", "VIDEO 2", "No camera connected")
OSD_PLACES = ("Front door", "CAM 01", "CAM 2", "Parking", "Lobby", "Gate",
              "Warehouse B", "Entrance", "Yard", "Stairs 3F", "IPC", "Dock 4")


# ---------------------------------------------------------------- sources

def skimage_data_dir():
    try:
        import skimage
    except ImportError:
        sys.exit("camera_health_data: scikit-image missing (Debian package python3-skimage)")
    return os.path.join(os.path.dirname(skimage.__file__), "data")


def photo_path(source, name):
    if source == "skimage":
        return os.path.join(skimage_data_dir(), name), "python3-skimage"
    return os.path.join(PALAPELI_DIR, name), "palapeli-data"


def load_photos(spec):
    """The photographs [(source, file, weight)] as RGB PIL images (grey ones as
    RGB), at most MAX_SIDE pixels wide or high, each repeated weight times."""
    out = []
    for source, name, weight in spec:
        p, package = photo_path(source, name)
        if not os.path.exists(p):
            sys.exit("camera_health_data: %s missing (Debian package %s)" % (p, package))
        im = Image.open(p).convert("RGB")
        if max(im.size) > MAX_SIDE:
            k = MAX_SIDE / max(im.size)
            im = im.resize((round(im.size[0] * k), round(im.size[1] * k)), Image.LANCZOS)
        im.load()
        out += [im] * weight
    return out


_FONTS = {}


def font(size, which=0):
    size = max(6, int(size))
    key = (size, which % len(FONT_FILES))
    if key not in _FONTS:
        path = os.path.join(FONT_DIR, FONT_FILES[key[1]])
        if not os.path.exists(path):
            sys.exit("camera_health_data: %s missing (Debian package fonts-dejavu-core)" % path)
        _FONTS[key] = ImageFont.truetype(path, size)
    return _FONTS[key]


# ---------------------------------------------------------------- helpers

RESAMPLE = (Image.BILINEAR, Image.BICUBIC, Image.LANCZOS, Image.BOX)


def clip01(x):
    # np.clip is slow on float arrays in numpy 1.24; this is not.
    return np.minimum(np.maximum(x, 0.0), 1.0)


_GAMMA_LUT = np.linspace(0, 1, 4096, dtype=np.float32) ** 2.2
_DEGAMMA_LUT = np.linspace(0, 1, 4096, dtype=np.float32) ** (1 / 2.2)


def lut(table, x):
    """table applied to x in [0, 1] (clipped), as a 4096-entry lookup."""
    return table[(clip01(x) * 4095 + 0.5).astype(np.int32)]


def to_f(a):
    return np.asarray(a, np.float32) / 255.0


def to_u8(x):
    return (clip01(x) * 255.0 + 0.5).astype(np.uint8)


def luma(x):
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def loguniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def pil_blur(x, sigma):
    """Gaussian blur of a float image, sigma in pixels."""
    if sigma <= 0.05:
        return x
    im = Image.fromarray(to_u8(x))
    return to_f(im.filter(ImageFilter.GaussianBlur(sigma)))


def box_blur(x, radius, passes=2):
    """Disc-like (bokeh) blur: a box blur applied a few times."""
    im = Image.fromarray(to_u8(x))
    for _ in range(passes):
        im = im.filter(ImageFilter.BoxBlur(radius))
    return to_f(im)


def jpeg(x, quality):
    buf = io.BytesIO()
    Image.fromarray(to_u8(x)).save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    return to_f(Image.open(buf).convert("RGB"))


def smooth_field(rng, h, w, cells=4, channels=1):
    """A smooth random field in [0, 1]: a few random values per side, upsampled."""
    cells = max(2, int(cells))
    small = rng.random((cells, cells, channels)).astype(np.float32)
    ims = [Image.fromarray(to_u8(small[..., c])).resize((w, h), Image.BICUBIC)
           for c in range(channels)]
    return np.stack([to_f(im) for im in ims], -1)


def noise_field(rng, h, w, grain=1, channels=1, kind="normal"):
    """Noise drawn at (h/grain, w/grain) and scaled up, so that its grain
    survives later down-scaling."""
    gh, gw = max(1, int(round(h / grain))), max(1, int(round(w / grain)))
    if kind == "normal":
        n = rng.standard_normal((gh, gw, channels)).astype(np.float32)
    else:
        n = rng.random((gh, gw, channels)).astype(np.float32)
    if (gh, gw) != (h, w):
        n = np.stack([np.asarray(Image.fromarray(n[..., c]).resize(
            (w, h), Image.NEAREST if rng.random() < 0.5 else Image.BILINEAR))
            for c in range(channels)], -1)
    return n


# ---------------------------------------------------------------- scenes

def camera_aspect(rng):
    """The width/height of the camera frame a crop stands for: mostly 16:9."""
    r = rng.random()
    a = 16 / 9 if r < 0.6 else (4 / 3 if r < 0.85 else 1.0)
    return a * rng.uniform(0.92, 1.08)


def crop_box(rng, im, aspect, frac_lo=0.3, frac_hi=1.0):
    iw, ih = im.size
    cw_max = min(iw, ih * aspect)
    f = rng.uniform(frac_lo, frac_hi)
    cw = max(8.0, cw_max * f)
    ch = max(8.0, cw / aspect)
    x0 = rng.uniform(0, iw - cw) if iw > cw else 0.0
    y0 = rng.uniform(0, ih - ch) if ih > ch else 0.0
    return (x0, y0, x0 + cw, y0 + ch)


def scene(rng, photos, h, w):
    """A camera-like view of a random photograph, stretched to h x w."""
    im = photos[int(rng.integers(len(photos)))]
    box = crop_box(rng, im, camera_aspect(rng))
    out = im.resize((w, h), RESAMPLE[int(rng.integers(len(RESAMPLE)))], box=box)
    x = to_f(out)
    if rng.random() < 0.1:
        # Picture-in-picture / split view of a second photo: more content variety.
        im2 = photos[int(rng.integers(len(photos)))]
        pw, ph = int(w * rng.uniform(0.3, 0.7)), int(h * rng.uniform(0.3, 0.7))
        px, py = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
        p = im2.resize((pw, ph), Image.BILINEAR, box=crop_box(rng, im2, pw / ph))
        x[py:py + ph, px:px + pw] = to_f(p)
    if rng.random() < 0.5:
        x = x[:, ::-1]
    return np.ascontiguousarray(x)


def colour_jitter(rng, x, grey_p=0.15):
    if rng.random() < grey_p:          # monochrome / night (IR) mode
        x = np.repeat(luma(x)[..., None], 3, -1)
    else:
        l = luma(x)[..., None]
        x = l + rng.uniform(0.4, 1.4) * (x - l)
        x = x * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    m = float(x.mean())
    x = m + rng.uniform(0.75, 1.25) * (x - m)
    g = rng.uniform(0.8, 1.25)
    return lut(np.linspace(0, 1, 4096, dtype=np.float32) ** g, x)


def expose(x, gain):
    """Multiply the light reaching the sensor by gain (sRGB-ish gamma 2.2)."""
    return lut(_DEGAMMA_LUT, lut(_GAMMA_LUT, x) * gain)


def expose_to_mean(x, target):
    """Expose so that the mean brightness is about target (before clipping)."""
    m = max(float(x.mean()), 1e-3)
    return expose(x, (target / m) ** 2.2)


def normal_exposure(rng, x):
    """Ordinary exposure: the photo's own, scaled a little; sometimes a bit dark
    or bright, never as dark as 'covered' nor as bright as 'overexposed'."""
    m = float(x.mean())
    r = rng.random()
    k = rng.uniform(0.55, 0.8) if r < 0.2 else (rng.uniform(1.2, 1.5) if r < 0.35
                                                else rng.uniform(0.85, 1.2))
    target = float(np.clip(m * k, min(m, 0.16), 0.74))
    return expose_to_mean(x, target)


def sensor_noise(rng, x, sigma):
    if sigma <= 0:
        return x
    if rng.random() < 0.5:
        n = rng.standard_normal(x.shape[:2] + (1,)).astype(np.float32)
    else:
        n = rng.standard_normal(x.shape).astype(np.float32)
    return x + n * sigma


def osd(rng, im_u8):
    """Camera on-screen display: a timestamp and/or a name in a corner."""
    h, w = im_u8.shape[:2]
    im = Image.fromarray(im_u8)
    d = ImageDraw.Draw(im)
    size = h * rng.uniform(0.045, 0.08)
    f = font(size, 2 + int(rng.integers(2)))
    texts = []
    if rng.random() < 0.8:
        texts.append("%04d-%02d-%02d %02d:%02d:%02d" % (
            rng.integers(2019, 2031), rng.integers(1, 13), rng.integers(1, 29),
            rng.integers(0, 24), rng.integers(0, 60), rng.integers(0, 60)))
    if not texts or rng.random() < 0.5:
        texts.append(str(rng.choice(OSD_PLACES)))
    fill = (255, 255, 255) if rng.random() < 0.8 else (255, 255, 0)
    stroke = int(rng.integers(0, 2)) if size > 9 else 0
    corners = rng.permutation(4)
    for t, c in zip(texts, corners):
        x0, y0, x1, y1 = d.textbbox((0, 0), t, font=f)
        tw, th = x1 - x0, y1 - y0
        mx, my = int(w * 0.02) + 1, int(h * 0.02) + 1
        x = mx if c in (0, 2) else w - tw - mx
        y = my if c in (0, 1) else h - th - my
        d.text((x - x0, y - y0), t, font=f, fill=fill, stroke_width=stroke,
               stroke_fill=(0, 0, 0))
    return np.asarray(im)


def finish(rng, x, jpeg_p=0.5, osd_p=0.25, jpeg_lo=30):
    """The camera's own last steps: on-screen text, then compression."""
    u = to_u8(x)
    if rng.random() < osd_p:
        u = osd(rng, u)
    if rng.random() < jpeg_p:
        u = to_u8(jpeg(to_f(u), rng.uniform(jpeg_lo, 95)))
    return u


# ---------------------------------------------------------------- classes

def make_normal(rng, photos, h, w):
    x = normal_exposure(rng, colour_jitter(rng, scene(rng, photos, h, w)))
    if rng.random() < 0.3:
        x = pil_blur(x, rng.uniform(0.2, 0.7))
    if rng.random() < 0.5:
        sig = rng.uniform(0, 6) / 255
        if float(x.mean()) < 0.3:       # dark scenes: the camera raises its gain
            sig *= 1.5
        x = sensor_noise(rng, x, sig)
    return finish(rng, x)


def cloth_or_hand(rng, h, w):
    """Something right at the lens: skin or fabric, out of focus, little light."""
    if rng.random() < 0.5:              # skin: reddish, smooth
        base = np.array([rng.uniform(0.55, 0.9), rng.uniform(0.35, 0.6),
                         rng.uniform(0.25, 0.45)], np.float32)
        tex = 0.85 + 0.3 * smooth_field(rng, h, w, cells=int(rng.integers(2, 6)))
    else:                               # cloth: any colour, a weave or fibres
        base = rng.uniform(0.1, 0.9, 3).astype(np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period = rng.uniform(2.5, 8.0)
        ang = rng.uniform(0, math.pi)
        u = xx * math.cos(ang) + yy * math.sin(ang)
        v = -xx * math.sin(ang) + yy * math.cos(ang)
        weave = 0.5 + 0.25 * (np.sin(2 * math.pi * u / period) * np.sin(2 * math.pi * v / period))
        fibres = noise_field(rng, h, w, grain=rng.uniform(1, 3))[..., 0] * 0.15
        tex = (0.8 + 0.4 * weave + fibres)[..., None]
    x = base * tex
    # Light leaking in from one side, or a vignette.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    ramp = (xx / w - 0.5) * math.cos(ang) + (yy / h - 0.5) * math.sin(ang) + 0.5
    light = clip01(ramp) ** rng.uniform(1.0, 4.0)
    x = x * (0.2 + 0.8 * light[..., None])
    return pil_blur(x, rng.uniform(0.5, 4.0) * h / 160)


def make_covered(rng, photos, h, w):
    r = rng.random()
    if r < 0.4:
        x = cloth_or_hand(rng, h, w)
    elif r < 0.8:
        x = colour_jitter(rng, scene(rng, photos, h, w))
        x = pil_blur(x, rng.uniform(1.0, 8.0) * h / 160)
    else:
        x = np.zeros((h, w, 3), np.float32) + rng.uniform(0, 0.05, 3).astype(np.float32)
        x = x * (0.5 + smooth_field(rng, h, w, 3))
    x = expose_to_mean(x, loguniform(rng, 0.004, 0.11))
    x = sensor_noise(rng, x, rng.uniform(0, 8) / 255)
    return finish(rng, x)


def make_defocused(rng, photos, h, w):
    x = normal_exposure(rng, colour_jitter(rng, scene(rng, photos, h, w)))
    s = h / 160
    if rng.random() < 0.6:
        x = pil_blur(x, rng.uniform(2.5, 9.0) * s)
    else:
        x = box_blur(x, max(2, int(round(rng.uniform(3, 9) * s))), passes=int(rng.integers(1, 3)))
    if rng.random() < 0.5:
        x = sensor_noise(rng, x, rng.uniform(0, 4) / 255)
    return finish(rng, x)


def make_noise(rng, photos, h, w):
    x = normal_exposure(rng, colour_jitter(rng, scene(rng, photos, h, w)))
    grain = float(rng.choice([1, 1, 1, 1.5, 2, 3]))     # in pixels of this frame
    chans = 3 if rng.random() < 0.5 else 1
    r = rng.random()
    if r < 0.35:                        # heavy Gaussian noise
        x = x * rng.uniform(0.4, 1.0) + 0.5 * (1 - rng.uniform(0.4, 1.0)) * rng.random()
        x = x + noise_field(rng, h, w, grain, chans) * rng.uniform(0.18, 0.45)
    elif r < 0.65:                      # analogue snow, a faint scene behind
        a = rng.uniform(0.0, 0.4)
        snow = noise_field(rng, h, w, grain, chans, kind="uniform")
        snow = snow ** rng.uniform(0.7, 1.5)
        x = a * x + (1 - a) * snow
        if rng.random() < 0.5:          # horizontal bands of brightness
            band = smooth_field(rng, h, 1, cells=int(rng.integers(3, 12)))
            x = x * (0.6 + 0.8 * band[:, :, :1])
    elif r < 0.8:                       # salt and pepper
        frac = rng.uniform(0.2, 0.5)
        m = noise_field(rng, h, w, grain, 1, kind="uniform")[..., 0]
        v = noise_field(rng, h, w, grain, chans, kind="uniform")
        hit = m < frac
        sp = (v > 0.5).astype(np.float32) if rng.random() < 0.6 else v
        x = np.where(hit[..., None], sp, x)
    else:                               # interference: noise, row offsets, tearing
        x = x + noise_field(rng, h, w, grain, chans) * rng.uniform(0.1, 0.3)
        rows = rng.standard_normal((h, 1, 1)).astype(np.float32) * rng.uniform(0.1, 0.3)
        x = x + rows
        shift = (rng.standard_normal(h) * w * rng.uniform(0.01, 0.08)).astype(int)
        x = np.stack([np.roll(x[i], shift[i], 0) for i in range(h)])
        if rng.random() < 0.5:
            lines = rng.random(h) < rng.uniform(0.05, 0.3)
            x[lines] = rng.random((int(lines.sum()), 1, chans)).astype(np.float32)
    return finish(rng, x, jpeg_p=0.4, jpeg_lo=50)


def make_overexposed(rng, photos, h, w):
    x = colour_jitter(rng, scene(rng, photos, h, w))
    lin = lut(_GAMMA_LUT, x)
    med = max(float(np.median(lin)), 1e-3)
    x = expose(x, loguniform(rng, 1.0, 6.0) / med)     # the median point clipped
    if rng.random() < 0.6:              # haze / veiling glare: contrast lost
        a = rng.uniform(0.1, 0.6)
        x = a + (1 - a) * x
    if rng.random() < 0.4:              # bloom around the brightest parts
        x = np.maximum(x, pil_blur(x, rng.uniform(3, 10) * h / 160) * rng.uniform(1.0, 1.3))
    if rng.random() < 0.5:              # clipped highlights lose colour
        l = luma(x)[..., None]
        x = l + rng.uniform(0.2, 1.0) * (x - l)
    if rng.random() < 0.3:
        x = x * rng.uniform(0.9, 1.0, 3).astype(np.float32) + rng.uniform(0, 0.08)
    if rng.random() < 0.4:
        x = sensor_noise(rng, x, rng.uniform(0, 4) / 255)
    return finish(rng, x)


# ---------------------------------------------------------------- test patterns

def bars_smpte(h, w):
    g = 0.75
    top = [(g, g, g), (g, g, 0), (0, g, g), (0, g, 0), (g, 0, g), (g, 0, 0), (0, 0, g)]
    mid = [(0, 0, g), (0.075, 0.075, 0.075), (g, 0, g), (0.075,) * 3, (0, g, g),
           (0.075,) * 3, (g, g, g)]
    x = np.zeros((h, w, 3), np.float32)
    h1, h2 = int(h * 0.67), int(h * 0.75)
    for i in range(7):
        a, b = w * i // 7, w * (i + 1) // 7
        x[:h1, a:b] = top[i]
        x[h1:h2, a:b] = mid[i]
    bottom = [((0, 0.13, 0.3), 5 / 28), ((1, 1, 1), 5 / 28), ((0.2, 0, 0.42), 5 / 28),
              ((0.075,) * 3, 5 / 28), ((0.03,) * 3, 1 / 21), ((0.075,) * 3, 1 / 21),
              ((0.11,) * 3, 1 / 21), ((0.075,) * 3, 1 / 7)]
    a = 0.0
    for c, frac in bottom:
        x[h2:, int(a * w):int((a + frac) * w) + 1] = c
        a += frac
    return x


def bars_ebu(rng, h, w):
    g = 0.75 if rng.random() < 0.5 else 1.0
    cols = [(1, 1, 1), (g, g, 0), (0, g, g), (0, g, 0), (g, 0, g), (g, 0, 0), (0, 0, g), (0, 0, 0)]
    if rng.random() < 0.3:
        cols = cols[:7]
    n = len(cols)
    x = np.zeros((h, w, 3), np.float32)
    for i, c in enumerate(cols):
        x[:, w * i // n:w * (i + 1) // n] = c
    if rng.random() < 0.4:              # a strip of grey steps or a ramp below
        y0 = int(h * rng.uniform(0.6, 0.8))
        if rng.random() < 0.5:
            x[y0:] = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        else:
            k = int(rng.integers(5, 12))
            x[y0:] = (np.floor(np.arange(w) * k / w) / (k - 1)).astype(np.float32)[None, :, None]
    return x


def bars_hd(h, w):
    """ARIB STD-B28-like: grey side pillars, 75% bars, 100% rows, a ramp."""
    x = np.zeros((h, w, 3), np.float32)
    side = w // 8
    x[:, :side] = 0.4
    x[:, w - side:] = 0.4
    g = 0.75
    cols = [(g, g, g), (g, g, 0), (0, g, g), (0, g, 0), (g, 0, g), (g, 0, 0), (0, 0, g)]
    inner = w - 2 * side
    h1, h2, h3 = int(h * 7 / 12), int(h * 8 / 12), int(h * 9 / 12)
    for i, c in enumerate(cols):
        x[:h1, side + inner * i // 7:side + inner * (i + 1) // 7] = c
    x[h1:h2, :side] = (0, 1, 1)
    x[h1:h2, side:w - side] = g
    x[h1:h2, w - side:] = (0, 0, 1)
    x[h2:h3, :side] = (1, 1, 0)
    x[h2:h3, side:w - side] = np.linspace(0, 1, w - 2 * side, dtype=np.float32)[None, :, None]
    x[h2:h3, w - side:] = (1, 0, 0)
    x[h3:, side:w - side] = 0.0
    x[h3:, side + inner // 6:side + inner // 3] = 1.0
    return x


def flat_screen(rng, h, w):
    """A flat 'no signal' screen, with text (always, when it is black)."""
    r = rng.random()
    if r < 0.45:
        bg = (rng.uniform(0, 0.1), rng.uniform(0, 0.15), rng.uniform(0.6, 1.0))     # blue
    elif r < 0.75:
        bg = (rng.uniform(0, 0.06),) * 3                                              # black
    elif r < 0.87:
        bg = (rng.uniform(0.25, 0.6),) * 3                                            # grey
    else:
        bg = tuple(rng.choice([0.0, rng.uniform(0.5, 1.0)], 3))                       # any flat
        if sum(bg) == 0:
            bg = (0.0, 0.0, 0.8)
    x = np.zeros((h, w, 3), np.float32) + np.array(bg, np.float32)
    plain_ok = bg[2] > 0.5 and bg[0] < 0.2    # a plain blue screen needs no text
    if not plain_ok or rng.random() < 0.85:
        im = Image.fromarray(to_u8(x))
        d = ImageDraw.Draw(im)
        t = str(rng.choice(NO_SIGNAL_TEXTS))
        f = font(h * rng.uniform(0.08, 0.18), int(rng.integers(len(FONT_FILES))))
        x0, y0, x1, y1 = d.textbbox((0, 0), t, font=f)
        tw, th = x1 - x0, y1 - y0
        while tw > w * 0.9 and f.size > 7:
            f = font(f.size * 0.8, 0)
            x0, y0, x1, y1 = d.textbbox((0, 0), t, font=f)
            tw, th = x1 - x0, y1 - y0
        cx = w / 2 + rng.uniform(-0.2, 0.2) * w
        cy = h / 2 + rng.uniform(-0.2, 0.2) * h
        px, py = int(cx - tw / 2), int(cy - th / 2)
        fg = [(255, 255, 255), (230, 230, 230), (255, 255, 0), (200, 200, 200)][int(rng.integers(4))]
        if rng.random() < 0.35:         # a box around the message
            pad = int(th * 0.6) + 2
            box = [px - pad, py - pad, px + tw + pad, py + th + pad]
            if rng.random() < 0.5:
                d.rectangle(box, fill=tuple(int(v) for v in rng.integers(0, 120, 3)))
            d.rectangle(box, outline=fg, width=max(1, int(th * 0.1)))
        d.text((px - x0, py - y0), t, font=f, fill=fg)
        if rng.random() < 0.3:          # a smaller second line
            t2 = str(rng.choice(NO_SIGNAL_TEXTS))
            f2 = font(f.size * 0.55, 0)
            d.text((px - x0, py + int(th * 1.6)), t2, font=f2, fill=fg)
        x = to_f(im)
    return x


def checker(rng, h, w):
    n = rng.uniform(3, 24)
    cell = max(2.0, w / n)
    yy, xx = np.mgrid[0:h, 0:w]
    m = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(np.float32)[..., None]
    if rng.random() < 0.7:
        a, b = np.zeros(3, np.float32), np.ones(3, np.float32)
    else:
        a, b = rng.random(3).astype(np.float32), rng.random(3).astype(np.float32)
    return a + (b - a) * m


def gradient(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = rng.random()
    if r < 0.45:
        t = xx / (w - 1) if rng.random() < 0.6 else yy / (h - 1)
    elif r < 0.6:
        t = (xx / (w - 1) + yy / (h - 1)) / 2
    else:                               # step wedge
        k = int(rng.integers(4, 16))
        t = np.floor(xx / w * k) / (k - 1) if rng.random() < 0.7 else np.floor(yy / h * k) / (k - 1)
    t = clip01(t)
    if rng.random() < 0.5:
        t = 1 - t
    if rng.random() < 0.6:
        return np.repeat(t[..., None], 3, -1)
    a, b = rng.random(3).astype(np.float32), rng.random(3).astype(np.float32)
    return a + (b - a) * t[..., None]


def grid(rng, h, w):
    im = Image.new("RGB", (w, h), tuple(int(v) for v in (rng.integers(0, 60),) * 3))
    d = ImageDraw.Draw(im)
    n = int(rng.integers(6, 20))
    step = w / n
    lw = max(1, int(rng.integers(1, 4)))
    fg = (255, 255, 255)
    if rng.random() < 0.7:
        for i in range(n + 1):
            d.line([(i * step, 0), (i * step, h)], fill=fg, width=lw)
        for j in range(int(h / step) + 2):
            d.line([(0, j * step), (w, j * step)], fill=fg, width=lw)
    else:                               # dots
        rr = max(1, lw)
        for i in range(n + 1):
            for j in range(int(h / step) + 2):
                d.ellipse([i * step - rr, j * step - rr, i * step + rr, j * step + rr], fill=fg)
    if rng.random() < 0.6:
        r = min(w, h) * rng.uniform(0.3, 0.48)
        d.ellipse([w / 2 - r, h / 2 - r, w / 2 + r, h / 2 + r], outline=fg, width=lw + 1)
        d.line([(w / 2, 0), (w / 2, h)], fill=fg, width=lw)
        d.line([(0, h / 2), (w, h / 2)], fill=fg, width=lw)
    return to_f(im)


def test_card(rng, h, w):
    """A Philips-like card: grey grid background, a circle with bars and steps."""
    im = Image.fromarray(to_u8(grid(rng, h, w) * 0.6 + 0.2))
    d = ImageDraw.Draw(im)
    r = min(w, h) * 0.42
    cx, cy = w / 2, h / 2
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(110, 110, 110))
    bar = to_u8(bars_ebu(rng, int(r * 0.6), int(r * 1.6)))
    im.paste(Image.fromarray(bar), (int(cx - r * 0.8), int(cy - r * 0.7)))
    k = 6
    for i in range(k):
        v = int(255 * i / (k - 1))
        d.rectangle([cx - r * 0.8 + i * r * 1.6 / k, cy, cx - r * 0.8 + (i + 1) * r * 1.6 / k,
                     cy + r * 0.35], fill=(v, v, v))
    if rng.random() < 0.7:
        t = str(rng.choice(("TEST", "CH 1", "PAL", "NTSC", "1080i", "AV 2", "SMPTE", "EBU")))
        f = font(r * 0.2, 1)
        d.text((cx - r * 0.4, cy + r * 0.45), t, font=f, fill=(255, 255, 255))
    return to_f(im)


def zone_plate(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.5:
        k = rng.uniform(0.2, 1.0) * math.pi / max(h, w)
        t = 0.5 + 0.5 * np.cos(k * ((xx - w / 2) ** 2 + (yy - h / 2) ** 2))
    else:                               # multiburst: bursts of rising frequency
        n = int(rng.integers(4, 7))
        f = np.floor(xx / w * n) + 1
        t = 0.5 + 0.5 * np.sin(xx * f * rng.uniform(0.15, 0.4))
    return np.repeat(t[..., None], 3, -1).astype(np.float32)


def test_pattern(rng, h, w, kind=None):
    """A test pattern as a camera, recorder or encoder would send it, h x w."""
    kinds = ("smpte", "ebu", "hd", "flat", "checker", "gradient", "grid", "card", "zone")
    weights = np.array([0.14, 0.14, 0.08, 0.26, 0.09, 0.1, 0.07, 0.07, 0.05])
    if kind is None:
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    # Drawn at the source's own resolution and aspect, then stretched.
    sw = int(rng.uniform(180, 400))
    sh = int(sw / (16 / 9 if rng.random() < 0.6 else 4 / 3))
    if kind == "smpte":
        x = bars_smpte(sh, sw)
    elif kind == "ebu":
        x = bars_ebu(rng, sh, sw)
    elif kind == "hd":
        x = bars_hd(sh, sw)
    elif kind == "flat":
        x = flat_screen(rng, sh, sw)
    elif kind == "checker":
        x = checker(rng, sh, sw)
    elif kind == "gradient":
        x = gradient(rng, sh, sw)
    elif kind == "grid":
        x = grid(rng, sh, sw)
    elif kind == "card":
        x = test_card(rng, sh, sw)
    else:
        x = zone_plate(rng, sh, sw)
    return to_f(Image.fromarray(to_u8(x)).resize((w, h), RESAMPLE[int(rng.integers(3))]))


def make_test_pattern(rng, photos, h, w):
    x = test_pattern(rng, h, w)
    if rng.random() < 0.4:
        x = pil_blur(x, rng.uniform(0.2, 0.8))
    if rng.random() < 0.5:
        x = x * rng.uniform(0.88, 1.08) + rng.uniform(-0.04, 0.04)
    if rng.random() < 0.4:
        x = sensor_noise(rng, x, rng.uniform(0, 4) / 255)
    return finish(rng, x, osd_p=0.15, jpeg_lo=40)


MAKERS = (make_normal, make_covered, make_defocused, make_noise, make_test_pattern,
          make_overexposed)


# How often a frame is made at a camera's larger size and scaled down, as the
# daemon scales a camera's frames (bilinear, averaging): noise and compression
# then come out finer and weaker.  Not for defocused frames, whose blur is set
# in model pixels, nor for test patterns, which are drawn at their own size.
BIG_P = (0.25, 0.25, 0.0, 0.6, 0.0, 0.25)


def frame(rng, photos, label, h, w):
    """One frame of class `label` (an index into CLASSES), h x w x 3 uint8."""
    if rng.random() < BIG_P[label]:
        # e.g. 640x360 -> 160x160 is 4x across and 2.25x down
        bh, bw = int(h * rng.uniform(1.2, 2.5)), int(w * rng.uniform(1.5, 4.0))
        big = MAKERS[label](rng, photos, bh, bw)
        return np.asarray(Image.fromarray(big).resize((w, h), Image.BILINEAR))
    return MAKERS[label](rng, photos, h, w)


def dataset(photos, n_per_class, h, w, seed):
    """n_per_class frames of each class, in class order: (frames, labels)."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((n_per_class * len(CLASSES), h, w, 3), np.uint8)
    labels = np.repeat(np.arange(len(CLASSES)), n_per_class)
    for i, lab in enumerate(labels):
        frames[i] = frame(rng, photos, int(lab), h, w)
    return frames, labels


def main():
    ap = argparse.ArgumentParser(description="Write sample camera-health frames as PNGs.")
    ap.add_argument("--split", choices=("train", "test"), default="test")
    ap.add_argument("--size", default="160x160", help="HxW (default 160x160)")
    ap.add_argument("--per-class", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("outdir")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.lower().split("x"))
    photos = load_photos(TRAIN_PHOTOS if a.split == "train" else TEST_PHOTOS)
    os.makedirs(a.outdir, exist_ok=True)
    frames, labels = dataset(photos, a.per_class, h, w, a.seed)
    for i, (f, lab) in enumerate(zip(frames, labels)):
        Image.fromarray(f).save(os.path.join(a.outdir, "%s-%02d.png" % (
            CLASSES[lab], i % a.per_class)))
    print("wrote %d frames to %s" % (len(frames), a.outdir))


if __name__ == "__main__":
    main()
