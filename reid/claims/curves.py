"""Curve claims (kind curve in reid/resources/claims.yaml; the paper's C6, Figure 5: "the
accuracy of our method is higher than avg method and max method, and the loss value decreases
faster"), judged from the training logs (log.csv, one row per epoch, and curve.npz, each
query's first hit at each evaluation during training).

Figure 5 is a picture with no numbers, so the paper column holds none: only the direction is
tested. Residual is compared with avg and with max:

    loss, early     how fast the loss falls: each seed's loss as a percentage of its first
                    epoch's, averaged over the epochs before the first learning-rate step (the
                    area under the early curve). A curve that falls faster has a smaller area
                    there; one that only ends lower does not (the first step is read off
                    log.csv's lr column; without one, every epoch counts and the note says so).
                    Dividing by the first epoch takes out the loss's scale.
    train acc       the identity classifiers' accuracy on the training batches, in percent, its
                    mean over the epochs: higher means higher throughout, on average
    R1 in training  the test R1 at the epochs the curves were evaluated (eval_every), in
                    percent, from curve.npz: a seeds x queries table of each query's hit rate
                    over those epochs

Only epochs that every seed of both variants logged count. The loss and the training accuracy
have no per-query part: their 95% interval is Welch's t-interval over the seeds
(``reid.stats.seed_difference_interval``). R1 in training is scored on the test set, so its
interval counts the seeds and the test set's identities, as the accuracy claims' do
(``reid.stats.difference_interval``). With one seed on either side there is no interval and no
call. The verdict is the comparisons' rule: ``supported`` when the whole interval lies on the
claim's side of zero (lower for the loss, higher for the accuracies).

The caveat, said in the note: the variants' losses are not the same sum (avg's triplet sees
the three average-pooled features, residual's all six; each is a mean over its terms, so that
their scale is alike), so "falls faster" compares like with like only roughly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from reid.claims.claim import NOT_SUPPLIED, Claim
from reid.claims.declared import ClaimSpec
from reid.stats import Interval, difference_interval, seed_difference_interval

LABELS = {"loss": "loss, early (% of epoch 1)", "train acc": "train acc", "R1 in training": "R1 in training"}
COLUMNS = {"loss": "loss", "train acc": "train_acc"}
CAVEAT = (
    "the losses differ in their terms (avg's and max's triplet sees three features, residual's six), so the "
    "loss comparison is rough"
)


def read_curves(folder: str | Path) -> tuple[dict[int, dict[str, dict[int, float]]], list[str]]:
    """Read ({seed: {column: {epoch: value}}}, the files left out) from the seed*/log.csv files of a
    run folder. A damaged row's cell is skipped, and a damaged file is left out and named."""
    curves, left_out = {}, []
    for path in sorted(Path(folder).glob("seed*/log.csv")):
        try:
            seed = int(path.parent.name.removeprefix("seed"))
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
        except (ValueError, OSError, UnicodeDecodeError, csv.Error):
            left_out.append(f"{Path(folder).name}/{path.parent.name}/log.csv: damaged, left out")
            continue
        per_column: dict[str, dict[int, float]] = {c: {} for c in ("loss", "train_acc", "lr")}
        for row in rows:
            for column in per_column:
                try:
                    per_column[column][int(row["epoch"])] = float(row[column])
                except (KeyError, TypeError, ValueError):
                    continue  # An empty cell means the run was not evaluated at this epoch.
        curves[seed] = per_column
    return curves, left_out


def read_hits(folder: str | Path) -> tuple[dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], list[str]]:
    """Read ({seed: (epochs, first_hit E x Q, q_pids)}, the files left out) from seed*/curve.npz."""
    hits, left_out = {}, []
    for path in sorted(Path(folder).glob("seed*/curve.npz")):
        name = f"{Path(folder).name}/{path.parent.name}/curve.npz"
        try:
            seed = int(path.parent.name.removeprefix("seed"))
            with np.load(path) as data:
                epochs, first_hit, pids = data["epochs"], data["first_hit"], data["q_pids"]
        except Exception:  # noqa: BLE001 - a damaged npz raises ValueError, OSError, BadZipFile, KeyError...
            left_out.append(f"{name}: damaged, left out")
            continue
        if first_hit.shape != (len(epochs), len(pids)):
            left_out.append(f"{name}: damaged (arrays of different lengths), left out")
            continue
        hits[seed] = (epochs, first_hit, pids)
    return hits, left_out


def first_lr_step(curves: dict) -> int | None:
    """Return the first epoch logged at a lower learning rate than the epoch before, or None if the
    rate never drops. Warmup rises and the first milestone drops, the same for every seed of a run."""
    steps = set()
    for per_column in curves.values():
        lr = per_column["lr"]
        epochs = sorted(lr)
        steps.add(next((e for p, e in zip(epochs, epochs[1:]) if lr[e] < lr[p] * (1 - 1e-9)), None))
    return min((s for s in steps if s is not None), default=None)


def curve_means(curves: dict, column: str, epochs: list[int]) -> list[float]:
    """Return one number per seed: the curve's mean over ``epochs``, in percent (the loss relative
    to the seed's first logged epoch)."""
    means = []
    for per_column in curves.values():
        values = np.array([per_column[column][e] for e in epochs])
        if column == "loss":
            first = per_column["loss"][min(per_column["loss"])]
            means.append(float(100.0 * values.mean() / first) if first > 0 else float("nan"))
        else:
            means.append(float(100.0 * values.mean()))
    return means


