"""The claims table: verdicts from per-query results with known effects, claims.csv, and the
report's summary and claims section."""

import csv

import numpy as np
import pytest

from reid.claims import CSV_COLUMNS, NOT_SUPPLIED, paper_claims, write_claims_csv
from reid.report import build_report

RUNS = ["baseline", "plain_baseline", "avg", "max", "residual", "residual+rerank"]
QUERIES = 400


def write_run(root, dataset, variant, seed, ap, first_hit, normalized_ap=None):
    """A per_query.npz; under the normalised reading the AP is ``normalized_ap`` (default: the same)."""
    folder = root / dataset / variant / f"seed{seed}"
    folder.mkdir(parents=True)
    paths = np.array([f"query/{i:04d}_c1s1_000001_00.jpg" for i in range(len(ap))])
    other = ap if normalized_ap is None else normalized_ap
    np.savez_compressed(
        folder / "per_query.npz",
        ap=ap,
        first_hit=first_hit,
        q_paths=paths,
        ap_raw=ap,
        first_hit_raw=first_hit,
        ap_normalized=other,
        first_hit_normalized=first_hit,
    )


def fake_results(root, dataset="synthetic", means=None, seeds=(1, 2, 3), skip=5, clip=True, normalized_shift=None):
    """Per-query AP around each run's mean (a shared query difficulty, small seed effects); R1
    hits where AP is high; the first ``skip`` queries have no valid match (skipped)."""
    means = means or {"baseline": 0.30, "avg": 0.40, "max": 0.60, "residual": 0.60, "residual+rerank": 0.66}
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 0.12, QUERIES)
    models = {seed: rng.normal(0, 0.004) for seed in seeds}
    for variant, mean in means.items():
        for seed in seeds:
            shift = models[seed] if variant in ("residual", "residual+rerank") else rng.normal(0, 0.004)
            ap = mean + difficulty + shift + rng.normal(0, 0.05, QUERIES)
            ap = np.clip(ap, 0, 1) if clip else ap  # unclipped: the mean is exactly the one asked for
            hit = np.where(ap > 0.5, 0, 3)
            ap[:skip], hit[:skip] = np.nan, -1
            shifted = None if normalized_shift is None else ap + normalized_shift.get(variant, 0.0)
            write_run(root, dataset, variant, seed, ap, hit, shifted)


def find(claims, claim, dataset="synthetic", metric="mAP"):
    return next(c for c in claims if c.claim == claim and c.dataset == dataset and c.metric == metric)


def test_verdicts_follow_known_effects(tmp_path):
    fake_results(tmp_path)
    claims = paper_claims(tmp_path, ["synthetic"], RUNS)
    assert find(claims, "residual vs avg").verdict == "supported"  # +20 points
    assert find(claims, "residual vs baseline").verdict == "supported"
    assert find(claims, "residual+rerank vs residual").verdict == "supported"  # +6, paired by seed
    assert find(claims, "residual vs max").verdict == "inconclusive"  # no effect
    c = find(claims, "residual vs avg")
    assert c.ours == pytest.approx(20, abs=2) and c.ci_low < c.ours < c.ci_high
    assert c.paper == pytest.approx(87.68 - 65.97) and c.paper_dataset == "market1501"
    assert c.queries == QUERIES - 5 and c.seeds == "3 / 3" and c.interval == "seeds and queries"
    # absolute numbers: the paper has none on the synthetic set
    assert find(claims, "residual").verdict == "untestable" and find(claims, "residual").ours is not None
    # the paper's datasets that did not run
    market = [c for c in claims if c.dataset == "market1501"]
    assert market and all(c.verdict == "untestable" and c.note == NOT_SUPPLIED for c in market)


def test_contradicted_when_the_effect_is_reversed(tmp_path):
    fake_results(tmp_path, means={"avg": 0.6, "residual": 0.4})
    claims = paper_claims(tmp_path, ["synthetic"], RUNS)
    assert find(claims, "residual vs avg").verdict == "contradicted"
    assert find(claims, "residual vs baseline").verdict == "untestable"
    assert "not run: baseline" in find(claims, "residual vs baseline").note


def test_absolute_numbers_on_a_dataset_of_the_paper(tmp_path):
    # Market-1501's residual: 87.68 mAP in the paper
    fake_results(tmp_path, "market1501", means={"residual": 0.8768, "residual+rerank": 0.70}, clip=False)
    claims = paper_claims(tmp_path, ["market1501"], RUNS)
    residual = find(claims, "residual", "market1501")
    assert residual.paper == 87.68 and residual.verdict == "supported"
    assert residual.ci_low < 87.68 < residual.ci_high
    assert find(claims, "residual+rerank", "market1501").verdict == "contradicted"  # 70 vs 94.52


