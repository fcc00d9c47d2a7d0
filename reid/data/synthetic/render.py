"""Render one image of the synthetic set, from its ``Job`` to JPEG bytes.

The image is built in layers: the camera's background, other people behind the subject (crowds), the subject with its floor
shadow (or a junk box: no person, a close-up crop, a far speck), an occluder, then the
camera's response and its JPEG quality. Every random number comes from the job's key.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from reid.data.market import DISTRACTOR_PID
from reid.data.synthetic.cameras import SS, VIEWS, Camera, camera_response, scene_background, smooth_noise
from reid.data.synthetic.identities import Identity, make_identity
from reid.data.synthetic.person import draw_person
from reid.data.synthetic.plan import Job
from reid.data.synthetic.randomness import pick, seeded_rng

# -- This section renders one image. --------------------------------------------------------------


def _random_identity(rng) -> Identity:
    return make_identity(rng, DISTRACTOR_PID)


def render_image(job: Job) -> Image.Image:
    """Render one 128x64 RGB image (before JPEG). The result is deterministic in ``job.key``."""
    rng = seeded_rng(*job.key)
    cam = job.camera
    canvas, horizon = scene_background(cam, rng)
    H, W = canvas.shape[:2]

    # Other people stand behind the subject (crowds), smaller and partly out of the box.
    if rng.random() < cam.crowd:
        for _ in range(int(rng.integers(1, 3))):
            hp = H * rng.uniform(0.35, 0.7)
            feet = rng.uniform(horizon, H * 1.02)
            cxb = rng.uniform(-0.2, 1.2) * W
            draw_person(
                canvas,
                _random_identity(rng),
                pick(rng, VIEWS),
                cxb,
                feet - hp,
                hp,
                rng.uniform(0, 2 * np.pi),
                rng.uniform(-1, 1),
            )

    scale = rng.uniform(*cam.scale)
    # Junk boxes (pid -1) stand for what a detector gets wrong: no person, a close-up crop, a speck.
    junk = ("background", "crop", "far")[int(rng.integers(3))] if job.kind == "junk" else ""
    if junk == "crop":
        scale *= rng.uniform(2.2, 3.5)
    elif junk == "far":
        scale *= rng.uniform(0.25, 0.4)
    ident = _random_identity(rng) if junk in ("crop", "far") else job.identity
    if ident is not None:
        hp = H * scale * ident.height
        cx = W * (0.5 + rng.normal(0, 0.06))
        feet = H * (1.0 - rng.uniform(0.0, max(1.0 - scale, 0.0)) * 0.8) + rng.normal(0, 0.02) * H
        if junk == "crop":
            feet = H * rng.uniform(1.3, 2.2)
            cx = W * rng.uniform(0.1, 0.9)
        top = feet - hp
        # The subject casts a soft shadow on the floor.
        sy = np.arange(H, dtype=np.float32)[:, None] - feet
        sx = np.arange(W, dtype=np.float32)[None, :] - cx
        shadow = (sx / (0.16 * hp)) ** 2 + (sy / (0.025 * hp)) ** 2 < 1
        canvas[shadow] *= 0.7
        draw_person(canvas, ident, job.view, cx, top, hp, rng.uniform(0, 2 * np.pi), job.light + rng.normal(0, 0.2))

    if rng.random() < cam.occlusion or (job.kind == "junk" and rng.random() < 0.5):
        _draw_occluder(canvas, cam, rng)

    img = Image.fromarray((np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8)).reduce(SS)
    return camera_response(img, cam, rng, job.exposure, extra_blur=job.kind == "junk" and rng.random() < 0.5)


def _draw_occluder(canvas, cam: Camera, rng) -> None:
    """Draw something between camera and subject: a passer-by, a pole, a low object or a plant."""
    H, W = canvas.shape[:2]
    kind = int(rng.integers(4))
    # Kind 0 is a passer-by close to the camera, cut by the box edge.
    if kind == 0:
        hp = H * rng.uniform(1.0, 1.4)
        cx = W * (rng.choice([-1, 1]) * rng.uniform(0.55, 0.75) + 0.5)
        draw_person(
            canvas,
            _random_identity(rng),
            pick(rng, VIEWS),
            cx,
            H * rng.uniform(-0.3, 0.1),
            hp,
            rng.uniform(0, 2 * np.pi),
            rng.uniform(-1, 1),
        )
        return
    x = np.arange(W, dtype=np.float32)[None, :]
    y = np.arange(H, dtype=np.float32)[:, None]
    colour = np.asarray(pick(rng, cam.palette), np.float32)
    # Kind 1 is a pole or sign post.
    if kind == 1:
        cx, hw = rng.uniform(0, W), rng.uniform(0.04, 0.1) * W
        mask = np.broadcast_to(np.abs(x - cx) < hw, (H, W))
        shade = 1 - 0.4 * ((x - cx) / hw) ** 2
    # Kind 2 is a bench, bin or car bonnet over the legs.
    elif kind == 2:
        y0 = H * rng.uniform(0.65, 0.85)
        x0, x1 = sorted(rng.uniform(-0.3, 1.3, 2) * W)
        mask = (y > y0) & (x > x0) & (x < max(x1, x0 + 0.4 * W))
        shade = 1 - 0.2 * (y - y0) / H
    # Any other kind is a plant or bush.
    else:
        n = smooth_noise(rng, H, W, 8 * SS)
        cx, cy, r = rng.uniform(0, W), H * rng.uniform(0.85, 1.1), rng.uniform(0.3, 0.6) * W
        mask = ((x - cx) ** 2 + (y - cy) ** 2) < (r * (1 + 0.3 * n)) ** 2
        colour = np.float32([0.18, 0.36, 0.14])
        shade = 1 + 0.3 * n
    np.copyto(canvas, colour * np.broadcast_to(shade, (H, W))[..., None], where=mask[..., None])


def encode_jpeg(job: Job, img: Image.Image) -> bytes:
    # The quality has its own stream, so that it does not shift the image's randoms.
    rng = seeded_rng(*job.key, 99)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(rng.integers(job.camera.jpeg_quality[0], job.camera.jpeg_quality[1] + 1)))
    return buf.getvalue()
