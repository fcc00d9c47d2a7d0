"""C5 (Table 4): residual's cost against the other variants' and the paper's, from the costs measured."""

import json
import zlib

import numpy as np
import pytest

from reid.claims.cost import cost_claims, median_ratio_interval, relative_cost
from reid.claims.declared import COST_MARGIN, paper_claim_specs
from reid.paper import paper_tables, paper_value

VARIANTS = ["baseline", "plain_baseline", "avg", "max", "residual"]
SPECS = paper_claim_specs()  # C5 among them


def cost(variant, params, gflops, latency_ms, backbone="resnet50", size=(288, 144), thop_extra=0.004, spread=0.02):
    rng = np.random.default_rng(zlib.crc32(variant.encode()))  # not hash(): it changes with each process
    runs = list(latency_ms * (1 + rng.normal(0, spread, 100)))
    return {
        "variant": variant,
        "backbone": backbone,
        "input": list(size),
        "num_classes": 751,
        "params_M": params,
        "fvcore_GFLOPs": gflops,
        "thop_GFLOPs": gflops * (1 + thop_extra),
        "latency": {"cpu": {"latency_ms_median": float(np.median(runs)), "latency_ms_runs": runs, "device": "cpu (x)"}},
    }


def write_costs(root, costs):
    (root / "cost").mkdir(parents=True)
    for p in costs:
        (root / "cost" / f"{p['variant']}.json").write_text(json.dumps(p))


def find(claims, claim, metric):
    return next(c for c in claims if c.claim == claim and c.metric == metric)


# ResNet50 at 288x144 as counted by reid.cost (tests/test_cost.py checks these counts)
MEASURED = {"residual": (31.07, 10.33), "avg": (28.45, 10.32), "max": (28.45, 10.31), "baseline": (25.05, 10.30)}


def test_paper_setting_cheap_module(tmp_path):
    write_costs(tmp_path, [cost(v, p, f, 10.0 + p / 100) for v, (p, f) in MEASURED.items()])
    claims = cost_claims(tmp_path, VARIANTS, SPECS)
    params, flops = find(claims, "residual", "params (M)"), find(claims, "residual", "FLOPs (G)")
    assert params.paper == 30.55 and params.ours == 31.07 and params.verdict == "supported"  # 1.7% apart
    assert flops.paper == 10.82 and flops.verdict == "supported"  # 4.5% apart: counting conventions
    assert find(claims, "residual", "latency (ms)").verdict == "untestable"  # a GTX 1080Ti's
    vs_avg = find(claims, "residual vs avg", "params (%)")
    assert vs_avg.ours == pytest.approx(100 * (31.07 / 28.45 - 1)) and vs_avg.verdict == "supported"
    assert find(claims, "residual vs avg", "FLOPs (%)").verdict == "supported"  # +0.1%
    latency = find(claims, "residual vs avg", "latency (%)")
    assert latency.ci_low < latency.ours < latency.ci_high < COST_MARGIN and latency.verdict == "supported"
    unmeasured = find(claims, "residual vs plain_baseline", "FLOPs (%)")
    assert unmeasured.verdict == "untestable" and "not measured: plain_baseline" in unmeasured.note
    # the paper's relative numbers: Residual against SVDNet, beside plain_baseline
    rows = paper_tables()
    expected = 100 * (
        paper_value(rows, 4, "Residual", "", "flops_G") / paper_value(rows, 4, "SVDNet", "", "flops_G") - 1
    )
    assert unmeasured.paper == pytest.approx(expected) and unmeasured.paper == pytest.approx(0.0925, abs=1e-3)


def test_a_costly_module_is_contradicted_and_a_different_model_too(tmp_path):
    write_costs(
        tmp_path,
        [cost("residual", 45.0, 13.0, 12.0), cost("avg", 28.45, 10.32, 10.0)],
    )
    claims = cost_claims(tmp_path, ["avg", "residual"], SPECS)
    assert find(claims, "residual", "params (M)").verdict == "contradicted"
    assert find(claims, "residual", "FLOPs (G)").verdict == "contradicted"
    assert find(claims, "residual vs avg", "FLOPs (%)").verdict == "contradicted"  # +26%
    latency = find(claims, "residual vs avg", "latency (%)")
    assert latency.ci_low > COST_MARGIN and latency.verdict == "contradicted"  # +20%


def test_a_noisy_latency_near_the_margin_is_inconclusive(tmp_path):
    write_costs(
        tmp_path,
        [cost("residual", 31.07, 10.33, 10.5, spread=0.3), cost("avg", 28.45, 10.32, 10.0, spread=0.3)],
    )
    latency = find(cost_claims(tmp_path, ["avg", "residual"], SPECS), "residual vs avg", "latency (%)")
    assert latency.ci_low < COST_MARGIN < latency.ci_high and latency.verdict == "inconclusive"


