"""Claims as data: the paper's (reid/resources/claims.yaml) and a user's own (the config's
``claims.declared``), read into ``ClaimSpec``s that reid.claims judges.

A spec names what is compared (``a`` against each of ``b``, or ``a`` alone), on which metrics
and datasets, and the paper's value where it gives one; its ``kind`` says which module judges
it (accuracy: direction, size, absolute; cost; curve). A bad spec stops with a ConfigError
naming the claim and the field, in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import yaml

from reid.config import ConfigError, validate_part
from reid.variants import RERANKED, VARIANTS

KINDS = ("direction", "size", "absolute", "cost", "curve")
ACCURACY_KINDS = ("direction", "size", "absolute")
RUNS = (*VARIANTS, RERANKED)
METRICS = {
    **dict.fromkeys(ACCURACY_KINDS, ("mAP", "R1", "R5", "R10")),  # reid.claims.accuracy scores each
    "cost": ("params", "FLOPs", "latency"),
    "curve": ("loss", "train acc", "R1 in training"),
}
ALL = "all"  # in ``datasets``: every dataset of the run
TOLERANCE = 1.5  # percentage points: the equivalence band of the size and absolute tests
COST_MARGIN = 5.0  # percent: "no more computation or time" read as at most 5% more (ours)


@dataclass(frozen=True)
class ClaimSpec:
    claim_id: str
    words: str
    kind: str
    a: str
    b: tuple[str, ...] = ()  # empty for an absolute claim
    metrics: tuple[str, ...] = ()
    datasets: tuple[str, ...] = (ALL,)
    paper: dict = field(default_factory=dict)  # dataset -> metric -> value
    higher: bool = True
    paper_runs: int = 3
    source: str = "the paper"  # or "declared in the config"

    def pairs(self) -> list[tuple[str, str | None]]:
        """(A, B) per row group: one per entry of ``b``, or (A, None) for an absolute claim."""
        return [(self.a, b) for b in self.b] if self.b else [(self.a, None)]

    def shown_datasets(self, ran: list[str]) -> list[str]:
        """The datasets this claim has rows for: the run's (with ``all``), the named ones, and
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
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def parse_claim(entry: dict, where: str, source: str) -> ClaimSpec:
    """One claim entry (already checked against the schema's claim definition) as a spec."""
    kind = entry["kind"]
    name = f"{where} (claim {entry['id']})"
    b = _as_tuple(entry.get("b"))
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
    paper = entry.get("paper") or {}
    for dataset, values in paper.items():
        unknown = [m for m in values if m not in metrics]
        if unknown:
            raise ConfigError(f"{name}: paper.{dataset} gives {', '.join(unknown)}, which is not in its metrics")
    return ClaimSpec(
        claim_id=str(entry["id"]),
        words=entry.get("words", ""),
        kind=kind,
        a=entry["a"],
        b=b,
        metrics=metrics,
        datasets=_as_tuple(entry.get("datasets", ALL)),
        paper={d: dict(v) for d, v in paper.items()},
        higher=bool(entry.get("higher", True)),
        paper_runs=int(entry.get("paper_runs", 3)),
        source=source,
    )


def paper_claim_specs() -> list[ClaimSpec]:
    """The paper's claims, from the package's claims.yaml."""
    text = resources.files("reid").joinpath("resources/claims.yaml").read_text()
    entries = (yaml.safe_load(text) or {}).get("claims") or []
    validate_part(entries, "claims_file", "reid/resources/claims.yaml")
    return [parse_claim(e, f"reid/resources/claims.yaml, entry {i + 1}", "the paper") for i, e in enumerate(entries)]


def claim_specs(config: dict | None) -> list[ClaimSpec]:
    """The claims a report judges: the paper's, then the config's ``claims.declared``."""
    declared = ((config or {}).get("claims") or {}).get("declared") or []
    return paper_claim_specs() + [
        parse_claim(e, f"config key 'claims.declared[{i}]'", "declared in the config") for i, e in enumerate(declared)
    ]


def claim_settings(config: dict | None) -> tuple[float, float]:
    """The equivalence band (points) and the cost margin (percent) the config asks for."""
    section = (config or {}).get("claims") or {}
    return float(section.get("tolerance", TOLERANCE)), float(section.get("cost_margin", COST_MARGIN))
