"""Model what one fixed camera of the synthetic set does to every image it takes.

``Camera`` and ``make_camera`` fix a camera's scene, light, colour cast, preferred viewpoints,
box scale, occlusion rate and image quality. ``scene_background`` paints one box's
background (wall and floor textures, clutter, light gradient), and ``camera_response`` applies
the optics and sensor (resolution loss, blur, white balance, gain, gamma, saturation, noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from reid.data.synthetic.randomness import RGB, TAG_CAMERA, jitter_colour, pick, seeded_rng

# The boxes are 128 x 64 because Market-1501's bounding boxes are.
IMAGE_H, IMAGE_W = 128, 64
# The drawing canvas is supersampled by this factor, which gives anti-aliasing for free.
SS = 2
CANVAS_H, CANVAS_W = IMAGE_H * SS, IMAGE_W * SS


# ---------------------------------------------------------------------------------------------
# Camera model: what one fixed camera does to every person it sees. Each camera has its own
# scene (wall / floor textures, clutter palette), its own light and colour cast, a preferred
# walking direction (hence viewpoints), box scale, occlusion rate and image quality.
# ---------------------------------------------------------------------------------------------

VIEWS = ("front", "back", "left", "right")
WALL_TEXTURES = ("bricks", "windows", "foliage", "panels", "plain")
FLOOR_TEXTURES = ("tiles", "asphalt", "stripes", "grass")
# Walls, floors and clutter use these colours, which include garment-like ones on purpose.
SCENE_COLOURS = [
    (0.62, 0.36, 0.28),
    (0.72, 0.68, 0.60),
    (0.45, 0.47, 0.50),
    (0.30, 0.42, 0.30),
    (0.80, 0.78, 0.72),
    (0.35, 0.30, 0.28),
    (0.55, 0.60, 0.66),
    (0.68, 0.55, 0.40),
    (0.20, 0.22, 0.25),
    (0.75, 0.20, 0.18),
    (0.20, 0.35, 0.65),
    (0.85, 0.70, 0.25),
    (0.90, 0.90, 0.88),
    (0.10, 0.10, 0.12),
    (0.25, 0.50, 0.30),
    (0.60, 0.30, 0.50),
]


@dataclass(frozen=True)
class Camera:
    cam: int
    wall: RGB
    floor: RGB
    palette: tuple[RGB, ...]  # Clutter, posters and panels take these colours.
    # Each surface has two looks because the box moves across the camera's view.
    wall_textures: tuple[str, str]
    floor_textures: tuple[str, str]
    texture_scale: float
    horizon: float  # The wall / floor boundary is given as a fraction of the box height.
    view_probs: tuple[float, float, float, float]  # The order is front, back, left, right.
    gain: float
    gamma: float
    cast: RGB  # A per-channel gain models the white balance error.
    saturation: float
    blur: float  # The Gaussian sigma is given at output resolution.
    noise: float  # The sensor noise std is in 0..1 units.
    # Above 1, the camera resolves less than the box size, which down-up sampling models.
    lowres: float
    jpeg_quality: tuple[int, int]
    scale: tuple[float, float]  # The range is of person height / box height.
    occlusion: float  # This is the probability of an occluder crossing the box.
    crowd: float  # This is the probability of other (background) people in the box.
    clutter: float  # This is the mean number of clutter objects.


def make_camera(seed: int, cam: int) -> Camera:
    rng = seeded_rng(seed, TAG_CAMERA, cam)
    idx = rng.permutation(len(SCENE_COLOURS))
    palette = tuple(jitter_colour(rng, SCENE_COLOURS[i], 0.04) for i in idx[:5])
    # Each camera prefers some views, as a camera facing a walkway would.
    views = rng.dirichlet([0.9, 0.9, 0.9, 0.9]) * 0.8 + 0.05
    cast = np.exp(rng.normal(0, 0.07, 3))
    cast = cast / cast.mean()
    return Camera(
        cam=cam,
        wall=jitter_colour(rng, SCENE_COLOURS[idx[5]], 0.05),
        floor=jitter_colour(rng, SCENE_COLOURS[idx[6]], 0.05),
        palette=palette,
        wall_textures=tuple(str(t) for t in rng.choice(WALL_TEXTURES, 2, replace=False)),
        floor_textures=tuple(str(t) for t in rng.choice(FLOOR_TEXTURES, 2, replace=False)),
        texture_scale=float(rng.uniform(0.7, 1.4)),
        horizon=float(rng.uniform(0.35, 0.7)),
        view_probs=tuple(float(v) for v in views / views.sum()),
        gain=float(np.exp(rng.normal(0, 0.12))),
        gamma=float(np.exp(rng.normal(0, 0.1))),
        cast=tuple(float(c) for c in cast),
        saturation=float(rng.uniform(0.75, 1.1)),
        blur=float(rng.uniform(0.2, 0.9)),
        noise=float(rng.uniform(0.008, 0.03)),
        lowres=float(pick(rng, [1.0, 1.0, 1.4, 1.8])),
        jpeg_quality=(int(rng.integers(60, 80)), int(rng.integers(85, 96))),
        scale=(float(rng.uniform(0.78, 0.86)), float(rng.uniform(0.9, 0.98))),
        occlusion=float(rng.uniform(0.08, 0.3)),
        crowd=float(rng.uniform(0.1, 0.5)),
        clutter=float(rng.uniform(1.5, 4.5)),
    )


# -- scene: camera-specific wall / floor textures, clutter (background people: see render.py) --


def smooth_noise(rng, h: int, w: int, cell: int) -> np.ndarray:
    """Return value noise, a coarse random grid upsampled bilinearly, as cheap clouds, foliage or stains."""
    gh, gw = h // cell + 2, w // cell + 2
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    big = Image.fromarray(coarse, mode="F").resize((gw * cell, gh * cell), Image.BILINEAR)
    oy, ox = int(rng.integers(cell)), int(rng.integers(cell))
    return np.asarray(big)[oy : oy + h, ox : ox + w]


def _texture(kind: str, h: int, w: int, base: RGB, cam: Camera, rng, ox: float, oy: float) -> np.ndarray:
    """Return one textured surface (h, w, 3); ``ox`` and ``oy`` say where in the camera view the box is."""
    base = np.asarray(base, np.float32)
    y = np.arange(h, dtype=np.float32)[:, None] + oy
    x = np.arange(w, dtype=np.float32)[None, :] + ox
    k = cam.texture_scale * SS
    table = rng.normal(0, 0.07, 97).astype(np.float32)  # Bricks and tiles vary one by one.
    if kind == "bricks":
        bh, bw = 7 * k, 16 * k
        row = np.floor(y / bh)
        col = np.floor((x + (row % 2) * bw / 2) / bw)
        var = table[((row * 7 + col * 13) % 97).astype(np.int64)]
        mortar = ((y % bh) < 1.2 * SS) | (((x + (row % 2) * bw / 2) % bw) < 1.2 * SS)
        img = base * (1 + var)[..., None]
        img = np.where(mortar[..., None], base * 0.6 + 0.3, img)
    elif kind == "windows":
        px, py = 22 * k, 26 * k
        cell_x, cell_y = (x % px) / px, (y % py) / py
        win = (cell_x > 0.18) & (cell_x < 0.82) & (cell_y > 0.15) & (cell_y < 0.8)
        lit = table[((np.floor(x / px) * 5 + np.floor(y / py) * 11) % 97).astype(np.int64)] > 0.05
        glass = np.where(lit[..., None], np.float32([0.85, 0.8, 0.55]), np.float32([0.18, 0.22, 0.28]))
        img = np.where(win[..., None], glass * (1 + 0.3 * (cell_y - 0.5))[..., None], base)
    elif kind == "foliage":
        n = smooth_noise(rng, h, w, int(6 * k)) + 0.5 * smooth_noise(rng, h, w, int(2 * k))
        greens = np.float32([[0.12, 0.22, 0.10], [0.25, 0.42, 0.18], [0.45, 0.55, 0.25]])
        t = np.clip(n * 0.35 + 0.5, 0, 1)[..., None]
        img = greens[0] * (1 - t) + greens[2] * t
        img = np.where((n > 1.1)[..., None], base, img)  # Sky or wall shows through the leaves.
    elif kind == "panels":
        pw = 20 * k
        col = np.floor(x / pw).astype(np.int64)
        pal = np.asarray(cam.palette + (tuple(base),), np.float32)
        img = np.broadcast_to(pal[(col * 3) % len(pal)], (h, w, 3)) * (1 + 0.15 * (y / max(h, 1)))[..., None]
        img = np.where(((x % pw) < 1.5 * SS)[..., None], base * 0.4, img)
    elif kind == "tiles":
        t = 14 * k
        var = table[((np.floor(x / t) * 3 + np.floor(y / t) * 17) % 97).astype(np.int64)]
        img = base * (1 + var)[..., None]
        img = np.where((((x % t) < SS) | ((y % t) < SS))[..., None], base * 0.7, img)
    elif kind == "stripes":  # These are crossing or parking markings.
        t = 12 * k
        img = np.where(((x + 0.6 * y) % (2 * t) < t)[..., None], np.float32([0.85, 0.85, 0.82]), base)
        img = np.broadcast_to(img, (h, w, 3))
    elif kind == "grass":
        n = smooth_noise(rng, h, w, int(3 * k))
        img = np.float32([0.24, 0.40, 0.16]) * (1 + 0.2 * n)[..., None]
    else:  # Plain walls and asphalt get stains and grain.
        n = smooth_noise(rng, h, w, int(10 * k))
        img = base * (1 + 0.08 * n)[..., None]
    grain = rng.normal(0, 0.025, (h, w, 1)).astype(np.float32)
    return np.clip(img * (1 + grain), 0, 1).astype(np.float32)


def _draw_clutter(canvas, cam: Camera, rng, horizon: int) -> None:
    """Draw posters, signs, lamps, bins and bushes as flat shapes in the camera's palette."""
    H, W = canvas.shape[:2]
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    for _ in range(int(rng.poisson(cam.clutter))):
        # Clutter mostly takes the camera's own colours (its shop fronts, signs), and sometimes any colour.
        colour = np.asarray(pick(rng, cam.palette if rng.random() < 0.6 else SCENE_COLOURS), np.float32)
        kind = int(rng.integers(4))
        cx, cy = rng.uniform(-0.1, 1.1) * W, rng.uniform(0.0, max(horizon, 1) * 1.1)
        if kind == 0:  # This is a poster, sign or door.
            hw, hh = rng.uniform(0.08, 0.35) * W, rng.uniform(0.05, 0.25) * H
            mask = (np.abs(x - cx) < hw) & (np.abs(y - cy) < hh)
        elif kind == 1:  # This is a lamp, bush or round sign.
            r = rng.uniform(0.06, 0.25) * W
            mask = (x - cx) ** 2 + ((y - cy) * 0.8) ** 2 < r * r
        elif kind == 2:  # This is a pole.
            hw = rng.uniform(0.02, 0.05) * W
            mask = (np.abs(x - cx) < hw) & (y < horizon + rng.uniform(0.1, 0.4) * H)
        else:  # This is a railing, bench or kerb across the box at floor level.
            cy = horizon + rng.uniform(0.0, 0.35) * H
            mask = np.abs(y - cy) < rng.uniform(0.01, 0.04) * H
            mask = np.broadcast_to(mask, (H, W))
        shade = (1 + 0.15 * np.tanh((x - cx) / W))[..., None]
        np.copyto(canvas, np.broadcast_to(colour * shade, canvas.shape), where=mask[..., None])


