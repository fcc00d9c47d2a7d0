"""The accuracy claims (kinds direction, size and absolute in reid/resources/claims.yaml: the
paper's C1-C4, and a user's own), judged from each evaluation's per_query.npz (AP for mAP, the
first-rank hit for R1), in percentage points.

    C1  residual beats avg and max (Table 2, Figure 5's text), on mAP and R1
    C2  residual beats the ResNet50 baseline by a wide margin (+23.0 / +45.2 mAP)
    C3  re-ranking improves residual (+6.84 / +11.60 mAP)
    C4  the absolute numbers of residual and residual + re-ranking (Table 2)

A comparison (C1-C3) gets two verdicts from one 95% interval of A - B that counts the seeds
and the test set's identities (``reid.stats.difference_interval``):
- ``verdict``, its direction: ``supported`` when the whole interval lies on the claim's side
  of zero, ``contradicted`` when it lies on the other side, ``inconclusive`` when it holds zero;
- ``size``, whether it agrees with the paper's difference within +-tolerance points:
  ``as_claimed``, ``smaller``, ``larger`` or ``inconclusive`` (``reid.stats.Interval.size``);
  ``untestable`` on a dataset the paper does not report (there only the direction is tested).
An absolute number (C4) is an equivalence test of our seeds' mean against the paper's mean
of three runs on the same test set (``reid.stats.against_published_mean``: both sides' seed
spread, no query sampling): ``supported`` when the whole interval of the difference lies within
+-tolerance, ``contradicted`` when it lies wholly beyond it on one side, else ``inconclusive``.

With fewer than two seeds on either side no call is made (``inconclusive``, and the note says
why). A seed whose per_query.npz is missing, damaged or holds other queries is left out and
named in the note; a claim is ``untestable`` when its dataset or a run was not there at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid.claims.claim import NOT_SUPPLIED, Claim
from reid.claims.declared import ACCURACY_KINDS, TOLERANCE, ClaimSpec, paper_claim_specs
from reid.paper import PAPER_DATASETS
from reid.stats import Interval, against_published_mean, difference_interval
from reid.variants import RERANKED, SAME_MODELS, TRAINING_READINGS

# Each metric maps to its rank cut-off, and None means AP.
ACCURACY_METRICS = {"mAP": None, "R1": 1, "R5": 5, "R10": 10}
# ---------------------------------------------------------------------------------------- inputs


@dataclass
class Scores:
    """Hold one run's per-query scores on a dataset as seeds x queries tables, with skipped queries NaN."""

    seeds: list[int]
    paths: np.ndarray  # The query files are kept to check that tables line up.
    pids: np.ndarray  # The query identities are the unit of the test set.
    tables: dict[str, np.ndarray]  # Each metric maps to a (seeds, queries) table.
    left_out: list[str] = field(default_factory=list)  # Each entry reads "run/seedN/per_query.npz: why".


def _pids_from_paths(paths: np.ndarray) -> np.ndarray:
    """Read the query identities from Market-1501-style names (the identity before the first
    underscore), because per_query.npz files written before they held q_pids lack them."""
    return np.array([int(Path(str(p)).name.split("_")[0]) for p in paths])


def load_scores(folder: str | Path, reading: str | None = None) -> Scores | None:
    """Load the per_query.npz files of every seed of a run (``folder``: results/<dataset>/<run>), or
    return None if no seed has a usable one. A file that is damaged, foreign (not an evaluation's) or
    holds other queries than the first usable seed's is left out and named in ``left_out``.
    ``reading``: "raw" or "normalized" for the scores under that reading of the test distance
    (reid.evaluate writes both), None for the evaluation's own."""
    folder = Path(folder)
    suffix = f"_{reading}" if reading else ""
    seeds, rows, paths, pids, left_out = [], {m: [] for m in ACCURACY_METRICS}, None, None, []
    for path in sorted(folder.glob("seed*/per_query.npz"), key=lambda p: (len(p.parent.name), p.parent.name)):
        name = f"{folder.name}/{path.parent.name}/{path.name}"
        try:
            seed = int(path.parent.name.removeprefix("seed"))
            with np.load(path) as data:
                missing = [k for k in (f"ap{suffix}", f"first_hit{suffix}", "q_paths") if k not in data.files]
                if missing:
                    left_out.append(f"{name}: not an evaluation's (no {', '.join(missing)}), left out")
                    continue
                ap, first_hit = data[f"ap{suffix}"].astype(np.float64), data[f"first_hit{suffix}"]
                q_paths = data["q_paths"]
                q_pids = data["q_pids"] if "q_pids" in data.files else _pids_from_paths(q_paths)
        except Exception:  # noqa: BLE001 - numpy raises ValueError, OSError, zipfile.BadZipFile, EOFError...
            left_out.append(f"{name}: damaged, left out")
            continue
        if len(ap) != len(q_paths) or len(first_hit) != len(q_paths) or len(q_pids) != len(q_paths):
            left_out.append(f"{name}: damaged (arrays of different lengths), left out")
            continue
        if paths is not None and not np.array_equal(paths, q_paths):
            left_out.append(f"{name}: holds other queries than seed{seeds[0]}, left out")
            continue
        paths, pids = q_paths, np.asarray(q_pids)
        skipped = first_hit < 0
        seeds.append(seed)
        for metric, rank in ACCURACY_METRICS.items():
            score = ap if rank is None else (first_hit < rank).astype(np.float64)
            rows[metric].append(np.where(skipped, np.nan, score))
    if not seeds:
        return Scores([], np.array([]), np.array([]), {}, left_out) if left_out else None
    return Scores(seeds, paths, pids, {m: 100.0 * np.stack(r) for m, r in rows.items()}, left_out)


