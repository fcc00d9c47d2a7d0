"""The report page: the measured numbers in its tables, escaped names, results not run; and the
split between the claims step, which judges and writes claims.csv, and the report, which only
renders the claims it is given."""

import ast
import csv
import json
import re
from pathlib import Path

import pytest

import reid.claims
from reid.claims import CSV_COLUMNS, Claim, JudgedClaims, judge_run, read_judged
from reid.cli import main
from reid.config import ConfigError, complete
from reid.report import build_report, mean_std, paper_tables, paper_value, read_results

ROOT = Path(__file__).resolve().parents[1]

LOG = (
    "epoch,loss,triplet,ce,train_acc,lr,epoch_seconds,images_per_s,rank1,mAP\n"
    "0,,,,,0.001,,,0.01,0.02\n1,5.0,1.0,4.0,0.1,0.03,1.0,100,0.2,0.1\n2,4.0,0.8,3.2,0.3,0.03,1.0,100,0.4,0.3\n"
)


def _fake_results(root, dataset="market1501", seeds=(1, 2)):
    for variant, base in (("baseline", 0.5), ("residual", 0.8), ("residual+rerank", 0.9)):
        for seed in seeds:
            d = root / dataset / variant / f"seed{seed}"
            d.mkdir(parents=True)
            value = base + 0.01 * seed
            (d / "metrics.json").write_text(
                json.dumps({"rank1": value, "rank5": value, "rank10": value, "mAP": value - 0.1, "device": "cpu: test"})
            )
            if variant != "residual+rerank":
                (d / "log.csv").write_text(LOG)
    (root / "cost").mkdir()
    (root / "cost" / "residual.json").write_text(
        json.dumps(
            {
                "variant": "residual",
                "backbone": "resnet50",
                "input": [288, 144],
                "num_classes": 751,
                "params_M": 31.07,
                "params_without_classifiers_M": 28.76,
                "fvcore_GMACs": 5.16,
                "fvcore_GFLOPs": 10.33,
                "thop_GMACs": 5.18,
                "thop_GFLOPs": 10.37,
                "latency": {
                    "cpu": {"latency_ms_median": 90.0, "latency_ms_p90": 95.0, "throughput_images_per_s": 12.0}
                },
            }
        )
    )


def test_paper_tables_are_shipped():
    rows = paper_tables()
    assert paper_value(rows, 2, "Residual", "market1501", "mAP") == 87.68
    assert paper_value(rows, 3, "GLAD", "market1501", "rank5") is None  # printed as "—"
    assert paper_value(rows, 4, "Residual", "", "params_M") == 30.55


def test_mean_std():
    assert mean_std([1.0, 3.0]) == (2.0, 2**0.5)
    assert mean_std([5.0]) == (5.0, 0.0)


def test_report_holds_the_measured_numbers(tmp_path):
    _fake_results(tmp_path / "results")
    results = read_results(tmp_path / "results")
    assert set(results.metrics) == {("market1501", v) for v in ("baseline", "residual", "residual+rerank")}
    config = complete({"datasets": {"market1501": {}}, "variants": ["baseline", "avg", "residual"]})
    page = build_report(
        tmp_path / "results",
        tmp_path / "report" / "index.html",
        config,
        judge_run(tmp_path / "results", config),
        benchmarks_dir=tmp_path / "none",
    ).read_text()
    table2 = page[page.index('id="table2"') : page.index("</table>", page.index('id="table2"'))]
    # residual mAP: seeds 0.71, 0.72 -> 71.50 ± 0.71, paper 87.68, diff -16.18
    assert "71.50 ± 0.71" in table2 and "87.68" in table2 and "-16.18" in table2
    assert "not run" in table2  # avg has no results
    assert "30.55" in page and "31.07" in page and "10.82" in page
    assert len(re.findall(r'<img alt="Figure 5', page)) == 1


def test_report_escapes_names_from_configs_and_files(tmp_path):
    evil = "<script>alert(1)</script>"
    _fake_results(tmp_path / "results", dataset="x<b>y")
    # names the schema would refuse, to show that the page escapes whatever it is given
    config = complete({"datasets": {"market1501": {}}}) | {
        "datasets": {evil: {}, "x<b>y": {}},
        "variants": ["residual"],
    }
    page = build_report(
        tmp_path / "results",
        tmp_path / "index.html",
        config,
        judge_run(tmp_path / "results", config),
        benchmarks_dir=tmp_path / "none",
    ).read_text()
    assert evil not in page and "&lt;script&gt;" in page
    assert "x<b>y" not in page and "x&lt;b&gt;y" in page