def scene_background(cam: Camera, rng) -> tuple[np.ndarray, int]:
    """Paint the background of one box: wall above the horizon, floor below, light gradient, clutter."""
    H, W = CANVAS_H, CANVAS_W
    horizon = int(H * float(np.clip(cam.horizon + rng.normal(0, 0.05), 0.2, 0.8)))
    ox, oy = rng.uniform(0, 400, 2)
    canvas = np.empty((H, W, 3), np.float32)
    wall, floor = pick(rng, cam.wall_textures, (2, 1)), pick(rng, cam.floor_textures, (2, 1))
    canvas[:horizon] = _texture(wall, horizon, W, jitter_colour(rng, cam.wall, 0.06), cam, rng, ox, oy)
    canvas[horizon:] = _texture(floor, H - horizon, W, jitter_colour(rng, cam.floor, 0.06), cam, rng, ox, oy)
    _draw_clutter(canvas, cam, rng, horizon)
    # An illumination gradient crosses the box, as sun, lamps and the shadows of buildings make one.
    angle = rng.uniform(0, 2 * np.pi)
    yy = np.linspace(-1, 1, H, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, W, dtype=np.float32)[None, :]
    canvas *= (1 + rng.uniform(0.05, 0.25) * (np.cos(angle) * xx + np.sin(angle) * yy))[..., None]
    return canvas, horizon


def camera_response(img: Image.Image, cam: Camera, rng, exposure: float, extra_blur: bool) -> Image.Image:
    """Apply the optics and sensor: resolution loss, blur, white balance / gain / gamma, saturation, noise."""
    if cam.lowres > 1.0:
        small = (max(8, int(IMAGE_W / cam.lowres)), max(16, int(IMAGE_H / cam.lowres)))
        img = img.resize(small, Image.BILINEAR).resize((IMAGE_W, IMAGE_H), Image.BILINEAR)
    sigma = cam.blur * rng.uniform(0.7, 1.3) + (rng.uniform(2.0, 4.0) if extra_blur else 0.0)
    img = img.filter(ImageFilter.GaussianBlur(sigma))
    a = np.asarray(img, np.float32) / 255.0
    cast = np.asarray(cam.cast, np.float32) * np.exp(rng.normal(0, 0.02, 3)).astype(np.float32)
    a = np.clip(a * cast * (cam.gain * exposure), 0, 1) ** (cam.gamma * rng.uniform(0.95, 1.05))
    grey = a.mean(axis=2, keepdims=True)
    a = grey + cam.saturation * (a - grey)
    a = a + rng.normal(0, cam.noise, a.shape).astype(np.float32)
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))