def _valid(*tables: np.ndarray) -> np.ndarray:
    """Return the queries every run could evaluate, which are the same for all models of a dataset."""
    return np.logical_and.reduce([~np.isnan(t).any(0) for t in tables])


# ---------------------------------------------------------------------------------------- claims


def _fill(claim: Claim, interval: Interval) -> None:
    claim.ours = interval.estimate
    claim.seeds = " / ".join(str(s) for s in interval.seeds)
    claim.queries, claim.identities = interval.queries, interval.identities or None
    if interval.seed_spread_known:
        claim.ci_low, claim.ci_high = interval.low, interval.high
        claim.interval = "seeds and identities"
    else:  # A queries-only interval is no 95% interval of the result, so none is shown.
        claim.interval = "none: one seed"


def _one_seed_note(runs: dict[str, Scores]) -> str:
    one = [run for run, s in runs.items() if len(s.seeds) < 2]
    return (
        f"one seed on {', '.join(one)}: the seed-to-seed spread is unknown, so no call is made (train at least two)"
        if one
        else ""
    )


def _scores(loaded: dict[str, Scores | None], runs: list[str], claim: Claim) -> dict[str, Scores] | None:
    """Return the runs' scores, or None with the claim's note saying what is missing. Either way,
    the note names the seed files left out."""
    for run in runs:
        for why in getattr(loaded.get(run), "left_out", []):
            claim.add_note(why)
    missing = [run for run in runs if loaded.get(run) is None or not loaded[run].seeds]
    if missing:
        claim.add_note(f"not run: {', '.join(missing)}")
        return None
    return {run: loaded[run] for run in runs}


def comparison_claim(spec: ClaimSpec, a: str, b: str, metric: str, dataset: str, loaded, tolerance: float) -> Claim:
    """Judge one row of a direction or size claim, A against B on one dataset and metric."""
    paper = spec.paper_value(dataset, metric)
    claim = Claim(spec.claim_id, f"{a} vs {b}", dataset, metric, paper, kind=spec.kind)
    claim.paper_dataset = dataset if paper is not None else ""
    got = _scores(loaded, [a, b], claim)
    if got is None:
        return claim
    sa, sb = got[a], got[b]
    if not np.array_equal(sa.paths, sb.paths):
        claim.add_note(f"{a} and {b} were evaluated on different queries")
        return claim
    ta, tb = sa.tables[metric], sb.tables[metric]
    paired = SAME_MODELS.get(a) == b or SAME_MODELS.get(b) == a
    if paired:  # The same models are scored two ways here, so they are compared seed by seed, on the seeds both have.
        common = sorted(set(sa.seeds) & set(sb.seeds))
        if not common:
            claim.add_note(f"{a} and {b} share no seed ({sa.seeds}, {sb.seeds})")
            return claim
        ta, tb = ta[[sa.seeds.index(s) for s in common]], tb[[sb.seeds.index(s) for s in common]]
    keep = _valid(ta, tb)
    interval = difference_interval(ta[:, keep], tb[:, keep], clusters=sa.pids[keep], paired=paired)
    _fill(claim, interval)
    side = 1.0 if spec.higher else -1.0
    claim.verdict = interval.verdict(paper_side=side)
    claim.p_value = interval.direction_p() if interval.seed_spread_known else None
    claim.size, claim.size_p_value = interval.size(paper, tolerance, paper_side=side)
    claim.add_note(_one_seed_note({a: sa, b: sb}))
    if paper is None and dataset not in spec.paper:
        claim.add_note(f"{spec.source} gives no number on this dataset: only the direction is tested")
    return claim


