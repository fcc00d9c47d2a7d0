"""C1-C4: the paper's accuracy claims (Table 2), judged from each evaluation's per_query.npz
(AP for mAP, a first-rank hit for R1), with a 95% interval that counts the seeds and the
queries (``reid.stats``). In percentage points.

    C1  residual beats avg and max (Table 2, Figure 5's text), on mAP and R1
    C2  residual beats the ResNet50 baseline by a wide margin (+23.0 / +45.2 mAP)
    C3  re-ranking improves residual (+6.84 / +11.60 mAP)
    C4  the absolute numbers of residual and residual + re-ranking (Table 2)

A comparison (C1-C3) is ``supported`` when its whole interval lies on the paper's side of
zero, ``contradicted`` when it lies on the other side, ``inconclusive`` when it contains zero.
An absolute number (C4) is ``supported`` when the paper's value lies inside our interval,
``contradicted`` when the whole interval lies below or above it. A claim is ``untestable``
when its dataset or a variant was not run. On a dataset the paper does not report (the
synthetic set, a custom set), a comparison takes its direction from the paper's Market-1501
difference: such verdicts test the suite, not the paper; absolute numbers are untestable there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reid.claims.claim import NOT_SUPPLIED, Claim
from reid.paper import PAPER_DATASETS, PAPER_ROWS, paper_tables, paper_value
from reid.stats import Interval, difference_interval, mean_interval
from reid.variants import RERANKED, TRAINING_READINGS

METRICS = {"mAP": "mAP", "R1": "rank1"}  # ours -> the paper's column
# (id, A, B, whether A and B are the same models: re-ranking re-evaluates residual's)
COMPARISONS = (
    ("C1", "residual", "avg", False),
    ("C1", "residual", "max", False),
    ("C2", "residual", "baseline", False),
    ("C2", "residual", "plain_baseline", False),
    ("C3", "residual+rerank", "residual", True),
)
ABSOLUTE = (("C4", "residual"), ("C4", "residual+rerank"))
# ---------------------------------------------------------------------------------------- inputs


@dataclass
class Scores:
    """One variant's per-query scores on a dataset: seeds x queries tables, skipped queries NaN."""

    seeds: list[int]
    paths: np.ndarray  # the query files, to check that tables line up
    tables: dict[str, np.ndarray]  # metric -> (seeds, queries)


def load_scores(folder: str | Path, reading: str | None = None) -> Scores | None:
    """The per_query.npz files of every seed of a run (``folder``: results/<dataset>/<run>), or
    None if there are none (or they do not hold the same queries). ``reading``: "raw" or
    "normalized" for the scores under that reading of the test distance (reid.evaluate writes
    both), None for the evaluation's own."""
    suffix = f"_{reading}" if reading else ""
    seeds, rows, paths = [], {m: [] for m in METRICS}, None
    for path in sorted(Path(folder).glob("seed*/per_query.npz")):
        try:
            seed = int(path.parent.name.removeprefix("seed"))
            with np.load(path) as data:
                ap, first_hit = data[f"ap{suffix}"].astype(np.float64), data[f"first_hit{suffix}"]
                q_paths = data["q_paths"]
        except (ValueError, OSError, KeyError):
            continue  # a damaged or foreign file is not a result
        if paths is not None and not np.array_equal(paths, q_paths):
            return None
        paths = q_paths
        skipped = first_hit < 0
        seeds.append(seed)
        rows["mAP"].append(np.where(skipped, np.nan, ap))
        rows["R1"].append(np.where(skipped, np.nan, (first_hit == 0).astype(np.float64)))
    if not seeds:
        return None
    return Scores(seeds, paths, {m: 100.0 * np.stack(r) for m, r in rows.items()})


def _valid(*tables: np.ndarray) -> np.ndarray:
    """Queries every run could evaluate (the same for all models of a dataset)."""
    return np.logical_and.reduce([~np.isnan(t).any(0) for t in tables])


# ---------------------------------------------------------------------------------------- claims


def _paper(rows: list[dict], dataset: str, variant: str, metric: str) -> float | None:
    return paper_value(rows, 2, PAPER_ROWS.get(variant, ""), dataset, METRICS[metric])


def _fill(claim: Claim, interval: Interval) -> None:
    claim.ours, claim.ci_low, claim.ci_high = interval.estimate, interval.low, interval.high
    claim.seeds = " / ".join(str(s) for s in interval.seeds)
    claim.queries = interval.queries
    claim.interval = (
        "seeds and queries" if interval.seed_spread_known else "queries only (one seed: seed spread unknown)"
    )


