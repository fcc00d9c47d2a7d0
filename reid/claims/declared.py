"""Claims as data: the paper's (reid/resources/claims.yaml) and a user's own (the config's
``claims.declared``), read into ``ClaimSpec``s that reid.claims judges.

A spec names what is compared (``a`` against each of ``b``, or ``a`` alone), on which metrics
and datasets, and the paper's value where it gives one; its ``kind`` says which module judges
it (accuracy: direction, size, absolute; cost; curve). A bad spec stops with a ConfigError
naming the claim and the field, in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

from reid.config import ConfigError, complete_part, default
from reid.variants import RERANKED, VARIANTS

KINDS = ("direction", "size", "absolute", "cost", "curve")
ACCURACY_KINDS = ("direction", "size", "absolute")
RUNS = (*VARIANTS, RERANKED)
METRICS = {
    **dict.fromkeys(ACCURACY_KINDS, ("mAP", "R1", "R5", "R10")),  # reid.claims.accuracy scores each of these.
    "cost": ("params", "FLOPs", "latency"),
    "curve": ("loss", "train acc", "R1 in training"),
}
ALL = "all"  # In ``datasets`` this stands for every dataset of the run.
# The size and absolute tests use this equivalence band, in percentage points.
TOLERANCE = default("claims.tolerance")
# In percent, "no more computation or time" is read as at most this much more.
COST_MARGIN = default("claims.cost_margin")


@dataclass(frozen=True)
class ClaimSpec:
    claim_id: str
    words: str
    kind: str
    a: str
    b: tuple[str, ...]  # An absolute claim leaves this empty.
    metrics: tuple[str, ...]
    datasets: tuple[str, ...]
    paper: dict  # This maps dataset -> metric -> value.
    higher: bool
    paper_runs: int
    source: str = "the paper"  # A user's claim says "declared in the config".

    def pairs(self) -> list[tuple[str, str | None]]:
        """Return (A, B) per row group: one per entry of ``b``, or (A, None) for an absolute claim."""
        return [(self.a, b) for b in self.b] if self.b else [(self.a, None)]

    def shown_datasets(self, ran: list[str]) -> list[str]:
        """Return the datasets this claim has rows for: the run's (with ``all``), the named ones, and
        those the paper reports, in that order."""
        names = list(ran) if ALL in self.datasets else []
        for d in [d for d in self.datasets if d != ALL] + list(self.paper):
            if d not in names:
                names.append(d)
        return names

    def paper_value(self, dataset: str, metric: str) -> float | None:
        value = (self.paper.get(dataset) or {}).get(metric)
        return None if value is None else float(value)


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, list) else (value,)


def parse_claim(entry: dict, where: str, source: str) -> ClaimSpec:
    """Read one claim entry as a spec. It is checked against the schema's claim definition, which
    also gives the keys it leaves out, and then against the runs and metrics there are."""
    entry = complete_part(entry, "#/$defs/claim", where)
    kind = entry["kind"]
    name = f"{where} (claim {entry['id']})"
    b = _as_tuple(entry["b"])
    if kind == "absolute" and b:
        raise ConfigError(f"{name}: an absolute claim judges one run (a): remove b")
    if kind != "absolute" and not b:
        raise ConfigError(f"{name}: a {kind} claim compares a with b: give b (a run or a list of runs)")
    for run in (entry["a"], *b):
        if run not in RUNS:
            raise ConfigError(f"{name}: '{run}' is not a run; expected one of {', '.join(RUNS)}")
    metrics = _as_tuple(entry["metrics"])
    bad = [m for m in metrics if m not in METRICS[kind]]
    if bad:
        raise ConfigError(
            f"{name}: {', '.join(bad)} is not a metric of a {kind} claim; expected {', '.join(METRICS[kind])}"
        )
    paper = entry["paper"]
    for dataset, values in paper.items():
        unknown = [m for m in values if m not in metrics]
        if unknown:
            raise ConfigError(f"{name}: paper.{dataset} gives {', '.join(unknown)}, which is not in its metrics")
    return ClaimSpec(
        claim_id=str(entry["id"]),
        words=entry["words"],
        kind=kind,
        a=entry["a"],
        b=b,
        metrics=metrics,
        datasets=_as_tuple(entry["datasets"]),
        paper={d: dict(v) for d, v in paper.items()},
        higher=entry["higher"],
        paper_runs=entry["paper_runs"],
        source=source,
    )


def paper_claim_specs() -> list[ClaimSpec]:
    """Return the paper's claims, from the package's claims.yaml."""
    text = resources.files("reid").joinpath("resources/claims.yaml").read_text()
    entries = yaml.safe_load(text)["claims"]
    return [parse_claim(e, f"reid/resources/claims.yaml, entry {i + 1}", "the paper") for i, e in enumerate(entries)]


def claim_specs(config: dict) -> list[ClaimSpec]:
    """Return the claims a report judges: the paper's, then the (completed) config's ``claims.declared``."""
    declared = config["claims"]["declared"]
    return paper_claim_specs() + [
        parse_claim(e, f"config key 'claims.declared[{i}]'", "declared in the config") for i, e in enumerate(declared)
    ]


def claim_settings(config: dict) -> tuple[float, float]:
    """Return the equivalence band (points) and the cost margin (percent) a (completed) config asks for."""
    return float(config["claims"]["tolerance"]), float(config["claims"]["cost_margin"])
