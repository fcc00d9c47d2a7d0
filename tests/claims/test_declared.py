"""Claims as data: the paper's claims file agrees with its Table 2, a bad claim is one line, a
user's own claim on their own dataset reaches claims.csv and the page, and the family-wise
adjustment."""

import csv

import pytest

from reid.claims import (
    Claim,
    adjust_family_wise,
    claim_settings,
    claim_specs,
    judge_run,
    statistical_tests,
    write_claims,
)
from reid.claims.declared import paper_claim_specs, parse_claim
from reid.config import ConfigError, complete
from reid.paper import PAPER_ROWS, paper_tables, paper_value
from reid.report import build_report
from tests.claims.test_accuracy import fake_results

TABLE_METRIC = {"mAP": "mAP", "R1": "rank1"}


def test_the_papers_claims_file_holds_table_2s_numbers():
    rows = paper_tables()
    checked = 0
    for spec in paper_claim_specs():
        for dataset, values in spec.paper.items():
            for metric, value in values.items():
                a = paper_value(rows, 2, PAPER_ROWS[spec.a], dataset, TABLE_METRIC[metric])
                expected = (
                    a if not spec.b else a - paper_value(rows, 2, PAPER_ROWS[spec.b[0]], dataset, TABLE_METRIC[metric])
                )
                assert value == pytest.approx(expected, abs=0.005), (spec.claim_id, dataset, metric)
                checked += 1
    assert checked == 6 * 4  # C1 (two), C2, C3 and C4 (two), two datasets, two metrics


@pytest.mark.parametrize(
    "entry, says",
    [
        ({"id": "U1", "kind": "direction", "a": "residual", "b": "mine", "metrics": ["mAP"]}, "'mine' is not a run"),
        ({"id": "U1", "kind": "absolute", "a": "residual", "b": "avg", "metrics": ["mAP"]}, "remove b"),
        ({"id": "U1", "kind": "size", "a": "residual", "metrics": ["mAP"]}, "give b"),
        ({"id": "U1", "kind": "direction", "a": "residual", "b": "avg", "metrics": ["FLOPs"]}, "FLOPs is not a metric"),
        (
            {
                "id": "U1",
                "kind": "direction",
                "a": "residual",
                "b": "avg",
                "metrics": ["mAP"],
                "paper": {"x": {"R1": 1}},
            },
            "paper.x gives R1",
        ),
    ],
)
def test_a_bad_claim_is_one_line_naming_it(entry, says):
    with pytest.raises(ConfigError, match=says) as err:
        parse_claim(entry, "config key 'claims.declared[0]'", "declared in the config")
    assert "claims.declared[0]' (claim U1)" in str(err.value) and "\n" not in str(err.value)


def test_the_config_schema_checks_the_claims_section():
    base = {"data_root": "data", "datasets": {"synthetic": {}}}
    complete(
        base
        | {"claims": {"tolerance": 2.0, "declared": [{"id": "U1", "kind": "absolute", "a": "max", "metrics": "mAP"}]}}
    )
    with pytest.raises(ConfigError, match="claims.tolerance"):
        complete(base | {"claims": {"tolerance": 0}})
    with pytest.raises(ConfigError, match="claims.declared.0"):
        complete(base | {"claims": {"declared": [{"id": "U1", "kind": "guess", "a": "max", "metrics": "mAP"}]}})


def test_a_user_declared_claim_on_a_custom_dataset_reaches_claims_csv_and_the_page(tmp_path):
    """A user's own claim, declared in the config with no code: "max beats avg by 20 mAP points
    on my dataset" (planted: +20)."""
    fake_results(tmp_path / "results", "mine")
    config = complete(
        {
            "datasets": {"mine": {"path": "/data/mine"}},
            "variants": ["baseline", "avg", "max", "residual"],
            "claims": {
                "tolerance": 3.0,
                "declared": [
                    {
                        "id": "U1",
                        "words": "max pooling beats average pooling by 20 points on my dataset",
                        "kind": "size",
                        "a": "max",
                        "b": "avg",
                        "metrics": ["mAP"],
                        "datasets": ["mine"],
                        "paper": {"mine": {"mAP": 20.0}},
                    }
                ],
            },
        }
    )
    assert [s.claim_id for s in claim_specs(config)][-1] == "U1"
    report = tmp_path / "report"
    write_claims(judge_run(tmp_path / "results", config), report / "claims.csv", report / "claims.json")
    page = build_report(
        tmp_path / "results", report / "index.html", config, report / "claims.json", benchmarks_dir=tmp_path
    ).read_text()
    with open(report / "claims.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["claim_id"] == "U1")
    assert row["claim"] == "max vs avg" and row["dataset"] == "mine" and row["paper"] == "20.00"
    assert row["verdict"] == "supported" and row["size"] == "as_claimed" and row["kind"] == "size"
    assert row["verdict_adjusted"] == "supported" and row["identities"] == "99"
    assert "max pooling beats average pooling by 20 points on my dataset" in page and "declared in the config" in page


def _claim(dataset, p, verdict="supported"):
    return Claim("C1", "a vs b", dataset, "mAP", None, verdict=verdict, p_value=p, kind="direction")


def test_holm_keeps_the_family_wise_error_per_dataset():
    # one dataset of four tests: Holm's thresholds 0.0125, 0.0167, 0.025, 0.05 in order of p
    family = [_claim("d", 0.01), _claim("d", 0.04), _claim("d", 0.03), _claim("d", 0.005)]
    other = [_claim("e", 0.04)]  # a family of its own: kept at 0.05
    exact = Claim("C5", "a vs b", "all", "params (%)", None, verdict="supported")  # an exact count
    adjust_family_wise(family + other + [exact])
    assert [c.verdict_adjusted for c in family] == ["supported", "inconclusive", "inconclusive", "supported"]
    assert other[0].verdict_adjusted == "supported" and exact.verdict_adjusted == "supported"
    assert len(statistical_tests(family + other + [exact])) == 5


def test_a_claim_is_shown_on_its_datasets_and_the_papers():
    """``datasets: all`` means every dataset of the run; a list names only those (and the paper's
    datasets, where it gives numbers, follow)."""
    claim = {"kind": "direction", "a": "max", "b": "avg", "metrics": "mAP"}
    mine = parse_claim(claim | {"id": "U1", "datasets": ["mine"]}, "test", "declared in the config")
    assert mine.shown_datasets(["synthetic", "mine"]) == ["mine"]
    everywhere = parse_claim(claim | {"id": "U2", "paper": {"market1501": {"mAP": 1.0}}}, "test", "declared")
    assert everywhere.shown_datasets(["synthetic", "mine"]) == ["synthetic", "mine", "market1501"]


def test_the_claim_settings_are_read_from_the_config():
    """The equivalence band and the cost margin: the config's ``claims.tolerance`` and
    ``claims.cost_margin``, else the schema's defaults, 1.5 points and 5%."""
    base = {"datasets": {"synthetic": {}}}
    assert claim_settings(complete(base)) == claim_settings(complete(base | {"claims": {}})) == (1.5, 5.0)
    assert claim_settings(complete(base | {"claims": {"tolerance": 2.0, "cost_margin": 3.0}})) == (2.0, 3.0)
