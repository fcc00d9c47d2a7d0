"""python -m reid.bench scale prints an evaluation's time and peak memory at a given size."""

import json

from reid.bench.__main__ import main


def test_the_scale_benchmark_prints_time_memory_and_the_rerank_path(tmp_path, capsys):
    out = tmp_path / "scale.json"
    argv = ["scale", "--num-query", "50", "--num-gallery", "300", "--num-ids", "20", "--dim", "16", "--rerank"]
    assert main([*argv, "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["rerank_path"] == "dense" and figures["seconds"] >= 0
    assert figures["peak_memory_GB"] >= figures["peak_memory_before_scoring_GB"] > 0
    assert "--num-gallery 300" in figures["command"] and json.loads(capsys.readouterr().out) == figures
