"""One parser for every dataset in Market-1501 layout.

Market-1501 (``0002_c1s1_000451_03.jpg``), DukeMTMC-reID (``0005_c2_f0046985.jpg``), the
synthetic set and any user dataset ("custom") share it: a root holding
``bounding_box_train/``, ``query/`` and ``bounding_box_test/``, the person id before the
first underscore and the camera after ``_c``. Junk images (pid -1) are dropped; distractors
(pid 0) are kept in the gallery, where they count as negatives (the Market-1501 protocol).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from reid.data.catalog import SPLITS, DatasetSpec
from reid.utils import atomic_write_json

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# The pid (which may be -1 for junk) comes first, then the camera, of one digit or more (MSMT17's run
# to c15); Market adds sSS_FFFFFF_BB, Duke _fFFFFFFF.
NAME_PATTERN = re.compile(r"^(-?\d+)_c(\d+)")
MARKER = ".reid_dataset.json"
JUNK_PID = -1
DISTRACTOR_PID = 0


class DatasetError(Exception):
    """Signal that a dataset is missing, incomplete or not in Market-1501 layout; the message says what to do."""


@dataclass(frozen=True)
class Sample:
    path: str
    pid: int
    camid: int


@dataclass
class ReidDataset:
    name: str
    root: Path
    train: list[Sample]
    query: list[Sample]
    gallery: list[Sample]
    pid_to_label: dict[int, int] = field(default_factory=dict)

    def __post_init__(self):
        if not self.pid_to_label:
            # The identity classifiers need contiguous class labels, given in sorted pid order.
            self.pid_to_label = {pid: i for i, pid in enumerate(sorted({s.pid for s in self.train}))}

    @property
    def num_train_pids(self) -> int:
        return len(self.pid_to_label)

    @property
    def train_labels(self) -> list[int]:
        return [self.pid_to_label[s.pid] for s in self.train]

    def summary(self) -> str:
        rows = [("train", self.train), ("query", self.query), ("gallery", self.gallery)]
        lines = [f"{self.name} at {self.root}"]
        for label, samples in rows:
            pids = {s.pid for s in samples}
            cams = {s.camid for s in samples}
            lines.append(f"  {label:8s} {len(samples):7d} images {len(pids):6d} ids {len(cams):3d} cameras")
        return "\n".join(lines)


def parse_name(filename: str) -> tuple[int, int] | None:
    """Return (pid, camid) from a Market-1501-layout file name (``0002_c1s1_...``, ``0001_c15_...``), or None."""
    match = NAME_PATTERN.match(os.path.basename(filename))
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def _image_files(folder: Path) -> list[str]:
    # os.scandir is fast on 20k-file folders, and the names are sorted so that every run sees the same order.
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES))


def read_split(folder: str | os.PathLike, keep_junk: bool = False) -> list[Sample]:
    """Return the samples of one split folder, sorted by file name; names that do not parse raise DatasetError."""
    folder = Path(folder)
    samples, bad = [], []
    for name in _image_files(folder):
        parsed = parse_name(name)
        if parsed is None:
            bad.append(name)
            continue
        pid, camid = parsed
        if pid == JUNK_PID and not keep_junk:
            continue
        if pid < JUNK_PID or camid < 1:
            bad.append(name)
            continue
        samples.append(Sample(str(folder / name), pid, camid))
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise DatasetError(
            f"{len(bad)} image(s) in {folder} are not named like Market-1501 "
            f"('PPPP_cC...jpg', pid before the first underscore, camera after '_c'): {shown}. "
            "Rename them or remove them from the dataset folder."
        )
    return samples


def layout_counts(root: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Count, per split, the image files, the images after junk removal and the identities (junk excluded)."""
    root = Path(root)
    counts = {}
    for split in SPLITS:
        samples = read_split(root / split, keep_junk=True)
        kept = [s for s in samples if s.pid != JUNK_PID]
        counts[split] = {"files": len(samples), "images": len(kept), "ids": len({s.pid for s in kept})}
    return counts


def check_layout(root: str | os.PathLike, hint: str = "") -> Path:
    """Raise DatasetError naming what is missing unless ``root`` holds the three split folders."""
    root = Path(root)
    todo = f" {hint}" if hint else ""
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist.{todo}")
    missing = [s for s in SPLITS if not (root / s).is_dir()]
    if missing:
        present = sorted(p.name for p in root.iterdir())[:10]
        raise DatasetError(
            f"{root} is not in Market-1501 layout: missing folder(s) {', '.join(missing)} "
            f"(found: {', '.join(present) or 'nothing'}). Expected bounding_box_train/, query/ "
            f"and bounding_box_test/.{todo}"
        )
    return root


