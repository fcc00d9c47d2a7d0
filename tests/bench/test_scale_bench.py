"""python -m reid.bench scale prints an evaluation's time and peak memory at a given size."""

import json

from reid.bench.__main__ import main


def test_the_scale_benchmark_prints_time_memory_and_the_rerank_path(tmp_path, capsys, monkeypatch):
    import reid.evaluate

    out = tmp_path / "scale.json"
    argv = ["scale", "--num-query", "50", "--num-gallery", "300", "--num-ids", "20", "--dim", "16"]
    assert main([*argv, "--json", str(out)]) == 0
    plain = json.loads(out.read_text())
    assert plain["rerank_path"] is None and "--rerank" not in plain["command"]
    assert "--num-gallery 300" in plain["command"] and json.loads(capsys.readouterr().out) == plain
    assert main([*argv, "--rerank", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["rerank_path"] == "dense"
    # above the dense path's budget, the path the evaluation takes by itself, as at MSMT17's size
    monkeypatch.setattr(reid.evaluate, "DENSE_RERANK_BYTES", 0)
    assert main([*argv, "--rerank", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["rerank_path"] == "from features"
