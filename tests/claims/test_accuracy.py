"""The claims table: verdicts from per-query results with known effects, claims.csv, and the
report's summary and claims section (rendered from what the claims step judged)."""

import csv

import numpy as np
import pytest

from reid.claims import CSV_COLUMNS, NOT_SUPPLIED, judge_run, load_scores, paper_claims, write_claims, write_claims_csv
from reid.config import complete
from reid.report import build_report

RUNS = ["baseline", "plain_baseline", "avg", "max", "residual", "residual+rerank"]
QUERIES = 400
PER_IDENTITY = 4  # queries per person: the intervals' unit is the person


def write_run(root, dataset, variant, seed, ap, first_hit, normalized_ap=None):
    """A per_query.npz; under the normalised reading the AP is ``normalized_ap`` (default: the same)."""
    folder = root / dataset / variant / f"seed{seed}"
    folder.mkdir(parents=True)
    pids = np.arange(len(ap)) // PER_IDENTITY
    paths = np.array([f"query/{p:04d}_c1s1_{i:06d}_00.jpg" for i, p in enumerate(pids)])
    other = ap if normalized_ap is None else normalized_ap
    np.savez_compressed(
        folder / "per_query.npz",
        ap=ap,
        first_hit=first_hit,
        q_paths=paths,
        q_pids=pids,
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
    # the paper has no number on the synthetic set: the direction is tested, the size is not
    assert c.paper is None and c.size == "untestable" and "only the direction is tested" in c.note
    assert c.queries == QUERIES - 5 and c.seeds == "3 / 3" and c.interval == "seeds and identities"
    assert c.identities == len(set(np.arange(5, QUERIES) // PER_IDENTITY))
    # absolute numbers: the paper has none on the synthetic set
    assert find(claims, "residual").verdict == "untestable" and find(claims, "residual").ours is not None
    # the paper's datasets that did not run
    market = [c for c in claims if c.dataset == "market1501"]
    assert market and all(c.verdict == "untestable" and c.note == NOT_SUPPLIED for c in market)


def test_rank_metrics_count_the_queries_whose_first_hit_is_above_the_cut_off(tmp_path):
    """R1, R5 and R10 per query from first hits on both sides of each cut-off (0-based ranks:
    R1 is a hit at rank 0, R5 one at ranks 0-4); a skipped query (-1) counts in none."""
    from reid.claims.accuracy import load_scores

    first_hit = np.array([0, 1, 2, 4, 5, 9, 10, 30, -1, 0, 1, 4] * 4)
    ap = np.where(first_hit < 0, np.nan, 1 / (np.abs(first_hit) + 1.0))
    for seed in (1, 2):
        write_run(tmp_path, "synthetic", "residual", seed, ap, first_hit)
    scores = load_scores(tmp_path / "synthetic" / "residual")
    for metric, cut in (("R1", 1), ("R5", 5), ("R10", 10)):
        expected = np.where(first_hit < 0, np.nan, 100.0 * (first_hit < cut))
        np.testing.assert_array_equal(scores.tables[metric], [expected, expected], err_msg=metric)


def test_re_ranking_is_compared_seed_by_seed_with_the_same_models(tmp_path):
    """C3 scores the same models twice: its interval is that of the per-seed difference. Here
    each seed shifts residual by up to 8 points and re-ranking adds 3 to every seed alike, so the
    paired interval is narrow and an unpaired one (which counts the seeds' spread twice) wide."""
    from reid.claims.accuracy import load_scores
    from reid.stats import difference_interval

    rng = np.random.default_rng(2)
    difficulty = rng.uniform(0.2, 0.6, QUERIES)
    for seed, shift in zip((1, 2, 3), (-0.08, 0.0, 0.08)):
        ap = difficulty + shift
        write_run(tmp_path, "synthetic", "residual", seed, ap, np.zeros(QUERIES, int))
        write_run(
            tmp_path,
            "synthetic",
            "residual+rerank",
            seed,
            ap + 0.03 + rng.normal(0, 0.01, QUERIES),
            np.zeros(QUERIES, int),
        )
    c = find(paper_claims(tmp_path, ["synthetic"], RUNS), "residual+rerank vs residual")
    a = load_scores(tmp_path / "synthetic" / "residual+rerank")
    b = load_scores(tmp_path / "synthetic" / "residual")
    paired = difference_interval(a.tables["mAP"], b.tables["mAP"], clusters=a.pids, paired=True)
    unpaired = difference_interval(a.tables["mAP"], b.tables["mAP"], clusters=a.pids)
    assert c.ours == pytest.approx(3.0, abs=0.2) and c.verdict == "supported"
    assert (c.ci_low, c.ci_high) == pytest.approx((paired.low, paired.high))
    assert c.ci_high - c.ci_low < 1.0 < 10 < unpaired.high - unpaired.low


def test_contradicted_when_the_effect_is_reversed(tmp_path):
    fake_results(tmp_path, means={"avg": 0.6, "residual": 0.4})
    claims = paper_claims(tmp_path, ["synthetic"], RUNS)
    assert find(claims, "residual vs avg").verdict == "contradicted"
    assert find(claims, "residual vs baseline").verdict == "untestable"
    assert "not run: baseline" in find(claims, "residual vs baseline").note


def test_a_size_claim_is_judged_by_its_size(tmp_path):
    """C2 says "by a wide margin" (+23.01 mAP on Market-1501): residual 3 points above the baseline
    is the claimed direction but far smaller than claimed, and must not read as a plain success."""
    from reid.report.claims_section import headline, reads

    fake_results(tmp_path, "market1501", means={"baseline": 0.60, "residual": 0.63}, clip=False)
    c = find(paper_claims(tmp_path, ["market1501"], RUNS), "residual vs baseline", "market1501")
    assert c.kind == "size" and c.paper == 23.01 and c.verdict == "supported" and c.size == "smaller"
    assert headline(c) == "contradicted" and reads(c) == "the claimed direction; smaller than the paper's"


def test_a_difference_as_large_as_the_papers_is_as_claimed(tmp_path):
    fake_results(tmp_path, "market1501", means={"avg": 0.60, "residual": 0.60 + 0.2171}, clip=False)
    # 400 queries of 100 people: an interval about +-1.4 points wide, inside a band of +-3
    c = find(paper_claims(tmp_path, ["market1501"], RUNS, tolerance=3.0), "residual vs avg", "market1501")
    assert c.verdict == "supported" and c.size == "as_claimed" and c.size_p_value < 0.05
    narrow = find(paper_claims(tmp_path, ["market1501"], RUNS, tolerance=0.01), "residual vs avg", "market1501")
    assert narrow.size == "inconclusive" and narrow.size_p_value >= 0.05  # a band of 0.01 points is too narrow


def test_absolute_numbers_are_an_equivalence_test_against_the_papers_runs(tmp_path):
    # Market-1501's residual: 87.68 mAP in the paper (a mean of three runs on the same test set)
    fake_results(tmp_path, "market1501", means={"residual": 0.8768, "residual+rerank": 0.70}, clip=False)
    claims = paper_claims(tmp_path, ["market1501"], RUNS)
    residual = find(claims, "residual", "market1501")
    assert residual.paper == 87.68 and residual.verdict == "supported"
    assert residual.paper - 1.5 < residual.ci_low < residual.ours < residual.ci_high < residual.paper + 1.5
    assert "the paper's 3 runs" in residual.interval and residual.queries == QUERIES - 5
    assert find(claims, "residual+rerank", "market1501").verdict == "contradicted"  # 70 vs 94.52


def test_a_noisy_run_at_the_papers_value_is_not_supported(tmp_path):
    """A larger seed spread must make the equivalence test less sure, never more (the old rule,
    "the paper's value lies inside our interval", read a noisier run as supported more often)."""
    rng = np.random.default_rng(1)
    for seed, shift in zip((1, 2, 3), (-4.0, 0.5, 3.5)):  # a 4-point seed spread, mean 87.68
        ap = 0.8768 + shift / 100 + rng.normal(0, 0.05, QUERIES)
        write_run(
            tmp_path, "market1501", "residual", seed, ap - ap.mean() + 0.8768 + shift / 100, np.zeros(QUERIES, int)
        )
    c = find(paper_claims(tmp_path, ["market1501"], RUNS), "residual", "market1501")
    assert c.ours == pytest.approx(87.68) and c.verdict == "inconclusive"


def test_one_seed_gives_no_call(tmp_path):
    fake_results(tmp_path, "market1501", seeds=(1,), means={"avg": 0.3, "residual": 0.9, "residual+rerank": 0.95})
    claims = [c for c in paper_claims(tmp_path, ["market1501"], RUNS) if c.dataset == "market1501"]
    c = find(claims, "residual vs avg", "market1501")
    assert c.seeds == "1 / 1" and c.verdict == "inconclusive" and c.size == "inconclusive"
    assert c.ci_low is None and c.p_value is None and "one seed on residual, avg" in c.note
    judged = [c for c in claims if c.verdict != "untestable"]
    assert judged and all(c.verdict == "inconclusive" and c.size in ("", "inconclusive") for c in judged)


def test_a_damaged_seed_file_is_named_and_left_out(tmp_path):
    fake_results(tmp_path)
    damaged = tmp_path / "synthetic" / "residual" / "seed2" / "per_query.npz"
    damaged.write_bytes(damaged.read_bytes()[:100])  # truncated: a zipfile.BadZipFile inside numpy
    foreign = tmp_path / "synthetic" / "avg" / "seed3" / "per_query.npz"
    np.savez(foreign, something=np.zeros(3))
    c = find(paper_claims(tmp_path, ["synthetic"], RUNS), "residual vs avg")
    assert c.seeds == "2 / 2" and c.verdict == "supported"
    assert "residual/seed2/per_query.npz: damaged, left out" in c.note
    assert "avg/seed3/per_query.npz: not an evaluation's (no ap, first_hit, q_paths), left out" in c.note


def test_every_seed_damaged_is_untestable_and_named(tmp_path):
    fake_results(tmp_path, seeds=(1,))
    (tmp_path / "synthetic" / "avg" / "seed1" / "per_query.npz").write_bytes(b"not a zip")
    c = find(paper_claims(tmp_path, ["synthetic"], RUNS), "residual vs avg")
    assert c.verdict == "untestable" and "avg/seed1/per_query.npz: damaged, left out" in c.note
    assert "not run: avg" in c.note


def test_claims_csv_columns_and_rows(tmp_path):
    fake_results(tmp_path / "results")
    claims = paper_claims(tmp_path / "results", ["synthetic"], RUNS)
    write_claims_csv(claims, tmp_path / "claims.csv")
    with open(tmp_path / "claims.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {"claim", "dataset", "metric", "paper", "ours", "ci_low", "ci_high", "verdict"} <= set(rows[0])
    assert len(rows) == len(claims) == 3 * 2 * (5 + 2)  # datasets x metrics x (comparisons + absolutes)
    assert {"size", "verdict_adjusted", "size_adjusted", "p_value", "identities"} <= set(rows[0])
    row = next(
        r for r in rows if r["claim"] == "residual vs avg" and r["metric"] == "R1" and r["dataset"] == "synthetic"
    )
    assert float(row["ci_low"]) < float(row["ours"]) < float(row["ci_high"]) and row["verdict"] in (
        "supported",
        "inconclusive",
    )


def test_report_has_the_summary_the_claims_and_the_csv(tmp_path):
    fake_results(tmp_path / "results")
    config = complete({"datasets": {"synthetic": {}}, "variants": RUNS[:4], "seeds": [1, 2, 3], "train": {"epochs": 8}})
    report = tmp_path / "report"
    write_claims(judge_run(tmp_path / "results", config), report / "claims.csv", report / "claims.json")
    page = build_report(
        tmp_path / "results", report / "index.html", config, report / "claims.json", benchmarks_dir=tmp_path / "none"
    ).read_text()
    assert (report / "claims.csv").is_file()
    assert page.index('id="summary"') < page.index('id="claims"') < page.index('id="table2"')
    assert "8 epochs" in page and "tests the suite, not the paper" in page
    assert 'class="verdict-supported"' in page and "not supplied to this run" in page


def test_report_on_a_dataset_of_the_paper_has_no_synthetic_caveat(tmp_path):
    fake_results(tmp_path / "results", "market1501")
    config = complete({"datasets": {"market1501": {}}, "variants": RUNS[:4], "seeds": [1, 2, 3]})
    judged = judge_run(tmp_path / "results", config)
    page = build_report(
        tmp_path / "results", tmp_path / "index.html", config, judged, benchmarks_dir=tmp_path
    ).read_text()
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


def test_a_query_skipped_in_one_seed_only_is_left_out_of_the_comparison(tmp_path):
    """Only queries that every seed of both runs evaluated are compared: one that a single seed
    skipped is left out (not a NaN result)."""
    fake_results(tmp_path)
    path = tmp_path / "synthetic" / "avg" / "seed2" / "per_query.npz"
    with np.load(path) as data:
        arrays = dict(data)
    for key in ("ap", "ap_raw", "ap_normalized"):
        arrays[key][10] = np.nan
    for key in ("first_hit", "first_hit_raw", "first_hit_normalized"):
        arrays[key][10] = -1
    np.savez_compressed(path, **arrays)
    c = find(paper_claims(tmp_path, ["synthetic"], RUNS), "residual vs avg")
    assert c.queries == QUERIES - 5 - 1 and np.isfinite(c.ours) and c.verdict == "supported"


def test_re_ranking_is_paired_on_the_seeds_both_have(tmp_path):
    """Re-ranking evaluated for seeds 2 and 3 of residual's 1, 2 and 3: each re-ranked seed is
    compared with its own model (seed 2 with seed 2), whose shifts of -8, 0 and +8 points would
    otherwise swamp the +3 that re-ranking adds."""
    rng = np.random.default_rng(3)
    difficulty = rng.uniform(0.2, 0.6, QUERIES)
    for seed, shift in zip((1, 2, 3), (-0.08, 0.0, 0.08)):
        ap = difficulty + shift
        write_run(tmp_path, "synthetic", "residual", seed, ap, np.zeros(QUERIES, int))
        if seed > 1:
            reranked = ap + 0.03 + rng.normal(0, 0.01, QUERIES)
            write_run(tmp_path, "synthetic", "residual+rerank", seed, reranked, np.zeros(QUERIES, int))
    c = find(paper_claims(tmp_path, ["synthetic"], RUNS), "residual+rerank vs residual")
    assert c.seeds == "2" and c.ours == pytest.approx(3.0, abs=0.2) and c.verdict == "supported"
    assert c.ci_high - c.ci_low < 1.0


def test_a_declared_claim_that_a_is_lower_is_judged_on_that_side(tmp_path):
    """A user's claim "residual is lower than residual+rerank" (higher: false), written with the
    re-ranked run second: supported, and still compared seed by seed with the same models."""
    from reid.claims.declared import parse_claim
    from reid.stats import difference_interval

    fake_results(tmp_path)
    entry = {"id": "U2", "kind": "direction", "a": "residual", "b": "residual+rerank", "metrics": ["mAP"]}
    spec = parse_claim(entry | {"higher": False}, "config key 'claims.declared[0]'", "declared in the config")
    c = find(paper_claims(tmp_path, ["synthetic"], RUNS, specs=[spec]), "residual vs residual+rerank")
    assert c.ours == pytest.approx(-6, abs=1) and c.verdict == "supported"
    a, b = (load_scores(tmp_path / "synthetic" / run) for run in ("residual", "residual+rerank"))
    keep = ~np.isnan(a.tables["mAP"]).any(0)
    paired = difference_interval(a.tables["mAP"][:, keep], b.tables["mAP"][:, keep], a.pids[keep], paired=True)
    assert (c.ci_low, c.ci_high) == pytest.approx((paired.low, paired.high))
    higher = parse_claim(entry, "config key 'claims.declared[0]'", "declared in the config")
    assert find(paper_claims(tmp_path, ["synthetic"], RUNS, specs=[higher]), "residual vs residual+rerank").verdict == (
        "contradicted"
    )


def test_an_absolute_number_far_above_the_papers_is_contradicted(tmp_path):
    """The equivalence test has two sides: 95 mAP against the paper's 87.68 is as far from the
    claim as 80 would be."""
    fake_results(tmp_path, "market1501", means={"residual": 0.95}, clip=False)
    c = find(paper_claims(tmp_path, ["market1501"], RUNS), "residual", "market1501")
    assert c.ci_low > c.paper + 1.5 and c.verdict == "contradicted" and c.p_value < 0.05
