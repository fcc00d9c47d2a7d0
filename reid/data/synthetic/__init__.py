"""A procedurally rendered person re-identification dataset in Market-1501 layout.

Why it exists: the suite must be runnable end to end (train, evaluate, report) without the
public datasets, and the runs must still mean something. So this is a small but real re-ID
problem, not a toy: every identity has a persistent appearance (garments, patterns, hair,
bag, body shape) that survives camera changes, while each camera changes what a naive
matcher relies on (background, illumination, colour cast, viewpoint, scale, occlusion,
blur, noise, JPEG). Garment colours come from small, skewed palettes and some identities
deliberately copy another's garment colour, so colour alone is not enough (see
``reid.histogram_baseline.colour_histogram_baseline``, which must stay well below 25 % mAP on
the default set).

The package has three independent pieces plus the plan and the dataset writer:

* ``identities``: the identity model (``Identity``, ``make_identities``): what a person looks
  like, fixed per pid;
* ``cameras``: the camera model (``Camera``, ``make_camera``): what a camera does to every
  image it takes (its scene, light, colour cast, viewpoints, optics and sensor);
* ``person`` and ``render``: the renderer (``render_image``; ``draw_person`` and its ``_Figure``
  drawing helpers): numpy drawing with coordinate grids and masks on a 2x supersampled
  canvas, then camera post-processing and JPEG;
* ``plan``: who is seen by which camera (``SIZES``, ``Job``, ``plan_jobs``), split into
  train / query / gallery exactly like Market-1501, with distractors and junk;
* ``writer``: the files, written atomically and idempotently, in parallel, with a contact
  sheet and the dataset marker (``GENERATOR_VERSION``);
* ``randomness``: the seed-sequence streams and sampling helpers they all share.

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

    Idempotent: an existing set with the same size, seed and generator version is kept as it
    is. Atomic: the set is built in a temporary sibling folder and renamed onto ``root`` only
    when complete, so ``root`` never holds a half-written set.
    """
    # render_image is looked up here, in this package, when called: replacing
    # reid.data.synthetic.render_image (as the tests do) replaces what renders the images
    return write_set(root, size, seed, workers, progress, overwrite, render=render_image)
