"""This module holds the random streams of the synthetic set and the small sampling helpers that every part shares.

Every random decision draws from its own ``SeedSequence`` keyed by (seed, tag, ...), so no
decision shifts the random numbers of another, and an image's randoms depend only on its key.
"""

from __future__ import annotations

import numpy as np

# The seed-sequence domain tags keep the streams of the different random decisions apart.
TAG_PLAN, TAG_IDENTITY, TAG_CAMERA, TAG_TRACK, TAG_IMAGE, TAG_DISTRACTOR = range(1, 7)

RGB = tuple[float, float, float]


def seeded_rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def pick(rng: np.random.Generator, items, weights=None):
    if weights is None:
        return items[int(rng.integers(len(items)))]
    w = np.asarray(weights, float)
    return items[int(rng.choice(len(items), p=w / w.sum()))]


def jitter_colour(rng, colour: RGB, amount: float = 0.035) -> RGB:
    # A shade of the palette colour keeps the same name but looks like a slightly different fabric.
    return tuple(float(np.clip(c + rng.normal(0, amount), 0.02, 0.98)) for c in colour)
