"""Cross-dataset rows and the summary across datasets: a comparison is judged on models trained on
one dataset and evaluated on another, and it reads "holds across datasets" only where every
dataset and pair that tested it supports it."""

import numpy as np

from reid.claims import judge_run
from reid.claims.across import across_datasets, cross_claims, cross_label, cross_pairs
from reid.claims.claim import Claim
from reid.claims.declared import paper_claim_specs
from reid.config import complete
from tests.claims.test_accuracy import fake_results

VARIANTS = ["baseline", "avg", "max", "residual"]


def test_cross_rows_are_judged_on_the_evaluated_sets_results_direction_only(tmp_path):
    fake_results(tmp_path, "a")
    fake_results(tmp_path, "b")
    # trained on a, evaluated on b: residual well above avg, residual level with max
    fake_results(tmp_path / "cross" / "a", "b", means={"avg": 0.2, "max": 0.5, "residual": 0.5, "baseline": 0.1})
    assert cross_pairs(tmp_path, ["a", "b"]) == [("a", "b")]
    claims = cross_claims(tmp_path, ["a", "b"], VARIANTS, paper_claim_specs(), 1.5)
    label = cross_label("a", "b")
    rows = {(c.claim, c.metric): c for c in claims}
    assert {c.dataset for c in claims} == {label}
    assert rows[("residual vs avg", "mAP")].verdict == "supported"
    assert rows[("residual vs max", "mAP")].verdict == "inconclusive"
    assert rows[("residual vs avg", "mAP")].size == "untestable"  # the paper has no cross-dataset numbers
    assert "trained on a, evaluated on b" in rows[("residual vs avg", "mAP")].note
    assert not any("rerank" in c.claim for c in claims)  # re-ranking is not evaluated across datasets


def test_the_summary_holds_only_where_every_tested_dataset_supports_it():
    def row(dataset, verdict, claim="residual vs avg"):
        return Claim("C1", claim, dataset, "mAP", None, verdict=verdict, verdict_adjusted=verdict, kind="direction")

    claims = [
        row("a", "supported"),
        row("b", "supported"),
        row("a→b", "supported"),
        row("c", "untestable"),  # not tested: it does not count
        row("a", "supported", "residual vs max"),
        row("b", "inconclusive", "residual vs max"),
        row("a", "supported", "residual vs baseline"),
        row("b", "contradicted", "residual vs baseline"),
        row("a", "supported", "avg vs max"),  # tested on one dataset only: no reading
        row("a", "supported", "max vs avg"),
        Claim(
            "C1", "max vs avg", "b", "mAP", None, verdict="supported", verdict_adjusted="inconclusive", kind="direction"
        ),
    ]
    found = {r["claim"]: r for r in across_datasets(claims)}
    assert found["residual vs avg"]["reading"] == "holds" and set(found["residual vs avg"]["verdicts"]) == {
        "a",
        "b",
        "a→b",
    }
    assert found["residual vs max"]["reading"] == "open" and found["residual vs max"]["words"].endswith("(b)")
    assert found["residual vs baseline"]["reading"] == "contradicted"
    assert "avg vs max" not in found
    # the adjusted verdict counts: supported before Holm's adjustment, inconclusive after it
    assert found["max vs avg"]["reading"] == "open" and found["max vs avg"]["verdicts"]["b"] == "inconclusive"


def test_a_run_with_cross_results_carries_both_readings(tmp_path):
    for name in ("a", "b"):
        fake_results(tmp_path, name)
        fake_results(tmp_path / "cross" / name, "b" if name == "a" else "a")
    config = complete({"datasets": {"a": {"path": "x"}, "b": {"path": "y"}}, "variants": VARIANTS})
    judged = judge_run(tmp_path, config)
    datasets = {c.dataset for c in judged.claims if c.kind == "direction"}
    assert {"a→b", "b→a"} <= datasets
    summary = {(r["claim"], r["metric"]): r for r in judged.across}
    assert summary[("residual vs avg", "mAP")]["reading"] == "holds"
    assert len(summary[("residual vs avg", "mAP")]["verdicts"]) == 4  # a, b, a→b, b→a
    cross_numbers = [c.ours for c in judged.claims if c.dataset == "a→b" and c.ours is not None]
    assert cross_numbers and np.isfinite(cross_numbers).all()


def test_the_report_shows_the_cross_table_and_the_summary(tmp_path):
    import json

    from reid.report import build_report

    results = tmp_path / "results"
    for name in ("a", "b"):
        fake_results(results, name)
    fake_results(results / "cross" / "a", "b")
    for variant, value in (("residual", 0.41), ("avg", 0.30)):  # the table reads metrics.json: two seeds each
        for seed, shift in ((1, 0.0), (2, 0.02)):
            folder = results / "cross" / "a" / "b" / variant / f"seed{seed}"
            (folder / "metrics.json").write_text(json.dumps({"mAP": value + shift, "R1": 0.5, "device": "cpu"}))
    config = complete({"datasets": {"a": {"path": "x"}, "b": {"path": "y"}}, "variants": VARIANTS})
    page = build_report(results, tmp_path / "index.html", config, judge_run(results, config)).read_text()
    assert "Cross-dataset evaluation" in page and "a → b" in page
    assert "42.00 ± 1.41" in page and "31.00 ± 1.41" in page  # residual's and avg's mAP over two seeds
    assert 'id="across-table"' in page and "holds across datasets" in page
