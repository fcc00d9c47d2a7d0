"""One claim of the paper with our verdicts on it, the family-wise adjustment of those
verdicts, and report/claims.csv."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

from reid.stats import ALPHA, holm
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
    "size",
    "verdict_adjusted",
    "size_adjusted",
    "p_value",
    "size_p_value",
    "kind",
    "seeds",
    "queries",
    "identities",
    "interval",
    "paper_dataset",
    "note",
)


@dataclass
class Claim:
    claim_id: str
    claim: str  # This is "residual vs avg", or a run's name for an absolute number.
    dataset: str
    metric: str  # This is mAP | R1 (accuracy), a cost (C5) or a training curve (C6).
    paper: float | None
    ours: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: str = "untestable"
    size: str = ""  # Comparisons of accuracy have as_claimed | smaller | larger | inconclusive | untestable.
    verdict_adjusted: str = ""  # This is the verdict after Holm's adjustment over the dataset's tests.
    size_adjusted: str = ""
    # This belongs to the test behind ``verdict``; None means no statistical test.
    p_value: float | None = None
    size_p_value: float | None = None
    kind: str = ""  # The kinds are direction | size | absolute | cost | curve (reid/resources/claims.yaml).
    seeds: str = ""  # This gives the seeds per variant, "3" or "3 / 3".
    queries: int | None = None
    identities: int | None = None  # The test set's people are the unit the intervals resample.
    interval: str = ""  # This says what the interval counts.
    paper_dataset: str = ""  # This says whose paper value stands in the paper column.
    note: str = ""

    def add_note(self, text: str) -> None:
        self.note = "; ".join(x for x in (self.note, text) if x)


CALLS = {"supported", "contradicted", "as_claimed", "smaller", "larger"}


def statistical_tests(claims: list[Claim]) -> list[tuple[Claim, str]]:
    """Return every (claim, column) whose call is a statistical test at the 5% level, meaning a
    verdict or a size with a p-value; exact counts and untestable rows are not tests."""
    tests = []
    for c in claims:
        if c.p_value is not None and c.verdict != "untestable":
            tests.append((c, "verdict"))
        if c.size_p_value is not None and c.size not in ("", "untestable"):
            tests.append((c, "size"))
    return tests


def adjust_family_wise(claims: list[Claim], alpha: float = ALPHA) -> None:
    """Fill ``verdict_adjusted`` and ``size_adjusted`` by Holm's procedure over each dataset's
    statistical tests (all claims, verdicts and sizes together), so that the chance of even one
    false call per dataset is at most ``alpha``. A call that does not survive reads
    inconclusive; a verdict that is not a test (an exact count) stays as it is."""
    for c in claims:
        c.verdict_adjusted = c.verdict
        c.size_adjusted = c.size
    families: dict[str, list[tuple[Claim, str]]] = {}
    for test in statistical_tests(claims):
        families.setdefault(test[0].dataset, []).append(test)
    for tests in families.values():
        p_values = [c.p_value if column == "verdict" else c.size_p_value for c, column in tests]
        for (c, column), kept in zip(tests, holm(p_values, alpha)):
            call = getattr(c, column)
            if call in CALLS and not kept:
                setattr(c, f"{column}_adjusted", "inconclusive")


def write_claims_csv(claims: list[Claim], path: str | Path) -> Path:
    """Write report/claims.csv, the claims table, with one row per claim, dataset and metric (atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:  # Cross-dataset rows are named with "→".
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for claim in claims:
                row = asdict(claim)
                for key in ("paper", "ours", "ci_low", "ci_high"):
                    row[key] = "" if row[key] is None else f"{row[key]:.2f}"
                for key in ("p_value", "size_p_value"):
                    row[key] = "" if row[key] is None else f"{row[key]:.4g}"
                writer.writerow(row)
    return path
