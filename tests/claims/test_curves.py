"""C6 (Figure 5): residual's training curves against avg's and max's, from log.csv and
curve.npz files."""

import csv

import numpy as np
import pytest
from scipy import stats

from reid.claims.curves import curve_claims, first_lr_step, read_curves
from reid.claims.declared import paper_claim_specs
from reid.stats import seed_difference_interval
from reid.train import write_curve

SPECS = paper_claim_specs()  # C6 among them
LOSS = "loss, early (% of epoch 1)"
QUERIES, PER_IDENTITY = 200, 4


def write_log(root, dataset, variant, seed, loss, acc, lr=None, rank1_every=2, hits_rng=None):
    """log.csv (epochs 1..E, the learning rate dropping at epoch 7 by default), and curve.npz with
    each query's first hit at epoch 0 and every ``rank1_every`` epochs: a hit with probability
    acc / 2, the rate in log.csv's rank1 column."""
    folder = root / dataset / variant / f"seed{seed}"
    folder.mkdir(parents=True)
    lr = lr if lr is not None else [0.03 if e < 7 else 0.003 for e in range(1, len(loss) + 1)]
    rng = hits_rng or np.random.default_rng(seed)
    hits = {0: np.where(rng.random(QUERIES) < 0.02, 0, 5)}
    with open(folder / "log.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "loss", "train_acc", "lr", "rank1"])
        writer.writeheader()
        for e, (value, a, rate) in enumerate(zip(loss, acc, lr), start=1):
            evaluated = e % rank1_every == 0
            if evaluated:
                hits[e] = np.where(rng.random(QUERIES) < a / 2, 0, 5)
            writer.writerow(
                {"epoch": e, "loss": value, "train_acc": a, "lr": rate, "rank1": a / 2 if evaluated else ""}
            )
    write_curve(folder / "curve.npz", hits, np.arange(QUERIES) // PER_IDENTITY)


def fake_logs(root, dataset="synthetic", rates=None, seeds=(1, 2, 3), epochs=8):
    """Loss ``5 * exp(-rate * epoch)`` and accuracy ``1 - exp(-rate * epoch)`` per variant, with
    a little seed-to-seed noise in the rate."""
    rng = np.random.default_rng(0)
    rates = rates or {"avg": 0.2, "max": 0.2, "residual": 0.35}
    for variant, rate in rates.items():
        for seed in seeds:
            r = rate * (1 + rng.normal(0, 0.03))
            e = np.arange(1, epochs + 1)
            write_log(root, dataset, variant, seed, 5 * np.exp(-r * e), 1 - np.exp(-r * e), hits_rng=rng)


def find(claims, claim, metric, dataset="synthetic"):
    return next(c for c in claims if c.claim == claim and c.metric == metric and c.dataset == dataset)


def test_faster_falling_loss_and_higher_accuracy_are_supported(tmp_path):
    fake_logs(tmp_path)
    claims = curve_claims(tmp_path, ["synthetic"], SPECS)
    for other in ("avg", "max"):
        loss = find(claims, f"residual vs {other}", LOSS)
        assert loss.ours < 0 and loss.ci_high < 0 and loss.verdict == "supported" and loss.seeds == "3 / 3"
        assert "epochs 1-6, before the first learning-rate step (epoch 7)" in loss.note
        assert find(claims, f"residual vs {other}", "train acc").verdict == "supported"
        r1 = find(claims, f"residual vs {other}", "R1 in training")
        assert r1.verdict == "supported" and "5 evaluations, epochs 0-8" in r1.note
        # scored on the test set: the interval counts its people too
        assert r1.interval == "seeds and identities" and r1.identities == QUERIES // PER_IDENTITY
    # Figure 5 is on Market-1501: not run here
    absent = find(claims, "residual vs avg", "train acc", "market1501")
    assert absent.verdict == "untestable" and "not supplied" in absent.note


def test_slower_residual_is_contradicted_and_equal_ones_rarely_called(tmp_path):
    fake_logs(tmp_path, rates={"avg": 0.35, "max": 0.2, "residual": 0.2})
    claims = curve_claims(tmp_path, ["synthetic"], SPECS)
    assert find(claims, "residual vs avg", LOSS).verdict == "contradicted"
    assert find(claims, "residual vs avg", "train acc").verdict == "contradicted"
    assert find(claims, "residual vs max", "train acc").verdict == "inconclusive"  # the same rate


def test_a_loss_that_only_ends_lower_does_not_fall_faster(tmp_path):
    """Equal until the learning rate steps down (epoch 7), then residual's loss drops further: it
    ends lower but did not fall faster, and its mean over every epoch would have said it did."""
    e = np.arange(1, 13)
    for seed in (1, 2, 3):
        noise = 1 + 0.01 * seed * np.sin(e)
        same = 5 * np.exp(-0.2 * e) * noise
        write_log(tmp_path, "s", "avg", seed, same, np.full(12, 0.5))
        write_log(tmp_path, "s", "residual", seed, np.where(e < 7, same, same * 0.3), np.full(12, 0.5))
    loss = find(curve_claims(tmp_path, ["s"], SPECS), "residual vs avg", LOSS, "s")
    assert loss.ours == pytest.approx(0.0, abs=1e-9) and loss.verdict == "inconclusive"


def test_loss_is_relative_to_the_first_epoch(tmp_path):
    # residual's loss is twice avg's throughout (another sum of terms) but falls the same way
    e = np.arange(1, 7)
    for seed in (1, 2):
        write_log(tmp_path, "s", "avg", seed, 2 * np.exp(-0.3 * e) * (1 + 0.01 * seed), np.full(6, 0.5))
        write_log(tmp_path, "s", "residual", seed, 4 * np.exp(-0.3 * e) * (1 + 0.01 * seed), np.full(6, 0.5))
    loss = find(curve_claims(tmp_path, ["s"], SPECS), "residual vs avg", LOSS, "s")
    assert loss.ours == pytest.approx(0.0, abs=1e-9)
    assert "the learning rate never steps down" in loss.note  # six epochs, no step: all of them count


def test_the_first_learning_rate_step_is_read_off_the_log(tmp_path):
    warmup = [0.003, 0.01, 0.02, 0.03, 0.03, 0.003, 0.003, 0.0003]  # a rise, then the first step at epoch 6
    write_log(tmp_path, "s", "avg", 1, np.ones(8), np.ones(8), lr=warmup)
    curves, _ = read_curves(tmp_path / "s" / "avg")
    assert first_lr_step(curves) == 6


def test_one_seed_gives_no_call_and_missing_logs_say_so(tmp_path):
    fake_logs(tmp_path, rates={"avg": 0.2, "residual": 0.35}, seeds=(1,))
    claims = curve_claims(tmp_path, ["synthetic"], SPECS)
    for metric in ("train acc", "R1 in training", LOSS):
        one = find(claims, "residual vs avg", metric)
        assert one.verdict == "inconclusive" and one.ci_low is None and one.interval == "none: one seed"
        assert "no call" in one.note and (one.ours < 0 if metric == LOSS else one.ours > 0)
    assert "no training logs: max" in find(claims, "residual vs max", "train acc").note


def test_a_damaged_log_is_named_and_left_out(tmp_path):
    fake_logs(tmp_path)
    (tmp_path / "synthetic" / "avg" / "seed2" / "log.csv").write_bytes(b"\xff\xfe\x00broken")
    (tmp_path / "synthetic" / "avg" / "seed3" / "curve.npz").write_bytes(b"not a zip")
    claims = curve_claims(tmp_path, ["synthetic"], SPECS)
    acc = find(claims, "residual vs avg", "train acc")
    assert acc.seeds == "3 / 2" and "avg/seed2/log.csv: damaged, left out" in acc.note
    r1 = find(claims, "residual vs avg", "R1 in training")
    assert r1.seeds == "3 / 2" and "avg/seed3/curve.npz: damaged, left out" in r1.note


def test_only_epochs_every_run_logged_count(tmp_path):
    fake_logs(tmp_path, rates={"avg": 0.2, "max": 0.2, "residual": 0.35}, epochs=8)
    longer = tmp_path / "synthetic" / "residual" / "seed1" / "log.csv"
    with open(longer, "a", newline="") as f:
        f.write("9,0.01,0.99,0.003,0.5\n")  # an epoch the others did not run
    curves, _ = read_curves(tmp_path / "synthetic" / "residual")
    assert max(curves[1]["loss"]) == 9
    assert "epochs 1-8" in find(curve_claims(tmp_path, ["synthetic"], SPECS), "residual vs avg", "train acc").note


def test_seed_interval_is_welchs():
    a, b = [61.0, 63.5, 62.0], [58.0, 60.5, 61.5, 59.0]
    ours = seed_difference_interval(a, b)
    welch = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (ours.low, ours.high) == pytest.approx((welch.low, welch.high))
    assert seed_difference_interval([1.0], [2.0, 3.0]) is None


def test_the_loss_is_compared_before_the_earliest_first_step_of_the_runs(tmp_path):
    """Residual's learning rate steps down at epoch 5, avg's at epoch 7: only epochs 1-4 are
    early for both, and a loss compared after residual's step would favour it by that step."""
    e = np.arange(1, 9)
    for seed in (1, 2, 3):
        write_log(tmp_path, "s", "avg", seed, 5 * np.exp(-0.2 * e), np.full(8, 0.5))
        residual_lr = [0.03 if x < 5 else 0.003 for x in e]
        write_log(tmp_path, "s", "residual", seed, 5 * np.exp(-0.2 * e), np.full(8, 0.5), lr=residual_lr)
    loss = find(curve_claims(tmp_path, ["s"], SPECS), "residual vs avg", LOSS, "s")
    assert "epochs 1-4, before the first learning-rate step (epoch 5)" in loss.note
