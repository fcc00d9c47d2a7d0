import json

import numpy as np
import pytest
import torch

from reid.checkpoints import CheckpointError
from reid.cli import main as cli_main
from reid.evaluate import evaluate_checkpoint

KEYS = {
    "R1",
    "R5",
    "R10",
    "mAP",
    "mAP_official",
    "mINP",
    "cmc",
    "num_query",
    "num_skipped",
    "distance",
    "rerank",
    "flip",
    "timings",
    "checkpoint",
    "variant",
    "dataset",
    "dataset_fingerprint",
    "device",
}


@pytest.fixture(scope="module")
def model_file(one_epoch_models):
    return one_epoch_models["residual"]


def _check_outputs(out, tiny, metrics):
    written = json.loads((out / "metrics.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    assert KEYS <= set(written)
    for key in ("R1", "R5", "R10", "mAP", "mAP_official", "mINP"):
        assert 0.0 <= written[key] <= 1.0, key
    assert written["R1"] <= written["R5"] <= written["R10"]
    assert written["num_query"] == len(tiny.query) and written["variant"] == "residual"
    per = np.load(out / "per_query.npz")
    nq = len(tiny.query)
    assert per["ap"].shape == per["first_hit"].shape == per["q_pids"].shape == per["q_camids"].shape == (nq,)
    assert per["top10"].shape == (nq, 10) and per["top10"].max() < len(tiny.gallery)
    assert per["q_paths"].shape == (nq,) and per["g_paths"].shape == (len(tiny.gallery),)
    valid = per["first_hit"] >= 0
    assert written["num_skipped"] == int((~valid).sum())
    assert written["mAP"] == pytest.approx(per["ap"][valid].mean())
    assert written["R1"] == pytest.approx((per["first_hit"][valid] == 0).mean())
    # the ranked list agrees with the metric: the first true match sits at first_hit
    g_pids, g_cams = per["g_pids"], per["g_camids"]
    for q in np.flatnonzero(valid & (per["first_hit"] < 10)):
        top = per["top10"][q]
        match = (g_pids[top] == per["q_pids"][q]) & (g_cams[top] != per["q_camids"][q]) & (top >= 0)
        assert np.argmax(match) == per["first_hit"][q] and match.any()
    return written, per


def test_evaluate_writes_metrics_and_per_query(tmp_path, tiny, model_file):
    metrics = evaluate_checkpoint(model_file, tiny, tmp_path / "ev", device="cpu")
    written, _ = _check_outputs(tmp_path / "ev", tiny, metrics)
    assert written["rerank"] is False and written["distance"] == "euclidean" and written["flip"] is False
    assert {"extract_s", "distance_s", "metric_s"} <= set(written["timings"]) and "rerank_s" not in written["timings"]
    assert written["dataset_fingerprint"] == torch.load(model_file, weights_only=True)["dataset_fingerprint"]
    assert written["device"].startswith("cpu")


def test_evaluate_with_rerank_uses_k_reciprocal(tmp_path, tiny, model_file, monkeypatch):
    import reid.evaluate
    from reid.metrics import cmc_map

    calls = []
    real = reid.evaluate.k_reciprocal

    def spy(q_g, q_q, g_g, **kw):
        out = real(q_g, q_q, g_g, **kw)
        calls.append((tuple(q_g.shape), tuple(q_q.shape), tuple(g_g.shape), out))
        return out

    monkeypatch.setattr(reid.evaluate, "k_reciprocal", spy)  # the name evaluate calls
    metrics = evaluate_checkpoint(model_file, tiny, tmp_path / "rr", rerank=True, device="cpu")
    written, per = _check_outputs(tmp_path / "rr", tiny, metrics)
    nq, ng = len(tiny.query), len(tiny.gallery)
    # the chosen distance first, then the other reading of it (for the sensitivity table)
    assert [c[:3] for c in calls] == [((nq, ng), (nq, nq), (ng, ng))] * 2
    assert written["rerank"] is True and "rerank_s" in written["timings"]
    ids = (
        [s.pid for s in tiny.query],
        [s.pid for s in tiny.gallery],
        [s.camid for s in tiny.query],
        [s.camid for s in tiny.gallery],
    )
    assert written["mAP"] == pytest.approx(cmc_map(calls[0][3], *ids)["mAP"])
    assert written["by_distance"]["normalized"]["mAP"] == pytest.approx(cmc_map(calls[1][3], *ids)["mAP"])
    assert written["by_distance"]["raw"]["mAP"] == written["mAP"]
    np.testing.assert_array_equal(per["ap_raw"], per["ap"])


def test_a_large_evaluation_re_ranks_from_the_features_in_bounded_memory(tmp_path, tiny, model_file, monkeypatch):
    """Above DENSE_RERANK_BYTES (MSMT17's size) the evaluation re-ranks from the features, a block
    at a time, by itself: the same euclidean result as the dense path, and metrics.json says so."""
    import reid.evaluate
    from reid.evaluate import rerank_path

    assert rerank_path(3368, 15913) == "dense" and rerank_path(11659, 82161) == "from features"  # Market, MSMT17
    dense = evaluate_checkpoint(model_file, tiny, tmp_path / "dense", rerank=True, device="cpu")
    monkeypatch.setattr(reid.evaluate, "DENSE_RERANK_BYTES", 0)
    monkeypatch.setattr(reid.evaluate, "k_reciprocal", None)  # The dense path must not run at all.
    blocked = evaluate_checkpoint(model_file, tiny, tmp_path / "blocked", rerank=True, device="cpu")
    assert dense["rerank_path"] == "dense" and blocked["rerank_path"] == "from features"
    for key in ("mAP", "R1", "R5", "mINP"):
        assert blocked[key] == pytest.approx(dense[key], abs=1e-6)
    for reading in ("raw", "normalized"):  # both readings of the distance, the cosine one too
        for key in ("mAP", "R1", "mINP"):
            assert blocked["by_distance"][reading][key] == pytest.approx(dense["by_distance"][reading][key], abs=1e-6)
    assert "distance_s" not in blocked["timings"] and "rerank_s" in blocked["timings"]


def test_both_readings_of_the_distance_are_written(tmp_path, tiny, model_file):
    from reid.features import cosine_distances, euclidean_distances

    raw = evaluate_checkpoint(model_file, tiny, tmp_path / "raw", device="cpu")
    cos = evaluate_checkpoint(model_file, tiny, tmp_path / "cos", distance="cosine", device="cpu")
    assert raw["by_distance"] == cos["by_distance"]  # the same two readings, whichever is chosen
    assert cos["mAP"] == cos["by_distance"]["normalized"]["mAP"] and raw["mAP"] == raw["by_distance"]["raw"]["mAP"]
    per = np.load(tmp_path / "raw" / "per_query.npz")
    np.testing.assert_array_equal(per["first_hit_normalized"], np.load(tmp_path / "cos" / "per_query.npz")["first_hit"])
    # L2-normalised euclidean ranks as cosine does
    q, g = torch.randn(5, 8), torch.randn(7, 8)
    normed = euclidean_distances(torch.nn.functional.normalize(q), torch.nn.functional.normalize(g))
    assert torch.equal(normed.argsort(1), cosine_distances(q, g).argsort(1))


def test_flip_and_cosine_are_recorded(tmp_path, tiny, model_file):
    metrics = evaluate_checkpoint(model_file, tiny, tmp_path / "fc", flip=True, distance="cosine", device="cpu")
    written, _ = _check_outputs(tmp_path / "fc", tiny, metrics)
    assert written["flip"] is True and written["distance"] == "cosine"


@pytest.mark.parametrize(
    "content,message",
    [
        (b"\x00garbage, not a torch file", "cannot read"),
        ({"weights": 1}, "not a model.pt"),
        ({"epoch": 1, "model": {}, "optimizer": {}, "variant": "residual", "num_classes": 3}, "training checkpoint"),
        (None, "does not exist"),
    ],
)
def test_bad_checkpoint_is_a_clear_error(tmp_path, tiny, content, message):
    path = tmp_path / "model.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(CheckpointError, match=message):
        evaluate_checkpoint(path, tiny, tmp_path / "out", device="cpu")
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_weights_that_do_not_fit_are_a_clear_error(tmp_path, tiny, model_file):
    payload = torch.load(model_file, weights_only=True)
    payload["config"]["reduce_dim"] = 64  # the network it describes is not the one saved
    torch.save(payload, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="changed after training"):
        evaluate_checkpoint(tmp_path / "model.pt", tiny, tmp_path / "out", device="cpu")
    del payload["weights_sha256"]  # a model file without the digest: the shapes still tell
    torch.save(payload, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="weights are not those of a residual network"):
        evaluate_checkpoint(tmp_path / "model.pt", tiny, tmp_path / "out", device="cpu")
    assert not (tmp_path / "out").exists()


def test_other_dataset_fingerprint_warns(tmp_path, tiny, model_file):
    payload = torch.load(model_file, weights_only=True)
    payload["dataset_fingerprint"] = "0123456789abcdef"
    torch.save(payload, tmp_path / "model.pt")
    with pytest.warns(UserWarning, match="0123456789abcdef"):
        metrics = evaluate_checkpoint(tmp_path / "model.pt", tiny, tmp_path / "out", device="cpu")
    assert metrics["checkpoint_dataset_fingerprint"] == "0123456789abcdef"
    assert (tmp_path / "out" / "metrics.json").exists()


def test_cli_evaluate(tmp_path, tiny_synthetic, model_file, capsys):
    out = tmp_path / "cli"
    assert (
        cli_main(
            [
                "evaluate",
                "--checkpoint",
                str(model_file),
                "--dataset",
                "synthetic",
                "--path",
                str(tiny_synthetic),
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["mAP"] == json.loads((out / "metrics.json").read_text())["mAP"]
    # the dataset found through a config, as the workflow passes it
    config = tmp_path / "c.yaml"
    config.write_text(f"data_root: {tiny_synthetic.parent}\ndatasets:\n  {tiny_synthetic.name}: {{size: tiny}}\n")
    assert (
        cli_main(
            [
                "evaluate",
                "--checkpoint",
                str(model_file),
                "--config",
                str(config),
                "--rerank",
                "--out",
                str(tmp_path / "cfg"),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "cfg" / "metrics.json").read_text())["rerank"] is True
    capsys.readouterr()


@pytest.mark.parametrize(
    "case,message",
    [
        ("garbage", "cannot read"),
        ("no_location", "--data-root"),
        ("missing_dataset", "does not exist"),
    ],
)
def test_cli_user_errors_exit_2(tmp_path, tiny_synthetic, model_file, capsys, case, message):
    checkpoint, where = str(model_file), ["--path", str(tiny_synthetic)]
    if case == "garbage":
        (tmp_path / "bad.pt").write_bytes(b"not a model")
        checkpoint = str(tmp_path / "bad.pt")
    elif case == "no_location":
        where = []
    else:
        where = ["--data-root", str(tmp_path / "nowhere")]
    rc = cli_main(
        [
            "evaluate",
            "--checkpoint",
            checkpoint,
            "--dataset",
            "synthetic",
            *where,
            "--out",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.fixture(scope="module")
def model_with_features(tiny, tiny_recipe, tmp_path_factory):
    """A one-epoch residual run whose last evaluation left its features.pt."""
    from reid.train import train

    tmp = tmp_path_factory.mktemp("with_features")
    train(tiny_recipe(tmp / "cache", backbone="resnet18", eval_every=1), tiny, "residual", seed=0, out=tmp / "run")
    return tmp / "run" / "model.pt"


def test_features_of_the_training_are_reused_and_give_the_same_result(tmp_path, tiny, model_with_features):
    from reid.features import FEATURES_FILE

    features = model_with_features.parent / FEATURES_FILE
    assert features.is_file()
    for rerank in (False, True):
        reused = evaluate_checkpoint(
            model_with_features, tiny, tmp_path / f"reused{rerank}", rerank=rerank, device="cpu"
        )
        assert reused["features"] == "from the training's last evaluation" and "extract_s" not in reused["timings"]
        saved = features.read_bytes()
        features.unlink()
        try:
            fresh = evaluate_checkpoint(
                model_with_features, tiny, tmp_path / f"fresh{rerank}", rerank=rerank, device="cpu"
            )
        finally:
            features.write_bytes(saved)
        assert fresh["features"] == "extracted" and "extract_s" in fresh["timings"]
        for key in ("R1", "R5", "R10", "mAP", "mINP", "cmc"):
            assert reused[key] == pytest.approx(fresh[key], abs=1e-6), key
        for reading, values in fresh["by_distance"].items():
            assert reused["by_distance"][reading] == pytest.approx(values, abs=1e-6), reading
        a, b = (
            np.load(tmp_path / f"reused{rerank}" / "per_query.npz"),
            np.load(tmp_path / f"fresh{rerank}" / "per_query.npz"),
        )
        np.testing.assert_allclose(a["ap"], b["ap"], atol=1e-6)
        np.testing.assert_array_equal(a["first_hit"], b["first_hit"])


def test_the_training_scores_its_epochs_as_evaluate_does(tmp_path, tiny, model_with_features):
    """One evaluation path: the last row of the training's log.csv holds the R1 and mAP that
    python -m reid evaluate finds for its model file, so Figure 5's curves end where the results
    tables start."""
    import csv

    metrics = evaluate_checkpoint(model_with_features, tiny, tmp_path / "ev", device="cpu")
    with open(model_with_features.parent / "log.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    assert float(last["rank1"]) == round(metrics["R1"], 6) and float(last["mAP"]) == round(metrics["mAP"], 6)


def test_features_of_other_settings_or_damaged_are_extracted_again(tmp_path, tiny, model_with_features):
    from reid.features import FEATURES_FILE

    copy = tmp_path / "run"
    copy.mkdir()
    (copy / "model.pt").write_bytes(model_with_features.read_bytes())
    saved = (model_with_features.parent / FEATURES_FILE).read_bytes()
    (copy / FEATURES_FILE).write_bytes(saved)
    # another extraction (flip) than the training's: not the same features
    assert (
        evaluate_checkpoint(copy / "model.pt", tiny, tmp_path / "f", flip=True, device="cpu")["features"] == "extracted"
    )
    (copy / FEATURES_FILE).write_bytes(saved[: len(saved) // 2])  # truncated: a shortcut missed, not an error
    assert evaluate_checkpoint(copy / "model.pt", tiny, tmp_path / "t", device="cpu")["features"] == "extracted"
    # features whose key names other weights (an older training's, left beside new weights)
    stale = torch.load(model_with_features.parent / FEATURES_FILE, weights_only=True)
    stale["key"]["weights_sha256"] = "0" * 64
    torch.save(stale, copy / FEATURES_FILE)
    assert evaluate_checkpoint(copy / "model.pt", tiny, tmp_path / "s", device="cpu")["features"] == "extracted"
