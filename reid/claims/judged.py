"""The claims step's record: the judged claims and what the report needs to show them, written
as report/claims.json beside report/claims.csv (``python -m reid claims``) and read back by
the report, which renders them and judges nothing.

claims.csv holds the rows as a reader wants them (numbers rounded); this file holds them at
full precision, with the readings' sensitivity table, the summary across datasets, the claims as declared (the page lists
their words) and the tolerance and margin they were judged with (the page's legend).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from reid.claims.accuracy import Sensitivity
from reid.claims.claim import Claim
from reid.claims.declared import ClaimSpec
from reid.config import ConfigError
from reid.utils import atomic_write_text

VERSION = 2  # This is raised when the record's layout changes, so that a report never misreads an old file.


@dataclass
class JudgedClaims:
    """Hold everything the claims step decided about one run."""

    claims: list[Claim]  # These are every claim, dataset and metric, in claims.csv's order.
    sensitivity: list[Sensitivity]  # These are the accuracy claims' verdicts under each reading.
    specs: list[ClaimSpec]  # The page lists the claims as declared: the paper's, then the config's.
    tolerance: float  # The size and absolute tests use this equivalence band, in points.
    margin: float  # This is the cost margin of C5, in percent.
    across: list[dict]  # Each comparison summed up over the datasets it was tested on (reid.claims.across).


def _plain(value):
    """Return a numpy number as the Python number it holds, because the judging code may hand over
    counts as numpy integers, which json cannot write."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_judged(judged: JudgedClaims, path: str | Path) -> Path:
    """Write the record as JSON (atomically) and return its path."""
    record = {
        "version": VERSION,
        "tolerance": judged.tolerance,
        "margin": judged.margin,
        "specs": [asdict(s) for s in judged.specs],
        "claims": [asdict(c) for c in judged.claims],
        "sensitivity": [{"claim": asdict(r.claim), "verdicts": r.verdicts} for r in judged.sensitivity],
        "across": judged.across,
    }
    path = Path(path)
    atomic_write_text(path, json.dumps(record, indent=1, default=_plain) + "\n")
    return path


def _spec(fields: dict) -> ClaimSpec:
    """Rebuild a ClaimSpec from its JSON form, whose tuples came back as lists."""
    tuples = {key: tuple(fields[key]) for key in ("b", "metrics", "datasets")}
    return ClaimSpec(**(fields | tuples))


def read_judged(path: str | Path) -> JudgedClaims:
    """Read the record the claims step wrote at ``path``. A missing file, or one of another layout,
    is refused with a message that says to run the claims step, rather than shown wrong."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: no claims record ({err}): run `python -m reid claims` first") from err
    if not isinstance(record, dict) or record.get("version") != VERSION:
        raise ConfigError(f"{path}: not a claims record of this version: run `python -m reid claims` again")
    return JudgedClaims(
        claims=[Claim(**c) for c in record["claims"]],
        sensitivity=[Sensitivity(Claim(**r["claim"]), r["verdicts"]) for r in record["sensitivity"]],
        specs=[_spec(s) for s in record["specs"]],
        tolerance=float(record["tolerance"]),
        margin=float(record["margin"]),
        across=record["across"],
    )
