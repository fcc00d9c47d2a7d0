"""What a training run records as it goes, besides its checkpoints: log.csv, curve.npz, and a
progress line per epoch for the job's log.

    log.csv      one row per epoch (losses, accuracy, lr, seconds, images/s, R1/mAP every N)
    curve.npz    each query's first-hit rank at each of those evaluations, and its identity:
                 the R1-in-training claim (C6) counts the test set's people from it

Both are rewritten whole, atomically, after every epoch, so that a killed job leaves either the
previous version or the new one.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from reid.config import TrainConfig
from reid.utils import atomic_path

LOG_FIELDS = [
    "epoch",
    "loss",
    "triplet",
    "ce",
    "train_acc",
    "lr",
    "epoch_seconds",
    "images_per_s",
    "rank1",
    "mAP",
    "precision",  # This records what the epoch's forward passes ran in, since a resume may change it (restore_scaler).
]

CURVE_FILE = "curve.npz"


def write_log(path: Path, rows: list[dict]) -> None:
    """Write log.csv, one row per epoch in LOG_FIELDS' columns, empty where an epoch has no value."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row.get(k, "") for k in LOG_FIELDS})


def write_curve(path: Path, hits: dict, q_pids) -> None:
    """Write curve.npz: ``epochs`` (E), ``first_hit`` (E x queries, 0-based rank of the first match,
    -1 where a query has none) and ``q_pids``; empty arrays when the run evaluated no epoch."""
    epochs = sorted(hits)
    first_hit = (
        np.stack([np.asarray(hits[e], dtype=np.int32) for e in epochs]) if epochs else np.zeros((0, 0), np.int32)
    )
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f, epochs=np.array(epochs, dtype=np.int32), first_hit=first_hit, q_pids=np.asarray(q_pids)
            )


def trained_in(history: list[dict]) -> str:
    """Return the precisions a run's epochs ran in, in order of first use (e.g. "bfloat16" or
    "bfloat16, float16" after a resume on another GPU generation)."""
    seen = [row["precision"] for row in history if row.get("precision")]
    return ", ".join(dict.fromkeys(seen)) or "unknown"


def clock(seconds: float) -> str:
    """Format a duration as H:MM:SS for the progress lines, because a run may take hours."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def print_progress(row: dict, cfg: TrainConfig, spent: float, epochs_this_call: int) -> None:
    """Return one JSON line for the job's log: the epoch of how many, its numbers, the time spent and
    an ETA, which extrapolates this call's pace (its epochs, evaluations and checkpoints)."""
    shown = {k: row[k] for k in ("epoch", "loss", "train_acc", "lr", "images_per_s", "rank1", "mAP") if k in row}
    left = cfg.epochs - row["epoch"]
    shown.update(epochs=cfg.epochs, elapsed=clock(spent), eta=clock(spent / epochs_this_call * left))
    print(json.dumps(shown), flush=True)
