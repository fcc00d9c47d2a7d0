"""One claim of the paper with our verdict on it, and report/claims.csv."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

from reid.utils import atomic_path

VERDICTS = ("supported", "contradicted", "inconclusive", "untestable")
NOT_SUPPLIED = "dataset not supplied to this run"
CSV_COLUMNS = (
    "claim_id",
    "claim",
    "dataset",
    "metric",
    "paper",
    "ours",
    "ci_low",
    "ci_high",
    "verdict",
    "seeds",
    "queries",
    "interval",
    "paper_dataset",
    "note",
)


@dataclass
class Claim:
    claim_id: str
    claim: str  # "residual vs avg", or a variant's name for an absolute number
    dataset: str
    metric: str  # mAP | R1 (C1-C4); a cost (C5) or a training curve (C6)
    paper: float | None
    ours: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: str = "untestable"
    seeds: str = ""  # seeds per variant, "3" or "3 / 3"
    queries: int | None = None
    interval: str = ""  # what the interval counts
    paper_dataset: str = ""  # whose paper value stands in the paper column
    note: str = ""


def write_claims_csv(claims: list[Claim], path: str | Path) -> Path:
    """report/claims.csv: the claims table, one row per claim, dataset and metric (atomic)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for claim in claims:
                row = asdict(claim)
                for key in ("paper", "ours", "ci_low", "ci_high"):
                    row[key] = "" if row[key] is None else f"{row[key]:.2f}"
                writer.writerow(row)
    return path