def comparison_claims(scores: dict[str, Scores | None], dataset: str, rows: list[dict]) -> list[Claim]:
    """C1-C3 on one dataset; ``scores`` maps each run (variant or residual+rerank) to its scores."""
    in_paper = dataset in PAPER_DATASETS
    reference = dataset if in_paper else "market1501"
    claims = []
    for claim_id, a, b, paired in COMPARISONS:
        for metric in METRICS:
            pa, pb = _paper(rows, reference, a, metric), _paper(rows, reference, b, metric)
            paper = pa - pb if pa is not None and pb is not None else None
            claim = Claim(claim_id, f"{a} vs {b}", dataset, metric, paper, paper_dataset=reference)
            claims.append(claim)
            sa, sb = scores.get(a), scores.get(b)
            missing = [v for v, s in ((a, sa), (b, sb)) if s is None]
            if missing:
                claim.note = f"not run: {', '.join(missing)}"
                continue
            if not np.array_equal(sa.paths, sb.paths):
                claim.note = f"{a} and {b} were evaluated on different queries"
                continue
            ta, tb = sa.tables[metric], sb.tables[metric]
            if paired and sa.seeds != sb.seeds:
                claim.note = f"{a} and {b} were evaluated for different seeds ({sa.seeds}, {sb.seeds})"
                continue
            keep = _valid(ta, tb)
            interval = difference_interval(ta[:, keep], tb[:, keep], paired=paired)
            _fill(claim, interval)
            claim.verdict = interval.verdict(paper_side=1.0 if paper is None or paper >= 0 else -1.0)
            if not in_paper:
                claim.note = "the paper has no numbers on this dataset: its Market-1501 difference gives the direction"
    return claims


def absolute_claims(scores: dict[str, Scores | None], dataset: str, rows: list[dict]) -> list[Claim]:
    """C4 on one dataset: does the paper's value lie inside our interval?"""
    claims = []
    for claim_id, variant in ABSOLUTE:
        for metric in METRICS:
            paper = _paper(rows, dataset, variant, metric)
            claim = Claim(claim_id, variant, dataset, metric, paper, paper_dataset=dataset if paper is not None else "")
            claims.append(claim)
            got = scores.get(variant)
            if got is None:
                claim.note = f"not run: {variant}"
                continue
            table = got.tables[metric]
            interval = mean_interval(table[:, _valid(table)])
            _fill(claim, interval)
            if paper is None:
                claim.note = "the paper has no numbers on this dataset"
                continue
            claim.verdict = "supported" if interval.contains(paper) else "contradicted"
    return claims


def run_folder(results_dir: str | Path, dataset: str, run: str, retrained: str | None = None) -> Path | None:
    """Where a run's results are; under a training reading, its retrained variants' (the others
    as they are, and None for the re-ranked residual, which that reading did not evaluate)."""
    if retrained is None:
        return Path(results_dir, dataset, run)
    if run in TRAINING_READINGS[retrained]["variants"]:
        return Path(results_dir, dataset, "readings", retrained, run)
    return None if run == RERANKED else Path(results_dir, dataset, run)


def paper_claims(
    results_dir: str | Path,
    datasets: list[str],
    runs: list[str],
    reading: str | None = None,
    retrained: str | None = None,
) -> list[Claim]:
    """Every claim on the config's datasets, and on the paper's datasets that were not run
    (untestable). ``runs``: the variants the config trains and residual+rerank; ``reading``: see
    ``load_scores``; ``retrained``: a training reading (TRAINING_READINGS) to judge instead."""
    rows = paper_tables()
    claims = []
    for dataset in list(datasets) + [d for d in PAPER_DATASETS if d not in datasets]:
        ran = dataset in datasets
        scores = {}
        for run in runs:
            folder = run_folder(results_dir, dataset, run, retrained) if ran else None
            scores[run] = load_scores(folder, reading) if folder is not None else None
        found = comparison_claims(scores, dataset, rows) + absolute_claims(scores, dataset, rows)
        if not ran:
            for claim in found:
                claim.note = NOT_SUPPLIED
        claims += found
    return claims


# the readings of the paper that move the numbers most, each: (name, what it is, its results)
DISTANCE_READINGS = (("raw", "raw features (euclidean)"), ("normalized", "L2-normalised features (cosine)"))


@dataclass
class Sensitivity:
    claim: Claim  # under the evaluation's own reading
    verdicts: dict  # reading -> verdict under it

    @property
    def changes(self) -> bool:
        return len({v for v in self.verdicts.values() if v != "untestable"}) > 1


READING_WORDS = dict(DISTANCE_READINGS) | {name: r["words"] for name, r in TRAINING_READINGS.items()}


def sensitivity(
    results_dir: str | Path, datasets: list[str], runs: list[str], own: list[Claim] | None = None
) -> list[Sensitivity]:
    """The verdict of each claim on the datasets that ran, under each reading of the test
    distance, and under each training reading that was run: does any verdict change with it?
    ``own``: the claims under the evaluations' own reading, if already judged (not read again)."""
    by_reading = {name: paper_claims(results_dir, datasets, runs, name) for name, _ in DISTANCE_READINGS}
    for name in TRAINING_READINGS:
        if any(next(Path(results_dir, d, "readings", name).glob("*/seed*/per_query.npz"), None) for d in datasets):
            by_reading[name] = paper_claims(results_dir, datasets, runs, retrained=name)
    own = own if own is not None else paper_claims(results_dir, datasets, runs)
    return [
        Sensitivity(claim, {name: claims[i].verdict for name, claims in by_reading.items()})
        for i, claim in enumerate(own)
        if claim.dataset in datasets
    ]
