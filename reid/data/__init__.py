"""Datasets: one Market-1501-layout parser, the synthetic set, and acquisition of the public sets.

``load_dataset(name, root)`` is the single entry point the rest of the suite uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from reid.config import default
from reid.data.catalog import CATALOG, SPLITS, DatasetSpec, SplitCount, subset_spec
from reid.data.market import (
    DatasetError,
    ReidDataset,
    Sample,
    fingerprint,
    layout_counts,
    load_market_layout,
    parse_name,
    read_marker,
)

__all__ = [
    "CATALOG",
    "SPLITS",
    "DatasetSpec",
    "SplitCount",
    "DatasetError",
    "ReidDataset",
    "Sample",
    "fingerprint",
    "layout_counts",
    "load_market_layout",
    "parse_name",
    "read_marker",
    "load_dataset",
    "dataset_path",
    "subset_name",
]


def subset_name(name: str, boxes: str | None = None, path: str | os.PathLike | None = None) -> str | None:
    """Return which subset of dataset ``name`` is meant, or None for a dataset without subsets.

    For CUHK03-NP that is ``boxes`` (the config's ``datasets.cuhk03_np.boxes``); without it, the
    name of a ``path`` that is one of the installed subset folders (``root/cuhk03_np/detected``),
    else the config schema's default.
    """
    spec = CATALOG.get(name)
    if spec is None or not spec.subsets:
        return None
    named = Path(path).name if path is not None else None
    if boxes is None:
        boxes = named if named in spec.subsets else default(f"datasets.{name}.boxes")
    elif named in spec.subsets and named != boxes:  # The schema fills in boxes: a config's path must agree with it.
        raise DatasetError(
            f"dataset '{name}': its path {path} is the {named} subset but boxes is {boxes}: set boxes: {named}"
        )
    if boxes not in spec.subsets:
        raise DatasetError(f"dataset '{name}': boxes {boxes!r} is not one of {', '.join(spec.subsets)}.")
    return boxes


def dataset_path(
    name: str,
    root: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    boxes: str | None = None,
) -> Path:
    """Return where dataset ``name`` lives: an explicit ``path``, else ``root/name`` (and, for a
    dataset with subsets, that subset's folder in it: ``root/cuhk03_np/labeled``)."""
    if path is not None:
        return Path(path)
    if root is None:
        raise DatasetError(f"dataset '{name}': give either its folder (path) or the data root (root).")
    subset = subset_name(name, boxes)
    return Path(root) / name / subset if subset else Path(root) / name


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    boxes: str | None = None,
) -> ReidDataset:
    """Load a dataset by name.

    - ``market1501``, ``dukemtmcreid``, ``msmt17``, ``cuhk03_np``: ``root/<name>`` as written by
      ``python -m reid data fetch`` (``root/cuhk03_np/<boxes>``); the image counts must equal
      those of the published release (of that subset).
    - ``synthetic``: a folder written by ``python -m reid data synth``.
    - anything else ("custom"): ``path`` must be a folder in Market-1501 layout.
    """
    folder = dataset_path(name, root, path, boxes)
    if name in CATALOG:
        spec = CATALOG[name]
        subset = subset_name(name, boxes, path)
        hint = f"Run: python -m reid data fetch {name} --root {folder.parent.parent if subset else folder.parent}"
        if not spec.urls:
            hint += f" --archive /path/to/{spec.archive_name}"
        return load_market_layout(folder, name=name, spec=subset_spec(spec, subset) if subset else spec, hint=hint)
    if name == "synthetic":
        return load_market_layout(folder, name=name, hint=f"Run: python -m reid data synth --root {folder}")
    return load_market_layout(
        folder, name=name, hint="Point the config's dataset path at a folder in Market-1501 layout."
    )
