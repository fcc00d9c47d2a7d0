"""Datasets: one Market-1501-layout parser, the synthetic set, and acquisition of the public sets.

``load_dataset(name, root)`` is the single entry point the rest of the suite uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from reid.data.catalog import CATALOG, SPLITS, DatasetSpec, SplitCount
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
]


def dataset_path(name: str, root: str | os.PathLike | None = None, path: str | os.PathLike | None = None) -> Path:
    """Return where dataset ``name`` lives: an explicit ``path``, else ``root/name``."""
    if path is not None:
        return Path(path)
    if root is None:
        raise DatasetError(f"dataset '{name}': give either its folder (path) or the data root (root).")
    return Path(root) / name


def load_dataset(
    name: str, root: str | os.PathLike | None = None, path: str | os.PathLike | None = None
) -> ReidDataset:
    """Load a dataset by name.

    - ``market1501`` / ``dukemtmcreid``: ``root/<name>`` as written by ``python -m reid data fetch``;
      the image counts must equal those of the published release.
    - ``synthetic``: a folder written by ``python -m reid data synth``.
    - anything else ("custom"): ``path`` must be a folder in Market-1501 layout.
    """
    folder = dataset_path(name, root, path)
    if name in CATALOG:
        spec = CATALOG[name]
        hint = f"Run: python -m reid data fetch {name} --root {folder.parent}"
        if not spec.urls:
            hint += f" --archive /path/to/{spec.archive_name}"
        return load_market_layout(folder, name=name, spec=spec, hint=hint)
    if name == "synthetic":
        return load_market_layout(folder, name=name, hint=f"Run: python -m reid data synth --root {folder}")
    return load_market_layout(
        folder, name=name, hint="Point the config's dataset path at a folder in Market-1501 layout."
    )
