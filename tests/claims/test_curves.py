"""C6 (Figure 5): residual's training curves against avg's and max's, from log.csv files."""

import csv

import numpy as np
import pytest
from scipy import stats

from reid.claims.curves import curve_claims, read_curves
from reid.stats import seed_difference_interval


def write_log(root, dataset, variant, seed, loss, acc, rank1_every=2):
    folder = root / dataset / variant / f"seed{seed}"
    folder.mkdir(parents=True)
    with open(folder / "log.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "loss", "train_acc", "rank1"])
        writer.writeheader()
        for e, (value, a) in enumerate(zip(loss, acc), start=1):
            writer.writerow({"epoch": e, "loss": value, "train_acc": a, "rank1": a / 2 if e % rank1_every == 0 else ""})


def fake_logs(root, dataset="synthetic", rates=None, seeds=(1, 2, 3), epochs=8):
    """Loss ``5 * exp(-rate * epoch)`` and accuracy ``1 - exp(-rate * epoch)`` per variant, with
    a little seed-to-seed noise in the rate."""
    rng = np.random.default_rng(0)
    rates = rates or {"avg": 0.2, "max": 0.2, "residual": 0.35}
    for variant, rate in rates.items():
        for seed in seeds:
            r = rate * (1 + rng.normal(0, 0.03))
            e = np.arange(1, epochs + 1)
            write_log(root, dataset, variant, seed, 5 * np.exp(-r * e), 1 - np.exp(-r * e))


def find(claims, claim, metric, dataset="synthetic"):
    return next(c for c in claims if c.claim == claim and c.metric == metric and c.dataset == dataset)


def test_faster_falling_loss_and_higher_accuracy_are_supported(tmp_path):
    fake_logs(tmp_path)
    claims = curve_claims(tmp_path, ["synthetic"])
    for other in ("avg", "max"):
        loss = find(claims, f"residual vs {other}", "loss (% of epoch 1)")
        assert loss.ours < 0 and loss.ci_high < 0 and loss.verdict == "supported" and loss.seeds == "3 / 3"
        assert find(claims, f"residual vs {other}", "train acc").verdict == "supported"
        r1 = find(claims, f"residual vs {other}", "R1 in training")
        assert r1.verdict == "supported" and "4 logged points, epochs 2-8" in r1.note
    # Figure 5 is on Market-1501: not run here
    absent = find(claims, "residual vs avg", "train acc", "market1501")
    assert absent.verdict == "untestable" and "not supplied" in absent.note


def test_slower_residual_is_contradicted_and_equal_ones_rarely_called(tmp_path):
    fake_logs(tmp_path, rates={"avg": 0.35, "max": 0.2, "residual": 0.2})
    claims = curve_claims(tmp_path, ["synthetic"])
    assert find(claims, "residual vs avg", "loss (% of epoch 1)").verdict == "contradicted"
    assert find(claims, "residual vs avg", "train acc").verdict == "contradicted"
    assert find(claims, "residual vs max", "train acc").verdict == "inconclusive"  # the same rate


def test_loss_is_relative_to_the_first_epoch(tmp_path):
    # residual's loss is twice avg's throughout (another sum of terms) but falls the same way
    e = np.arange(1, 7)
    for seed in (1, 2):
        write_log(tmp_path, "s", "avg", seed, 2 * np.exp(-0.3 * e) * (1 + 0.01 * seed), np.full(6, 0.5))
        write_log(tmp_path, "s", "residual", seed, 4 * np.exp(-0.3 * e) * (1 + 0.01 * seed), np.full(6, 0.5))
    loss = find(curve_claims(tmp_path, ["s"]), "residual vs avg", "loss (% of epoch 1)", "s")
    assert loss.ours == pytest.approx(0.0, abs=1e-9)


def test_one_seed_has_no_interval_and_missing_logs_say_so(tmp_path):
    fake_logs(tmp_path, rates={"avg": 0.2, "residual": 0.35}, seeds=(1,))
    claims = curve_claims(tmp_path, ["synthetic"])
    one = find(claims, "residual vs avg", "train acc")
    assert one.verdict == "untestable" and one.ours > 0 and one.ci_low is None and "seed spread unknown" in one.interval
    assert "no training logs: max" in find(claims, "residual vs max", "train acc").note


def test_only_epochs_every_run_logged_count(tmp_path):
    fake_logs(tmp_path, rates={"avg": 0.2, "max": 0.2, "residual": 0.35}, epochs=8)
    longer = tmp_path / "synthetic" / "residual" / "seed1" / "log.csv"
    with open(longer, "a", newline="") as f:
        f.write("9,0.01,0.99,0.5\n")  # an epoch the others did not run
    curves = read_curves(tmp_path / "synthetic" / "residual")
    assert max(curves[1]["loss"]) == 9
    assert "epochs 1-8" in find(curve_claims(tmp_path, ["synthetic"]), "residual vs avg", "train acc").note


def test_seed_interval_is_welchs():
    a, b = [61.0, 63.5, 62.0], [58.0, 60.5, 61.5, 59.0]
    ours = seed_difference_interval(a, b)
    welch = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (ours.low, ours.high) == pytest.approx((welch.low, welch.high))
    assert seed_difference_interval([1.0], [2.0, 3.0]) is None
