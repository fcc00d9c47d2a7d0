"""A procedurally rendered person re-identification dataset in Market-1501 layout.

It exists because the suite must be runnable end to end (train, evaluate, report) without the
public datasets, and the runs must still mean something. So this is a small but real re-ID
problem, not a toy: every identity has a persistent appearance (garments, patterns, hair,
bag, body shape) that survives camera changes, while each camera changes what a naive
matcher relies on (background, illumination, colour cast, viewpoint, scale, occlusion,
blur, noise, JPEG). Garment colours come from small, skewed palettes and some identities
deliberately copy another's garment colour, so colour alone is not enough (see
``reid.histogram_baseline.colour_histogram_baseline``, which must stay well below 25 % mAP on
the default set).

The package has three independent pieces plus the plan and the dataset writer:

* ``identities`` holds the identity model (``Identity``, ``make_identities``), which fixes
  what a person looks like for each pid.
* ``cameras`` holds the camera model (``Camera``, ``make_camera``), which fixes what a camera
  does to every image it takes (its scene, light, colour cast, viewpoints, optics and sensor).
* ``person`` and ``render`` hold the renderer (``render_image``; ``draw_person`` and its
  ``_Figure`` drawing helpers). It draws with numpy coordinate grids and masks on a 2x
  supersampled canvas, then applies camera post-processing and JPEG.
* ``plan`` decides who is seen by which camera (``SIZES``, ``Job``, ``plan_jobs``) and splits
  the images into train / query / gallery exactly like Market-1501, with distractors and junk.
* ``writer`` writes the files atomically and idempotently, in parallel, with a contact sheet
  and the dataset marker (``GENERATOR_VERSION``).
* ``randomness`` holds the seed-sequence streams and sampling helpers that they all share.

Every image's random numbers come from ``SeedSequence((seed, tag, pid, camera, index))``, so
the files are byte-identical for a seed whatever the number of worker processes.
"""

from __future__ import annotations

from pathlib import Path

from reid.data.synthetic.cameras import IMAGE_H, IMAGE_W, Camera, make_camera
from reid.data.synthetic.identities import Garment, Identity, make_identities, make_identity
from reid.data.synthetic.plan import SIZES, Job, SynthSize, plan_jobs
from reid.data.synthetic.render import render_image
from reid.data.synthetic.writer import GENERATOR_VERSION, write_set

__all__ = [
    "GENERATOR_VERSION",
    "IMAGE_H",
    "IMAGE_W",
    "SIZES",
    "Camera",
    "Garment",
    "Identity",
    "Job",
    "SynthSize",
    "generate",
    "make_camera",
    "make_identities",
    "make_identity",
    "plan_jobs",
    "render_image",
]


def generate(
    root,
    size: str = "default",
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write the synthetic set to ``root`` (Market-1501 layout) and return ``root``.

    The call is idempotent: an existing set with the same size, seed and generator version is
    kept as it is. It is also atomic: the set is built in a temporary sibling folder and renamed
    onto ``root`` only when complete, so ``root`` never holds a half-written set.
    """
    # render_image is looked up in this package at call time, so that replacing
    # reid.data.synthetic.render_image (as the tests do) replaces what renders the images.
    return write_set(root, size, seed, workers, progress, overwrite, render=render_image)
