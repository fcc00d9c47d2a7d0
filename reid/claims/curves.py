"""C6: Figure 5's claim, "the accuracy of our method is higher than avg method and max method,
and the loss value decreases faster", judged from the training logs (log.csv, one row per epoch).

Figure 5 is a picture with no numbers, so the paper column holds none: only the direction is
tested. Each seed's curve is summed up in one number, its mean over the epochs (the area under
the curve over the number of epochs), and residual is compared with avg and with max:

    loss          each epoch's loss as a percentage of the seed's first-epoch loss: lower means
                  it fell faster (dividing by the first epoch takes out the loss's scale)
    train acc     the identity classifiers' accuracy on the training batches, in percent
    R1 in training  the test R1 at the epochs the curves were evaluated (eval_every), in percent

Only epochs that every seed of both variants logged count. The 95% interval is Welch's
t-interval over the seeds (``reid.stats.seed_difference_interval``); it counts the seeds only,
since these numbers have no per-query part we keep (the test R1 points use the same queries for
every seed, so that their query noise is not in it). With one seed there is no interval and the
claim is untestable. The verdict is the comparisons' rule: ``supported`` when the whole
interval lies on the paper's side of zero (lower for the loss, higher for the accuracies).

The caveat, said in the note: the variants' losses are not the same sum (avg's triplet sees
the three average-pooled features, residual's all six; each is a mean over its terms, so that
their scale is alike), so "falls faster" compares like with like only roughly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from reid.claims.claim import NOT_SUPPLIED, Claim
from reid.stats import seed_difference_interval

CURVES = (  # (metric, log.csv column, the paper's side: +1 higher, -1 lower)
    ("loss (% of epoch 1)", "loss", -1.0),
    ("train acc", "train_acc", 1.0),
    ("R1 in training", "rank1", 1.0),
)
OTHERS = ("avg", "max")
CAVEAT = (
    "Figure 5 gives a direction, no number; the losses differ in their terms (avg's and max's triplet "
    "sees three features, residual's six), so the loss comparison is rough"
)


def read_curves(folder: str | Path) -> dict[int, dict[str, dict[int, float]]]:
    """{seed: {column: {epoch: value}}} from the seed*/log.csv files of a run folder (a damaged
    file or row is skipped)."""
    curves = {}
    for path in sorted(Path(folder).glob("seed*/log.csv")):
        try:
            seed = int(path.parent.name.removeprefix("seed"))
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
        except (ValueError, OSError):
            continue
        per_column: dict[str, dict[int, float]] = {column: {} for _, column, _ in CURVES}
        for row in rows:
            for column in per_column:
                try:
                    per_column[column][int(row["epoch"])] = float(row[column])
                except (KeyError, TypeError, ValueError):
                    continue  # an empty cell: not evaluated at this epoch
        curves[seed] = per_column
    return curves


def curve_means(curves: dict, column: str, epochs: list[int]) -> list[float]:
    """One number per seed: the curve's mean over ``epochs``, in percent (the loss relative to the
    seed's first logged epoch)."""
    means = []
    for per_column in curves.values():
        values = np.array([per_column[column][e] for e in epochs])
        if column == "loss":
            first = per_column["loss"][min(per_column["loss"])]
            means.append(float(100.0 * values.mean() / first) if first > 0 else float("nan"))
        else:
            means.append(float(100.0 * values.mean()))
    return means


def _common_epochs(runs: list[dict], column: str) -> list[int]:
    sets = [set(per_column[column]) for curves in runs for per_column in curves.values()]
    return sorted(set.intersection(*sets)) if sets else []


def curve_claims(results_dir: str | Path, datasets: list[str]) -> list[Claim]:
    """C6 on each dataset that ran, and on Market-1501 (Figure 5's dataset) if it did not."""
    claims = []
    for dataset in list(datasets) + ([] if "market1501" in datasets else ["market1501"]):
        ran = dataset in datasets
        residual = read_curves(Path(results_dir, dataset, "residual")) if ran else {}
        for other in OTHERS:
            curves_other = read_curves(Path(results_dir, dataset, other)) if ran else {}
            for metric, column, side in CURVES:
                claim = Claim("C6", f"residual vs {other}", dataset, metric, None, paper_dataset="market1501")
                claims.append(claim)
                if not ran:
                    claim.note = NOT_SUPPLIED
                    continue
                missing = [v for v, c in (("residual", residual), (other, curves_other)) if not c]
                if missing:
                    claim.note = f"no training logs: {', '.join(missing)}"
                    continue
                epochs = _common_epochs([residual, curves_other], column)
                if not epochs:
                    claim.note = f"no {column} logged at an epoch both ran"
                    continue
                a, b = curve_means(residual, column, epochs), curve_means(curves_other, column, epochs)
                interval = seed_difference_interval(a, b)
                claim.ours = float(np.mean(a) - np.mean(b))
                claim.seeds = f"{len(a)} / {len(b)}"
                span = f"epochs {epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else f"epoch {epochs[0]}"
                if interval is None:
                    claim.interval = "one seed: seed spread unknown, no interval"
                    claim.note = f"mean over {span}"
                    continue
                claim.ci_low, claim.ci_high = interval.low, interval.high
                claim.interval = "seeds (Welch t)"
                claim.verdict = interval.verdict(paper_side=side)
                claim.note = f"mean over {len(epochs)} logged points, {span}; {CAVEAT}"
    return claims