def test_one_seed_says_the_seed_spread_is_unknown(tmp_path):
    fake_results(tmp_path, seeds=(1,))
    c = find(paper_claims(tmp_path, ["synthetic"], RUNS), "residual vs avg")
    assert c.seeds == "1 / 1" and "seed spread unknown" in c.interval


def test_claims_csv_columns_and_rows(tmp_path):
    fake_results(tmp_path / "results")
    claims = paper_claims(tmp_path / "results", ["synthetic"], RUNS)
    write_claims_csv(claims, tmp_path / "claims.csv")
    with open(tmp_path / "claims.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {"claim", "dataset", "metric", "paper", "ours", "ci_low", "ci_high", "verdict"} <= set(rows[0])
    assert len(rows) == len(claims) == 3 * 2 * (5 + 2)  # datasets x metrics x (comparisons + absolutes)
    row = next(
        r for r in rows if r["claim"] == "residual vs avg" and r["metric"] == "R1" and r["dataset"] == "synthetic"
    )
    assert float(row["ci_low"]) < float(row["ours"]) < float(row["ci_high"]) and row["verdict"] in (
        "supported",
        "inconclusive",
    )


def test_report_has_the_summary_the_claims_and_the_csv(tmp_path):
    fake_results(tmp_path / "results")
    config = {"datasets": {"synthetic": {}}, "variants": RUNS[:4], "seeds": [1, 2, 3], "train": {"epochs": 8}}
    page = build_report(
        tmp_path / "results", tmp_path / "report" / "index.html", config, benchmarks_dir=tmp_path / "none"
    ).read_text()
    assert (tmp_path / "report" / "claims.csv").is_file()
    assert page.index('id="summary"') < page.index('id="claims"') < page.index('id="table2"')
    assert "8 epochs" in page and "tests the suite, not the paper" in page
    assert 'class="verdict-supported"' in page and "not supplied to this run" in page


def test_report_on_a_dataset_of_the_paper_has_no_synthetic_caveat(tmp_path):
    fake_results(tmp_path / "results", "market1501")
    config = {"datasets": {"market1501": {}}, "variants": RUNS[:4], "seeds": [1, 2, 3]}
    page = build_report(tmp_path / "results", tmp_path / "index.html", config, benchmarks_dir=tmp_path).read_text()
    assert "tests the suite, not the paper" not in page and "DukeMTMC-reID: not supplied" in page


def test_sensitivity_marks_a_verdict_that_changes_with_the_distance(tmp_path):
    from reid.claims import sensitivity

    fake_results(tmp_path, normalized_shift={"avg": 0.4})  # normalised features: avg overtakes residual
    rows = sensitivity(tmp_path, ["synthetic"], RUNS)
    assert {r.claim.dataset for r in rows} == {"synthetic"}
    by = {(r.claim.claim, r.claim.metric): r for r in rows}
    vs_avg = by[("residual vs avg", "mAP")]
    assert vs_avg.verdicts == {"raw": "supported", "normalized": "contradicted"} and vs_avg.changes
    assert not by[("residual vs max", "mAP")].changes and not by[("residual vs avg", "R1")].changes


def test_a_training_reading_joins_the_sensitivity_table_once_run(tmp_path):
    from reid.claims import sensitivity

    fake_results(tmp_path)
    assert set(sensitivity(tmp_path, ["synthetic"], RUNS)[0].verdicts) == {"raw", "normalized"}
    # avg, max and residual retrained with the triplet on the fused features: avg now wins
    readings = tmp_path / "synthetic" / "readings" / "triplet_fused"
    fake_results(readings, dataset="", means={"avg": 0.7, "max": 0.6, "residual": 0.5})
    by = {(r.claim.claim, r.claim.metric): r for r in sensitivity(tmp_path, ["synthetic"], RUNS)}
    vs_avg = by[("residual vs avg", "mAP")]
    assert vs_avg.verdicts["triplet_fused"] == "contradicted" and vs_avg.changes
    assert by[("residual+rerank vs residual", "mAP")].verdicts["triplet_fused"] == "untestable"  # not re-ranked
    assert by[("residual vs baseline", "mAP")].verdicts["triplet_fused"] == "supported"  # baseline as it was
