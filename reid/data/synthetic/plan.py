"""Plan which identity of the synthetic set is seen by which camera, and in which split.

``plan_jobs`` turns a size and a seed into the list of ``Job``. The splits are train / query /
gallery exactly like Market-1501 (every query has a gallery image of its identity from another
camera), and the gallery also holds distractors (pid 0000) and junk boxes (pid -1), all with
Market-1501 file names, so that the set loads and scores as Market-1501 does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reid.data.market import DISTRACTOR_PID, JUNK_PID
from reid.data.synthetic.cameras import VIEWS, Camera, make_camera
from reid.data.synthetic.identities import Identity, make_identities, make_identity
from reid.data.synthetic.randomness import TAG_DISTRACTOR, TAG_IMAGE, TAG_PLAN, TAG_TRACK, pick, seeded_rng


@dataclass(frozen=True)
class SynthSize:
    """Say how big a synthetic set is. Counts are identities / images, and ranges are inclusive."""

    train_ids: int
    test_ids: int
    cameras: int
    cams_per_id: tuple[int, int]  # This many cameras see an identity (Market: 2..6).
    frames_per_track: tuple[int, int]  # An identity has this many images in one camera.
    # A test identity has this many query images, one per camera (Market: ~4.5 images).
    query_cams: int
    distractor_images: int  # The gallery has this many pid 0000 images of people never queried.
    junk_images: int  # The gallery has this many pid -1 images of background or useless boxes.


SIZES: dict[str, SynthSize] = {
    "tiny": SynthSize(8, 6, 4, (2, 3), (1, 3), 2, 6, 4),
    # The default run's demo set uses "small", because it fits the 2-core budget.
    "small": SynthSize(64, 64, 6, (2, 5), (2, 6), 2, 160, 100),
    "default": SynthSize(120, 120, 6, (2, 5), (2, 6), 2, 300, 200),
}


@dataclass(frozen=True)
class Job:
    """Hold everything needed to render and write one file; it is picklable because it is sent to the workers."""

    split: str
    name: str
    kind: str  # The kind is "person", "distractor" (pid 0) or "junk" (pid -1).
    key: tuple[int, ...]  # The seed-sequence key is (seed, tag, pid code, camera, index).
    camera: Camera
    identity: Identity | None
    view: str
    light: float  # The light direction is fixed per track.
    exposure: float  # The exposure change is fixed per track.


# ---------------------------------------------------------------------------------------------
# Plan: which identity is seen by which camera, how often and from where; Market-1501 naming.
# A "track" is one pass of a person through one camera: one walking direction (so mostly one
# viewpoint) and consistent light; the frames differ in pose, box placement, clutter, noise.
# ---------------------------------------------------------------------------------------------


def _name(pid: int, cam: int, seq: int, frame: int, box: int) -> str:
    person = f"{pid:04d}" if pid >= 0 else str(pid)  # Junk is "-1", as in Market-1501, not zero-padded.
    return f"{person}_c{cam}s{seq}_{frame:06d}_{box:02d}.jpg"


def _views_in_track(rng, cam: Camera, n: int) -> list[str]:
    main = pick(rng, VIEWS, cam.view_probs)
    turn = {
        "front": ("left", "right"),
        "back": ("left", "right"),
        "left": ("front", "back"),
        "right": ("front", "back"),
    }
    return [main if rng.random() > 0.15 else pick(rng, turn[main]) for _ in range(n)]


def plan_jobs(size: SynthSize, seed: int) -> list[Job]:
    rng = seeded_rng(seed, TAG_PLAN)
    cams = [make_camera(seed, c) for c in range(1, size.cameras + 1)]
    cam_weight = rng.uniform(0.5, 1.5, size.cameras)  # Some cameras see more people than others.
    n_ids = size.train_ids + size.test_ids
    pids = rng.choice(np.arange(1, max(1502, 2 * n_ids)), n_ids, replace=False)
    train_pids = sorted(int(p) for p in pids[: size.train_ids])
    test_pids = sorted(int(p) for p in pids[size.train_ids :])
    plan = _Plan(seed)
    for split_pids, is_test in ((train_pids, False), (test_pids, True)):
        idents = make_identities(seed, split_pids)
        for pid in split_pids:
            _plan_tracks(plan, size, cams, cam_weight, pid, idents[pid], is_test)
    _plan_distractors(plan, size, cams)
    _plan_junk(plan, size, cams, rng)
    return plan.jobs


class _Plan:
    """Collect the jobs planned so far. It gives each image a file name that no other image has, by
    counting up the box number, as Market-1501 numbers the boxes of one frame."""

    def __init__(self, seed: int):
        self.seed = seed
        self.jobs: list[Job] = []
        self.names: set[str] = set()

    def add(self, split, kind, pid, cam: Camera, index, ident, view, light, exposure, seq, frame) -> None:
        box = 1
        while _name(pid, cam.cam, seq, frame, box) in self.names:
            box += 1
        name = _name(pid, cam.cam, seq, frame, box)
        self.names.add(name)
        key = (self.seed, TAG_IMAGE, pid + 1, cam.cam, index)  # pid + 1, since junk (-1) must give a key >= 0.
        self.jobs.append(Job(split, name, kind, key, cam, ident, view, light, exposure))


def _plan_tracks(plan: _Plan, size: SynthSize, cams, cam_weight, pid: int, ident: Identity, is_test: bool) -> None:
    """Plan the tracks of one identity: the cameras that see it, and in each camera its frames. A test
    identity is seen by at least two cameras, and a query is taken from each of its first cameras."""
    trng = seeded_rng(plan.seed, TAG_TRACK, pid)
    lo, hi = size.cams_per_id
    k = int(trng.integers(max(lo, 2 if is_test else 1), min(hi, size.cameras) + 1))
    seen = trng.choice(size.cameras, k, replace=False, p=cam_weight / cam_weight.sum())
    n_query = min(size.query_cams, k) if is_test else 0
    for j, ci in enumerate(seen):
        cam = cams[int(ci)]
        n = int(trng.integers(size.frames_per_track[0], size.frames_per_track[1] + 1))
        if j < n_query:
            n = max(n, 2)  # A query camera keeps a gallery image, so that the other queries can match it.
        views = _views_in_track(trng, cam, n)
        light, exposure = float(trng.uniform(-1, 1)), float(np.exp(trng.normal(0, 0.1)))
        seq, frame0 = int(trng.integers(1, 7)), int(trng.integers(1000, 150000))
        step = int(trng.integers(5, 40))
        q = int(trng.integers(n)) if j < n_query else -1
        for f in range(n):
            split = "bounding_box_train" if not is_test else ("query" if f == q else "bounding_box_test")
            plan.add(split, "person", pid, cam, f, ident, views[f], light, exposure, seq, frame0 + f * step)


def _plan_distractors(plan: _Plan, size: SynthSize, cams) -> None:
    """Plan distractors (pid 0000), people who are never queried, with one to three images each,
    so that the gallery holds negatives that look like people."""
    k = 0
    while k < size.distractor_images:
        drng = seeded_rng(plan.seed, TAG_DISTRACTOR, k)
        ident = make_identity(drng, DISTRACTOR_PID)
        for _ in range(min(int(drng.integers(1, 4)), size.distractor_images - k)):
            cam = cams[int(drng.integers(size.cameras))]
            plan.add(
                "bounding_box_test",
                "distractor",
                DISTRACTOR_PID,
                cam,
                k,
                ident,
                pick(drng, VIEWS, cam.view_probs),
                float(drng.uniform(-1, 1)),
                1.0,
                int(drng.integers(1, 7)),
                int(drng.integers(1000, 150000)),
            )
            k += 1


def _plan_junk(plan: _Plan, size: SynthSize, cams, rng) -> None:
    """Plan junk boxes (pid -1), the useless boxes a detector also returns. They take their
    draws from the plan's own generator, after everything else it draws."""
    for k in range(size.junk_images):
        cam = cams[int(rng.integers(size.cameras))]
        plan.add(
            "bounding_box_test",
            "junk",
            JUNK_PID,
            cam,
            k,
            None,
            pick(rng, VIEWS),
            float(rng.uniform(-1, 1)),
            1.0,
            int(rng.integers(1, 7)),
            int(rng.integers(1000, 150000)),
        )