def count_problems(counts: dict[str, dict[str, int]], spec: DatasetSpec) -> list[str]:
    """List each way in which ``counts`` (as from ``layout_counts``) differ from the release ``spec``."""
    problems = []
    for split in SPLITS:
        want, got = spec.counts[split], counts[split]
        if (got["images"], got["ids"]) != (want.images, want.ids):
            problems.append(
                f"{split}: expected {want.images} images / {want.ids} ids, found {got['images']} / {got['ids']}"
            )
    if counts["bounding_box_test"]["files"] != spec.gallery_files:
        problems.append(
            f"bounding_box_test: expected {spec.gallery_files} files before junk removal, "
            f"found {counts['bounding_box_test']['files']}"
        )
    return problems


def validate_counts(counts: dict[str, dict[str, int]], spec: DatasetSpec, root: Path) -> None:
    problems = count_problems(counts, spec)
    if problems:
        raise DatasetError(
            f"{root} does not hold the {spec.name} release the paper used: "
            + "; ".join(problems)
            + f". Delete the folder and fetch it again (python -m reid data fetch {spec.name} --root ...)."
        )


def load_market_layout(
    root: str | os.PathLike, name: str = "custom", spec: DatasetSpec | None = None, hint: str = ""
) -> ReidDataset:
    """Read and validate a dataset in Market-1501 layout.

    ``spec`` adds a check of the counts of a known release; ``hint`` is appended to a missing-
    folder error (e.g. the fetch command that creates it).
    """
    root = check_layout(root, hint)
    train = read_split(root / "bounding_box_train")
    query = read_split(root / "query")
    gallery = read_split(root / "bounding_box_test")
    empty = [
        label for label, s in (("bounding_box_train", train), ("query", query), ("bounding_box_test", gallery)) if not s
    ]
    if empty:
        raise DatasetError(f"{root}: no images in {', '.join(empty)}.{(' ' + hint) if hint else ''}")
    if spec is not None:
        counts = {
            "bounding_box_train": _count(train),
            "query": _count(query),
            "bounding_box_test": _count(gallery),
        }
        counts["bounding_box_test"]["files"] = len(_image_files(root / "bounding_box_test"))
        validate_counts(counts, spec, root)
    check_queries(query, gallery, root)
    return ReidDataset(name=name, root=root, train=train, query=query, gallery=gallery)


def _count(samples: list[Sample]) -> dict[str, int]:
    return {"images": len(samples), "ids": len({s.pid for s in samples})}


def check_queries(query: list[Sample], gallery: list[Sample], root: Path) -> None:
    """Check that at least one query has a cross-camera match in the gallery, as every evaluation needs.

    The error says which of the usual causes it is: no query identity in the gallery at all,
    every image from one camera, or the shared identities seen only by the query's own camera.
    (Queries without a match while others have one are only skipped and counted by the metric.)
    """
    gallery_cams: dict[int, set[int]] = {}
    for s in gallery:
        gallery_cams.setdefault(s.pid, set()).add(s.camid)
    valid = sum(1 for q in query if gallery_cams.get(q.pid, set()) - {q.camid})
    if valid:
        return
    query_pids = sorted({q.pid for q in query})
    cameras = sorted({s.camid for s in query} | {s.camid for s in gallery})
    if not set(query_pids) & set(gallery_cams):
        shown = ", ".join(f"{p:04d}" for p in query_pids[:5]) + (" ..." if len(query_pids) > 5 else "")
        cause = f"none of the {len(query_pids)} query identities ({shown}) has an image in bounding_box_test/"
        todo = (
            "Put gallery images of the query identities in bounding_box_test/ (or check that query/ and "
            "bounding_box_test/ come from the same release)."
        )
    elif len(cameras) == 1:
        cause = f"every query and gallery image is from the same camera (c{cameras[0]} in the file names)"
        todo = (
            "Check the camera ids in the file names ('_cN' after the identity): they must tell the cameras "
            "apart, and the gallery must hold each query identity from another camera."
        )
    else:
        cause = "the query identities appear in bounding_box_test/ only in images from the query's own camera"
        todo = (
            "Add gallery images of the query identities from other cameras, or check the camera ids in the "
            "file names ('_cN')."
        )
    raise DatasetError(
        f"{root}: no query can be evaluated under the Market-1501 protocol, which needs a gallery image of the "
        f"same identity from another camera (same-camera matches are excluded): {cause}. {todo}"
    )


def read_marker(root: str | os.PathLike) -> dict | None:
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_marker(root: str | os.PathLike, payload: dict) -> None:
    atomic_write_json(Path(root) / MARKER, payload)


def fingerprint(dataset: ReidDataset) -> str:
    """Return a cheap identity of a dataset's content: relative names and sizes of every image.

    Keys caches (e.g. decoded image tensors) so that a changed dataset never reuses them.
    """
    digest = hashlib.sha256()
    for split in (dataset.train, dataset.query, dataset.gallery):
        for s in split:
            rel = os.path.relpath(s.path, dataset.root)
            digest.update(f"{rel}\t{os.path.getsize(s.path)}\n".encode())
    return digest.hexdigest()[:16]
