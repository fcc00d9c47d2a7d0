"""The suite benchmark's bookkeeping (the run itself is the README's first command, timed)."""

import json

from reid.bench.suite_bench import learning, report, stage_times


def write_tsv(path, seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t10.0\n")


def test_stage_times_learning_and_the_comparison(tmp_path):
    bench = tmp_path / "benchmarks"
    write_tsv(bench / "train" / "synthetic" / "avg" / "seed1.tsv", 40.0)
    write_tsv(bench / "train" / "synthetic" / "max" / "seed1.tsv", 50.5)
    write_tsv(bench / "evaluate" / "synthetic" / "avg" / "seed1.tsv", 3.0)
    (bench / "broken.tsv").write_text("nothing here")
    stages = stage_times(bench)
    assert stages == {
        "evaluate": {"jobs": 1, "seconds": 3.0, "longest": 3.0},
        "train": {"jobs": 2, "seconds": 90.5, "longest": 50.5},
    }
    run = tmp_path / "results" / "synthetic" / "avg" / "seed1"
    run.mkdir(parents=True)
    (run / "train.json").write_text(json.dumps({"final": {"mAP": 0.3}, "untrained": {"mAP": 0.05}}))
    assert learning(tmp_path) == {"synthetic/avg/seed1": 6.0}
    figures = {
        "cpu": "AMD EPYC",
        "cores": 2,
        "model_alone_images_per_s": 124.0,
        "model_alone_before_after": [124.0, 124.0],
        "machine_command": "-m reid.bench train ...",
        "wall_s": 300.0,
        "normalised_wall_s": 600.0,
        "stages": stages,
        "learning": {"synthetic/avg/seed1": 6.0},
    }
    before = dict(figures, model_alone_images_per_s=62.0, wall_s=1200.0, stages={"train": {"seconds": 181.0}})
    text = report(figures, before)
    assert "normalised to 62 img/s: 600 s" in text
    assert "train" in text and "0.50" in text  # 90.5 s after, 181 s before
    assert "this one is 2.00x as fast" in text and "6.0x its untrained mAP" in text