def _common(sets: list[set]) -> list[int]:
    return sorted(set.intersection(*sets)) if sets else []


def _span(epochs: list[int]) -> str:
    return f"epochs {epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else f"epoch {epochs[0]}"


def _judge(claim: Claim, interval: Interval | None, side: float, counts: str) -> None:
    """Fill in the row's interval, verdict and p-value. With one seed on either side no call is
    made, because there is no interval, or one whose seed spread is unknown."""
    if interval is None or not interval.seed_spread_known:
        claim.interval = "none: one seed"
        claim.verdict = "inconclusive"
        claim.add_note("one seed on either side: the seed-to-seed spread is unknown, so no call is made")
        return
    claim.ci_low, claim.ci_high = interval.low, interval.high
    claim.interval = counts
    claim.verdict = interval.verdict(paper_side=side)
    claim.p_value = interval.direction_p()


def _log_claim(claim: Claim, metric: str, side: float, runs: list[dict]) -> None:
    """Judge the loss or training-accuracy row from log.csv, with Welch's interval over the seeds."""
    column = COLUMNS[metric]
    epochs = _common([set(c[column]) for curves in runs for c in curves.values()])
    phase = ""
    if metric == "loss":
        step = min((s for s in (first_lr_step(curves) for curves in runs) if s is not None), default=None)
        if step is not None:
            epochs = [e for e in epochs if e < step]
            phase = f"before the first learning-rate step (epoch {step})"
        else:
            phase = "every epoch (the learning rate never steps down)"
    if not epochs:
        claim.add_note(f"no {column} logged at an epoch both ran")
        return
    a, b = (curve_means(curves, column, epochs) for curves in runs)
    claim.ours = float(np.mean(a) - np.mean(b))
    claim.seeds = f"{len(a)} / {len(b)}"
    claim.add_note(f"mean over {len(epochs)} logged epochs, {_span(epochs)}{', ' + phase if phase else ''}")
    _judge(claim, seed_difference_interval(a, b), side, "seeds (Welch t)")
    if metric == "loss" and claim.p_value is not None:
        claim.add_note(CAVEAT)


def _hits_claim(claim: Claim, side: float, runs: list[dict]) -> None:
    """Judge the R1-in-training row from curve.npz, with an interval over seeds and identities."""
    if any(not hits for hits in runs):
        claim.add_note("no curve.npz (trained by a version before it was written): rerun the training")
        return
    first = next(iter(runs[0].values()))
    if any(not np.array_equal(pids, first[2]) for hits in runs for _, _, pids in hits.values()):
        claim.add_note("the runs were evaluated on different queries")
        return
    epochs = _common([set(e.tolist()) for hits in runs for e, _, _ in hits.values()])
    if not epochs:
        claim.add_note("no R1 evaluated at an epoch both ran")
        return
    tables = []
    for hits in runs:
        rows = []
        for e, first_hit, _ in hits.values():
            picked = first_hit[[int(np.flatnonzero(e == x)[0]) for x in epochs]]
            rows.append(np.where((picked < 0).any(0), np.nan, 100.0 * (picked == 0).mean(0)))
        tables.append(np.stack(rows))
    keep = ~np.isnan(tables[0]).any(0) & ~np.isnan(tables[1]).any(0)
    interval = difference_interval(tables[0][:, keep], tables[1][:, keep], clusters=first[2][keep])
    claim.ours = interval.estimate
    claim.seeds = " / ".join(str(s) for s in interval.seeds)
    claim.queries, claim.identities = interval.queries, interval.identities
    claim.add_note(f"mean over {len(epochs)} evaluations, {_span(epochs)}")
    _judge(claim, interval, side, "seeds and identities")


def curve_claims(results_dir: str | Path, datasets: list[str], specs: list[ClaimSpec]) -> list[Claim]:
    """Judge the curve claims of ``specs`` on each dataset they are shown for."""
    claims = []
    for spec in (s for s in specs if s.kind == "curve"):
        for dataset in spec.shown_datasets(list(datasets)):
            ran = dataset in datasets
            logs = {run: read_curves(Path(results_dir, dataset, run)) for run in (spec.a, *spec.b)} if ran else {}
            hits = {run: read_hits(Path(results_dir, dataset, run)) for run in (spec.a, *spec.b)} if ran else {}
            for a, b in spec.pairs():
                for metric in spec.metrics:
                    claim = Claim(spec.claim_id, f"{a} vs {b}", dataset, LABELS[metric], None, kind=spec.kind)
                    claim.paper_dataset = "market1501" if spec.source == "the paper" else ""
                    claims.append(claim)
                    if not ran:
                        claim.note = NOT_SUPPLIED
                        continue
                    better = 1.0 if spec.higher else -1.0
                    side = -better if metric == "loss" else better
                    for run in (a, b):
                        for why in logs[run][1] + (hits[run][1] if metric == "R1 in training" else []):
                            claim.add_note(why)
                    missing = [run for run in (a, b) if not logs[run][0]]
                    if missing:
                        claim.add_note(f"no training logs: {', '.join(missing)}")
                        continue
                    if metric == "R1 in training":
                        _hits_claim(claim, side, [hits[a][0], hits[b][0]])
                    else:
                        _log_claim(claim, metric, side, [logs[a][0], logs[b][0]])
    return claims