def test_missing_results_are_listed(tmp_path):
    (tmp_path / "results").mkdir()
    wanted = str(tmp_path / "results" / "dukemtmcreid" / "residual" / "seed1" / "metrics.json")
    config = complete({"datasets": {"dukemtmcreid": {}}})
    page = build_report(
        tmp_path / "results",
        tmp_path / "index.html",
        config,
        judge_run(tmp_path / "results", config),
        expected=[wanted],
        benchmarks_dir=tmp_path / "none",
    ).read_text()
    assert "Not run" in page and "dukemtmcreid/residual/seed1/metrics.json" in page


def test_the_claims_step_writes_claims_csv_and_the_record_the_report_renders(tmp_path, capsys):
    """python -m reid claims judges and writes report/claims.csv and report/claims.json;
    python -m reid report then renders the page from that record, beside which it looks for it."""
    _fake_results(tmp_path / "results")
    config = complete({"datasets": {"market1501": {}}, "variants": ["baseline", "avg", "residual"]})
    report = tmp_path / "report"
    common = ["--config-json", json.dumps(config), "--results", str(tmp_path / "results")]
    assert main(["claims", *common, "--out", str(report / "claims.csv")]) == 0
    with open(report / "claims.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and {r["claim_id"] for r in rows} >= {"C1", "C2", "C3", "C4", "C5", "C6"}
    assert read_judged(report / "claims.json") == judge_run(tmp_path / "results", config)  # nothing lost on the way
    page = report / "index.html"
    assert main(["report", *common, "--benchmarks", str(tmp_path / "none"), "--out", str(page)]) == 0
    assert 'id="claims-table"' in page.read_text()
    (report / "claims.json").unlink()
    capsys.readouterr()
    assert main(["report", *common, "--benchmarks", str(tmp_path / "none"), "--out", str(page)]) == 2
    assert "run `python -m reid claims` first" in capsys.readouterr().err


JUDGING = {
    "judge",
    "judge_run",
    "paper_claims",
    "cost_claims",
    "curve_claims",
    "sensitivity",
    "adjust_family_wise",
    "load_scores",
    "write_claims",
    "write_claims_csv",
}


def test_the_report_renders_the_claims_it_is_given_and_judges_none(tmp_path, monkeypatch):
    """A planted verdict that the results could not give (they hold no per-query scores: judged,
    every accuracy claim would be untestable) is shown as given, with every judging function
    made to fail; and the page writes no claims.csv."""
    _fake_results(tmp_path / "results")
    for module in (reid.claims, reid.claims.accuracy, reid.claims.cost, reid.claims.curves, reid.claims.claim):
        for name in JUDGING & set(vars(module)):
            monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("the report judged a claim"))
    planted = Claim("C1", "residual vs avg", "market1501", "mAP", 1.23, 4.56, 1.0, 8.0, "supported", kind="direction")
    planted.note, planted.seeds, planted.verdict_adjusted = "planted, not judged", "2 / 2", "supported"
    judged = JudgedClaims([planted], [], [], 1.5, 5.0, [])
    config = complete({"datasets": {"market1501": {}}, "variants": ["avg", "residual"]})
    page = build_report(tmp_path / "results", tmp_path / "report" / "index.html", config, judged).read_text()
    row = page[page.index('id="claims-table"') :]
    row = row[row.index("<tbody>") : row.index("</tbody>")]
    assert row.count("<tr") == 1 and "planted, not judged" in row
    for text in ("4.56", "[1.00, 8.00]", '<td class="verdict" title="', ">supported</td>"):
        assert text in row, text
    assert 'id="sensitivity"' not in page  # none given, none shown
    assert not (tmp_path / "report" / "claims.csv").exists()


def test_the_report_package_imports_no_judging_code():
    """Judging is the claims step's (reid.claims): the report's modules import only the
    claims' records and words, never a function that judges or writes claims.csv."""
    imported = set()
    for path in sorted((ROOT / "reid" / "report").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reid.claims"):
                imported |= {alias.name for alias in node.names}
    assert imported and not imported & JUDGING, imported & JUDGING


def test_a_claims_record_of_another_layout_is_refused(tmp_path):
    (tmp_path / "claims.json").write_text(json.dumps({"version": 0, "claims": []}))
    with pytest.raises(ConfigError, match="run `python -m reid claims` again"):
        read_judged(tmp_path / "claims.json")