def absolute_claim(spec: ClaimSpec, metric: str, dataset: str, loaded, tolerance: float) -> Claim:
    """Judge one row of an absolute claim, our seeds' mean against the paper's mean of its runs."""
    paper = spec.paper_value(dataset, metric)
    claim = Claim(spec.claim_id, spec.a, dataset, metric, paper, kind=spec.kind)
    claim.paper_dataset = dataset if paper is not None else ""
    got = _scores(loaded, [spec.a], claim)
    if got is None:
        return claim
    scores = got[spec.a]
    table = scores.tables[metric]
    table = table[:, _valid(table)]
    per_seed = table.mean(1)
    claim.ours = float(per_seed.mean())
    claim.seeds, claim.queries = str(len(per_seed)), table.shape[1]
    if paper is None:
        claim.add_note(f"{spec.source} gives no number on this dataset")
        return claim
    interval = against_published_mean(per_seed, paper, spec.paper_runs)
    if interval is None:
        claim.verdict = "inconclusive"
        claim.interval = "none: one seed"
        claim.add_note(_one_seed_note({spec.a: scores}))
        return claim
    claim.ci_low, claim.ci_high = paper + interval.low, paper + interval.high
    claim.interval = f"seeds, ours and the paper's {spec.paper_runs} runs (theirs estimated by ours)"
    where, claim.p_value = interval.band(0.0, tolerance)
    claim.verdict = {"inside": "supported", "below": "contradicted", "above": "contradicted"}.get(where, "inconclusive")
    claim.add_note(f"supported when the interval lies within ±{tolerance:g} points of the paper's")
    return claim


def run_folder(results_dir: str | Path, dataset: str, run: str, retrained: str | None = None) -> Path | None:
    """Return where a run's results are. Under a training reading, they are its retrained variants'
    (the others as they are). The re-ranked residual gets None there: the sensitivity table judges
    re-ranking (C3) under the paper's training only, even where a reading's model cards had its
    models re-ranked too (card.rerank)."""
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
    specs: list[ClaimSpec] | None = None,
    tolerance: float = TOLERANCE,
) -> list[Claim]:
    """Judge every accuracy claim (``specs``: by default the paper's) on the config's datasets, and on
    the datasets a claim names that were not run (untestable). ``runs``: the variants the config
    trains and residual+rerank; ``reading``: see ``load_scores``; ``retrained``: a training
    reading (TRAINING_READINGS) to judge instead."""
    specs = [s for s in (specs if specs is not None else paper_claim_specs()) if s.kind in ACCURACY_KINDS]
    loaded: dict[str, dict[str, Scores | None]] = {}

    def scores_of(dataset: str) -> dict[str, Scores | None]:
        if dataset not in loaded:
            folders = {run: run_folder(results_dir, dataset, run, retrained) for run in runs}
            loaded[dataset] = {run: load_scores(f, reading) if f else None for run, f in folders.items()}
        return loaded[dataset]

    claims = []
    order = list(datasets) + [d for d in PAPER_DATASETS if d not in datasets]
    shown = {d for spec in specs for d in spec.shown_datasets(list(datasets))}
    for dataset in order + sorted(shown - set(order)):
        for spec in specs:
            if dataset not in spec.shown_datasets(list(datasets)):
                continue
            ran = dataset in datasets
            for a, b in spec.pairs():
                for metric in spec.metrics:
                    if not ran:
                        claim = Claim(
                            spec.claim_id,
                            f"{a} vs {b}" if b else a,
                            dataset,
                            metric,
                            spec.paper_value(dataset, metric),
                            kind=spec.kind,
                            note=NOT_SUPPLIED,
                        )
                        claim.paper_dataset = dataset if claim.paper is not None else ""
                    elif b is None:
                        claim = absolute_claim(spec, metric, dataset, scores_of(dataset), tolerance)
                    else:
                        claim = comparison_claim(spec, a, b, metric, dataset, scores_of(dataset), tolerance)
                    claims.append(claim)
    return claims


# These readings of the paper move the numbers most; each is (name, what it is, its results).
DISTANCE_READINGS = (("raw", "raw features (euclidean)"), ("normalized", "L2-normalised features (cosine)"))


@dataclass
class Sensitivity:
    claim: Claim  # This claim is judged under the evaluation's own reading.
    verdicts: dict  # Each reading maps to the verdict under it.

    @property
    def changes(self) -> bool:
        return len({v for v in self.verdicts.values() if v != "untestable"}) > 1


READING_WORDS = dict(DISTANCE_READINGS) | {name: r["words"] for name, r in TRAINING_READINGS.items()}


def sensitivity(
    results_dir: str | Path,
    datasets: list[str],
    runs: list[str],
    own: list[Claim] | None = None,
    specs: list[ClaimSpec] | None = None,
    tolerance: float = TOLERANCE,
) -> list[Sensitivity]:
    """Judge each claim on the datasets that ran, under each reading of the test distance and each
    training reading that was run, to show whether any verdict changes with the reading.
    ``own``: the claims under the evaluations' own reading, if already judged (not read again)."""

    def judge(**reading) -> list[Claim]:
        return paper_claims(results_dir, datasets, runs, specs=specs, tolerance=tolerance, **reading)

    by_reading = {name: judge(reading=name) for name, _ in DISTANCE_READINGS}
    for name in TRAINING_READINGS:
        if any(next(Path(results_dir, d, "readings", name).glob("*/seed*/per_query.npz"), None) for d in datasets):
            by_reading[name] = judge(retrained=name)
    own = own if own is not None else judge()
    return [
        Sensitivity(claim, {name: claims[i].verdict for name, claims in by_reading.items()})
        for i, claim in enumerate(own)
        if claim.dataset in datasets
    ]
