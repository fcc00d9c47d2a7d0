"""Model what a person of the synthetic set looks like, which stays fixed per pid.

An identity has garments (colour, pattern, sleeves), hair, hat, shoes, bag and body shape,
drawn from small skewed palettes. ``make_identities`` makes some identities copy another's
garment colour on purpose as hard negatives, so that colour alone does not identify a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reid.data.synthetic.randomness import RGB, TAG_IDENTITY, jitter_colour, pick, seeded_rng

# ---------------------------------------------------------------------------------------------
# Identity model: what stays the same for a person in every camera.
# Palettes are small and skewed towards dark / neutral clothes (as in real street scenes), so
# two identities often share a garment colour and differ only in pattern, the other garment,
# hair, bag or body shape: these are the hard negatives.
# ---------------------------------------------------------------------------------------------

# Each entry maps a name to (sRGB, frequency).
UPPER_COLOURS: dict[str, tuple[RGB, float]] = {
    "black": ((0.09, 0.09, 0.10), 5),
    "white": ((0.90, 0.90, 0.88), 4),
    "grey": ((0.50, 0.50, 0.52), 3),
    "navy": ((0.12, 0.16, 0.36), 3),
    "red": ((0.72, 0.12, 0.12), 2),
    "blue": ((0.22, 0.42, 0.75), 2),
    "green": ((0.20, 0.45, 0.25), 1.5),
    "yellow": ((0.88, 0.76, 0.22), 1),
    "pink": ((0.88, 0.55, 0.66), 1),
    "purple": ((0.42, 0.24, 0.52), 1),
    "orange": ((0.90, 0.48, 0.14), 1),
    "brown": ((0.42, 0.28, 0.18), 1.5),
    "beige": ((0.80, 0.72, 0.56), 1.5),
    "lightblue": ((0.62, 0.76, 0.90), 1.5),
}
LOWER_COLOURS: dict[str, tuple[RGB, float]] = {
    "black": ((0.08, 0.08, 0.09), 6),
    "denim": ((0.22, 0.31, 0.50), 5),
    "darkgrey": ((0.25, 0.25, 0.27), 3),
    "grey": ((0.52, 0.52, 0.54), 1.5),
    "khaki": ((0.68, 0.60, 0.44), 1.5),
    "navy": ((0.11, 0.13, 0.28), 1.5),
    "lightdenim": ((0.45, 0.56, 0.72), 1.5),
    "white": ((0.88, 0.88, 0.86), 1),
    "brown": ((0.38, 0.26, 0.17), 1),
    "red": ((0.62, 0.12, 0.14), 0.5),
}
SKIN = [
    (0.96, 0.80, 0.69),
    (0.91, 0.72, 0.58),
    (0.80, 0.60, 0.45),
    (0.66, 0.46, 0.32),
    (0.50, 0.34, 0.23),
    (0.36, 0.24, 0.16),
]
HAIR = [
    (0.06, 0.05, 0.05),
    (0.20, 0.13, 0.08),
    (0.38, 0.25, 0.14),
    (0.78, 0.64, 0.38),
    (0.62, 0.60, 0.58),
    (0.50, 0.22, 0.10),
]
HAIR_FREQ = [5, 3, 2, 1, 0.7, 0.5]
SHOES = [
    (0.08, 0.08, 0.08),
    (0.92, 0.92, 0.92),
    (0.36, 0.22, 0.12),
    (0.45, 0.45, 0.47),
    (0.70, 0.15, 0.15),
    (0.20, 0.30, 0.60),
]
SHOE_FREQ = [5, 4, 2, 1.5, 0.5, 0.5]
BAG_COLOURS = [
    (0.08, 0.08, 0.09),
    (0.38, 0.24, 0.14),
    (0.45, 0.45, 0.48),
    (0.65, 0.14, 0.14),
    (0.14, 0.18, 0.40),
    (0.24, 0.40, 0.24),
    (0.75, 0.66, 0.50),
]
UPPER_PATTERNS = ["solid", "hstripes", "vstripes", "checks", "twotone", "logo"]
UPPER_PATTERN_FREQ = [4, 1.3, 0.8, 1.0, 1.5, 1.5]


@dataclass(frozen=True)
class Garment:
    colour: RGB
    colour2: RGB  # Stripes, checks, a second tone or a logo use this colour.
    pattern: str  # An upper garment takes UPPER_PATTERNS; a lower one "trousers", "shorts", "skirt".
    period: float = 0.04  # The stripe or check period is given in body heights.
    long_sleeves: bool = True
    colour_name: str = ""


@dataclass(frozen=True)
class Identity:
    pid: int
    skin: RGB
    hair: RGB
    hair_len: int  # 0 is short, 1 medium (ears), 2 long (shoulders and below).
    hat: RGB | None
    upper: Garment
    lower: Garment
    shoes: RGB
    bag: str  # The bag is "none", "backpack" or "shoulder".
    bag_side: int  # A shoulder bag hangs on the person's own left (+1) or right (-1).
    bag_colour: RGB
    height: float  # The height is a fraction of the nominal box-filling height.
    width: float  # This multiplies the body width.
    legs: float  # The hip height is given as a fraction of body height.
    gait: float  # This is the arm and leg swing amplitude.


def _colour_from(rng, table: dict[str, tuple[RGB, float]], exclude: str = "") -> tuple[str, RGB]:
    names = [n for n in table if n != exclude]
    name = pick(rng, names, [table[n][1] for n in names])
    return name, table[name][0]


def make_identity(rng: np.random.Generator, pid: int, like: Identity | None = None, share: str = "") -> Identity:
    """Make a random person.

    Given ``like`` and ``share`` ('upper', 'lower', 'both'), it makes a hard negative that copies
    another identity's garment colour(s) and differs in everything else.
    """
    up_name, up = _colour_from(rng, UPPER_COLOURS)
    lo_name, lo = _colour_from(rng, LOWER_COLOURS)
    if like is not None and share in ("upper", "both"):
        up_name, up = like.upper.colour_name, like.upper.colour
    if like is not None and share in ("lower", "both"):
        lo_name, lo = like.lower.colour_name, like.lower.colour
    pattern = pick(rng, UPPER_PATTERNS, UPPER_PATTERN_FREQ)
    if like is not None and share == "both":
        # With the same colours, the pattern must differ so that the two remain distinguishable.
        pattern = pick(rng, [p for p in UPPER_PATTERNS if p != like.upper.pattern])
    _, up2 = _colour_from(rng, UPPER_COLOURS, exclude=up_name)
    upper = Garment(
        jitter_colour(rng, up),
        jitter_colour(rng, up2),
        pattern,
        float(rng.uniform(0.03, 0.05)),
        bool(rng.random() < 0.6),
        up_name,
    )
    kind = pick(rng, ["trousers", "shorts", "skirt"], [7, 2, 1.2])
    lower = Garment(jitter_colour(rng, lo), jitter_colour(rng, lo), kind, colour_name=lo_name)
    bag = pick(rng, ["none", "backpack", "shoulder"], [4, 2.5, 2])
    return Identity(
        pid=pid,
        skin=jitter_colour(rng, pick(rng, SKIN), 0.02),
        hair=jitter_colour(rng, pick(rng, HAIR, HAIR_FREQ), 0.02),
        hair_len=int(pick(rng, [0, 1, 2], [4, 2, 2])),
        hat=jitter_colour(rng, _colour_from(rng, UPPER_COLOURS)[1]) if rng.random() < 0.12 else None,
        upper=upper,
        lower=lower,
        shoes=pick(rng, SHOES, SHOE_FREQ),
        bag=bag,
        bag_side=int(pick(rng, [-1, 1])),
        bag_colour=jitter_colour(rng, pick(rng, BAG_COLOURS)),
        height=float(rng.uniform(0.88, 1.0)),
        width=float(rng.uniform(0.82, 1.22)),
        legs=float(rng.uniform(0.45, 0.52)),
        gait=float(rng.uniform(0.6, 1.2)),
    )


def make_identities(seed: int, pids: list[int]) -> dict[int, Identity]:
    """Make the identities of one split.

    About 40 % copy a garment colour of an earlier identity of the same split, as hard
    negatives. Only original identities are copied, so that copies of copies do not snowball
    into one over-represented colour.
    """
    made: dict[int, Identity] = {}
    originals: list[Identity] = []
    for pid in pids:
        rng = seeded_rng(seed, TAG_IDENTITY, pid)
        like, share = None, ""
        if originals and rng.random() < 0.4:
            like = originals[int(rng.integers(len(originals)))]
            share = pick(rng, ["upper", "lower", "both"], [2, 2, 1])
        made[pid] = make_identity(rng, pid, like, share)
        if like is None:
            originals.append(made[pid])
    return made