def test_absolute_counts_only_for_the_papers_setting(tmp_path):
    small = dict(backbone="resnet18", size=(64, 32))
    write_costs(tmp_path, [cost("residual", 12.0, 0.6, 2.0, **small), cost("max", 11.5, 0.59, 2.0, **small)])
    claims = cost_claims(tmp_path, ["max", "residual"], SPECS)
    params = find(claims, "residual", "params (M)")
    assert params.verdict == "untestable" and "resnet18 at 64x32" in params.note and params.ours == 12.0
    assert find(claims, "residual vs max", "FLOPs (%)").verdict == "supported"  # relative: still judged


def test_different_settings_or_no_runs_are_not_compared(tmp_path):
    old = cost("avg", 28.45, 10.32, 10.0)
    del old["latency"]["cpu"]["latency_ms_runs"]  # a cost file from before the runs were kept
    write_costs(tmp_path, [cost("residual", 31.07, 10.33, 10.0), old, cost("max", 11.0, 0.6, 2.0, "resnet18")])
    claims = cost_claims(tmp_path, ["avg", "max", "residual"], SPECS)
    latency = find(claims, "residual vs avg", "latency (%)")
    assert latency.verdict == "untestable" and "rerun" in latency.interval and latency.ours is not None
    assert all(find(claims, "residual vs max", m).verdict == "untestable" for m in ("params (%)", "FLOPs (%)"))


def test_no_costs_untestable(tmp_path):
    claims = cost_claims(tmp_path, VARIANTS, SPECS)
    assert claims and all(c.verdict == "untestable" for c in claims)
    assert len(claims) == 3 + 3 * 4  # residual's own three, three per other variant


def test_bootstrap_interval_of_a_median_ratio_covers_the_truth():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        a, b = 11.0 * rng.lognormal(0, 0.1, 100), 10.0 * rng.lognormal(0, 0.1, 100)
        low, high = median_ratio_interval(a, b, seed=int(rng.integers(1 << 30)))
        covered += low <= 10.0 <= high
    assert 0.90 <= covered / 200 <= 0.99  # nominal 95%, a percentile bootstrap of medians at n=100


def test_each_row_says_what_its_figure_is_and_the_margin_is_ours(tmp_path):
    write_costs(tmp_path, [cost(v, p, f, 10.0 + p / 100) for v, (p, f) in MEASURED.items()])
    claims = cost_claims(tmp_path, VARIANTS, SPECS, margin=0.05)
    by = {c.metric: c for c in claims if c.claim == "residual vs avg"}
    assert by["params (%)"].interval == "exact count" and by["FLOPs (%)"].interval == "range: fvcore to thop"
    assert "not a 95% interval" in by["latency (%)"].interval
    assert "at most +0.05% (our margin, not the paper's)" in by["FLOPs (%)"].note
    assert by["FLOPs (%)"].verdict == "contradicted"  # +0.1% is over a 0.05% margin
    assert all(c.p_value is None for c in claims)  # no row is a statistical test


def test_a_range_that_ends_at_the_margin_is_supported():
    """The claim reads "at most ``margin`` percent more": FLOPs exactly that much more (both
    counters) are supported; a range that starts at the margin and reaches above it is not."""
    residual, avg = (
        cost("residual", 31.07, 10.5, 10.0, thop_extra=0.0),
        cost("avg", 28.45, 10.0, 10.0, thop_extra=0.0),
    )
    at = 100 * (10.5 / 10.0 - 1)
    flops = find(relative_cost(residual, "avg", avg, margin=at), "residual vs avg", "FLOPs (%)")
    assert flops.ci_low == flops.ci_high == at and flops.verdict == "supported"
    above = dict(residual, thop_GFLOPs=10.6)
    flops = find(relative_cost(above, "avg", avg, margin=at), "residual vs avg", "FLOPs (%)")
    assert flops.ci_low == at < flops.ci_high and flops.verdict == "inconclusive"


def test_latency_is_compared_on_the_gpu_where_both_were_timed_on_one(tmp_path):
    """Costs timed on the GPU and on the CPU: the ratio is the GPU's (where inference is
    meant to run); here residual costs 2% more there and 30% more on the CPU."""
    residual, avg = cost("residual", 31.07, 10.33, 13.0), cost("avg", 28.45, 10.32, 10.0)
    for p, ms in ((residual, 10.2), (avg, 10.0)):
        runs = list(ms * (1 + np.random.default_rng(3).normal(0, 0.002, 100)))
        p["latency"]["cuda"] = {
            "latency_ms_median": float(np.median(runs)),
            "latency_ms_runs": runs,
            "device": "GPU (y)",
        }
    write_costs(tmp_path, [residual, avg])
    latency = find(cost_claims(tmp_path, ["avg", "residual"], SPECS), "residual vs avg", "latency (%)")
    assert latency.ours == pytest.approx(2.0, abs=0.1) and latency.verdict == "supported"
    assert "batch-1 medians on GPU (y)" in latency.note


def test_the_bootstrap_is_of_medians_which_one_slow_run_does_not_move():
    """One run in a hundred a hundred times slower (a page fault, a context switch) leaves every
    resampled median where it was: the interval of the median ratio is 0 to 0."""
    a = [10.0] * 99 + [1000.0]
    assert median_ratio_interval(a, [10.0] * 100) == (0.0, 0.0)
