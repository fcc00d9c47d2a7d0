import json
import re

from reid.config import complete
from reid.report import build_report, mean_std, paper_tables, paper_value, read_results

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
    page = build_report(
        tmp_path / "results",
        tmp_path / "report" / "index.html",
        complete({"datasets": {"market1501": {}}, "variants": ["baseline", "avg", "residual"]}),
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
    page = build_report(
        tmp_path / "results",
        tmp_path / "index.html",
        # names the schema would refuse, to show that the page escapes whatever it is given
        complete({"datasets": {"market1501": {}}}) | {"datasets": {evil: {}, "x<b>y": {}}, "variants": ["residual"]},
        benchmarks_dir=tmp_path / "none",
    ).read_text()
    assert evil not in page and "&lt;script&gt;" in page
    assert "x<b>y" not in page and "x&lt;b&gt;y" in page


def test_missing_results_are_listed(tmp_path):
    (tmp_path / "results").mkdir()
    wanted = str(tmp_path / "results" / "dukemtmcreid" / "residual" / "seed1" / "metrics.json")
    page = build_report(
        tmp_path / "results",
        tmp_path / "index.html",
        complete({"datasets": {"dukemtmcreid": {}}}),
        expected=[wanted],
        benchmarks_dir=tmp_path / "none",
    ).read_text()
    assert "Not run" in page and "dukemtmcreid/residual/seed1/metrics.json" in page
