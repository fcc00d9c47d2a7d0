"""Get a config's dataset ready and record the outcome: ``python -m reid data prepare NAME``.

The workflow's first job per dataset. It renders (synthetic), fetches (market1501,
dukemtmcreid, msmt17, cuhk03_np) or checks (a custom ``path``) the dataset, then writes a
status file (its ``path`` is the folder the jobs read: ``root/cuhk03_np/<boxes>`` for CUHK03-NP):

    {"dataset": NAME, "ok": true, "path": ..., "counts": ..., "fingerprint": ..., "marker": {md5, source, ...}}
    {"dataset": NAME, "ok": false, "error": "<the fetch or layout error, with what to do>"}

A dataset that cannot be had is an outcome, not a crash: the status is written either way, so
that the report can still be built from the other datasets (``snakemake --keep-going``) and
say what did not run. The jobs that need the data (``train``, ``evaluate``) read the status
with ``require_ready`` and fail with the recorded error. The status also carries the dataset's
checksums for the report's provenance.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from reid.data import load_dataset, subset_name, synthetic
from reid.data.catalog import CATALOG
from reid.data.fetch import FetchError, fetch
from reid.data.market import DatasetError, fingerprint, read_marker
from reid.utils import atomic_write_json


def prepare(
    name: str, options: dict, data_root: str | os.PathLike, workers: int | None = None, progress: bool = False
) -> dict:
    """Make dataset ``name`` of a config ready and return its status. It never raises for a dataset
    that cannot be had, because the status says why."""

    status = {"dataset": name, "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        installed = _make_ready(name, options, data_root, workers, progress)
        # CUHK03-NP's fetch installs both subsets; the jobs read the one the config's boxes names.
        subset = subset_name(name, options.get("boxes"), options.get("path"))
        folder = installed / subset if subset and "path" not in options else installed
        dataset = load_dataset(name, path=folder, boxes=subset)
    except (DatasetError, FetchError, FileExistsError) as err:
        return status | {"ok": False, "error": str(err)}
    return status | {
        "ok": True,
        "path": str(folder),
        "fingerprint": fingerprint(dataset),
        "marker": read_marker(installed),
        "counts": {
            split: {"images": len(samples), "ids": len({s.pid for s in samples})}
            for split, samples in (("train", dataset.train), ("query", dataset.query), ("gallery", dataset.gallery))
        },
    }


def _make_ready(name: str, options: dict, data_root, workers: int | None, progress: bool) -> Path:
    """Render, fetch or find dataset ``name`` and return the folder that holds it (and its marker)."""
    if "path" in options:
        return Path(options["path"])
    if name == "synthetic":
        return synthetic.generate(
            Path(data_root) / name,
            size=options["size"],
            seed=options["seed"],
            workers=workers,
            progress=progress,
            overwrite=True,
        )
    if name in CATALOG:
        return fetch(name, data_root, archive=options.get("archive"), progress=progress)
    raise DatasetError(
        f"dataset '{name}' is neither synthetic, {', '.join(CATALOG)} nor a custom dataset with a path: "
        f"give its folder as datasets.{name}.path in the config."
    )


def write_status(path: str | os.PathLike, status: dict) -> None:
    atomic_write_json(path, status)


def read_status(path: str | os.PathLike) -> dict:
    try:
        status = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"cannot read the dataset status {path} ({err}); delete it and rerun the workflow") from err
    if not isinstance(status, dict) or "ok" not in status:
        raise DatasetError(
            f"{path} is not a dataset status written by `python -m reid data prepare`; delete it and rerun the workflow"
        )
    return status


def require_ready(path: str | os.PathLike) -> dict:
    """Return the status at ``path`` if its dataset is ready; otherwise raise DatasetError with the recorded error."""
    status = read_status(path)
    if not status["ok"]:
        raise DatasetError(
            f"dataset '{status.get('dataset')}' is not available, so this job cannot run:\n{status.get('error')}\n"
            "Fix that, then rerun the workflow: a failed dataset is tried again on every run."
        )
    return status
