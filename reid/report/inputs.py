"""What the report reads: every result under ``results/``, as measured (a damaged or foreign
file is not a result)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from reid.targets import CROSS_DIR


@dataclass
class Results:
    """Hold everything measured, as read from the results folder."""

    metrics: dict = field(default_factory=dict)  # This maps (dataset, variant) -> {seed: metrics dict}.
    logs: dict = field(default_factory=dict)  # This maps (dataset, variant) -> {seed: list of rows}.
    costs: dict = field(default_factory=dict)  # This maps a variant to its Table 4 cost (reid.cost.measure_cost).
    datasets: dict = field(default_factory=dict)  # This maps a dataset to its status (reid.data.prepare).
    # This maps (trained on, evaluated on, variant) -> {seed: metrics dict}, from results/cross/ (snakemake cross).
    cross: dict = field(default_factory=dict)


def _metric(metrics: dict, name: str) -> float | None:
    """Return a metric in percent from a metrics.json, which holds fractions."""
    aliases = {"rank1": ("rank1", "R1"), "rank5": ("rank5", "R5"), "rank10": ("rank10", "R10"), "mAP": ("mAP",)}
    for key in aliases.get(name, (name,)):
        if key in metrics and metrics[key] is not None:
            return 100.0 * float(metrics[key])
    return None


def read_results(results_dir: str | Path) -> Results:
    root = Path(results_dir)
    found = Results()
    for path in sorted(root.glob("*/*/seed*/metrics.json")):
        dataset, variant, seed_dir = path.parts[-4:-1]
        try:
            seed = int(seed_dir.removeprefix("seed"))
            found.metrics.setdefault((dataset, variant), {})[seed] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue  # A damaged or foreign file is not a result.
    for path in sorted(root.glob("*/*/seed*/log.csv")):
        dataset, variant, seed_dir = path.parts[-4:-1]
        try:
            seed = int(seed_dir.removeprefix("seed"))
            with open(path, newline="") as f:
                found.logs.setdefault((dataset, variant), {})[seed] = list(csv.DictReader(f))
        except (ValueError, OSError):
            continue
    for path in sorted(root.glob("*/dataset.json")):
        try:
            status = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
        if isinstance(status, dict) and "ok" in status:
            found.datasets[path.parent.name] = status
    for path in sorted(root.glob(f"{CROSS_DIR}/*/*/*/seed*/metrics.json")):
        trained_on, evaluated_on, variant, seed_dir = path.parts[-5:-1]
        try:
            seed = int(seed_dir.removeprefix("seed"))
            found.cross.setdefault((trained_on, evaluated_on, variant), {})[seed] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
    for path in sorted((root / "cost").glob("*.json")):
        try:
            found.costs[path.stem] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
    return found


def mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std
