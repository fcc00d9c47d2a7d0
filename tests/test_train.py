import csv
import dataclasses
import re

import numpy as np
import pytest
import torch

from reid.checkpoints import RunFolderError, load_checkpoint
from reid.cli import main as cli_main
from reid.config import TrainConfig
from reid.losses import paper_loss
from reid.models import build_model
from reid.train import TrainingDiverged, learning_rate, train


@pytest.fixture
def tiny_cfg(tiny_recipe, tmp_path):
    """``make(**changes)``: the tests' tiny recipe (conftest) at 2 epochs with a curve point each
    and the default 512-d embedding, its cache in this test's folder."""
    return lambda **changes: tiny_recipe(
        tmp_path / "cache", **{"epochs": 2, "eval_every": 1, "reduce_dim": 512, **changes}
    )


def test_learning_rate_schedule():
    cfg = TrainConfig()  # the paper's: 0.03, warmup 10 epochs from 0.01x, x0.1 at 40, 110, 150
    assert learning_rate(cfg, 0, 0.0) == pytest.approx(0.0003)
    assert learning_rate(cfg, 5, 0.0) == pytest.approx(0.03 * (0.01 + 0.99 * 0.5))
    assert learning_rate(cfg, 10) == pytest.approx(0.03)
    assert learning_rate(cfg, 39) == pytest.approx(0.03)
    assert learning_rate(cfg, 40) == pytest.approx(0.003)
    assert learning_rate(cfg, 110) == pytest.approx(0.0003)
    assert learning_rate(cfg, 150) == pytest.approx(0.00003)
    assert learning_rate(cfg, 219) == pytest.approx(0.00003)


def test_tiny_model_overfits_a_tiny_batch():
    torch.manual_seed(0)
    model = build_model("residual", num_classes=4, backbone="resnet18", reduce_dim=64)
    x = torch.randn(8, 3, 64, 32)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    first = None
    for _ in range(30):
        out = paper_loss(model.train()(x), y)
        opt.zero_grad()
        out["total"].backward()
        opt.step()
        first = first if first is not None else out["total"].item()
    assert out["total"].item() < 0.3 * first
    assert out["accuracy"].item() == 1.0


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


class Killed(Exception):
    """A job killed between two epochs, as a test stops a training."""


def killed_after(epochs, stop=Killed):
    """An ``on_epoch_end`` that stops the training after ``epochs`` trained epochs of this call,
    by raising ``stop`` (the untrained network's row, epoch 0, is not a trained epoch)."""
    trained = []

    def on_epoch_end(row):
        if row["epoch"] > 0:
            trained.append(row["epoch"])
        if len(trained) == epochs:
            raise stop

    return on_epoch_end


def test_same_seed_same_trajectory_and_outputs(tmp_path, tiny, tiny_cfg):
    cfg = tiny_cfg()
    a = train(cfg, tiny, "residual", seed=1, out=tmp_path / "a")
    b = train(cfg, tiny, "residual", seed=1, out=tmp_path / "b")
    rows_a, rows_b = _rows(tmp_path / "a" / "log.csv"), _rows(tmp_path / "b" / "log.csv")
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]
    assert [r["epoch"] for r in rows_a] == ["0", "1", "2"]  # epoch 0: the untrained network
    assert rows_a[0]["loss"] == "" and rows_a[0]["mAP"] != "" and float(rows_a[1]["loss"]) > 0
    assert a["untrained"]["mAP"] == float(rows_a[0]["mAP"])
    assert a["final"]["mAP"] == b["final"]["mAP"]
    model = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    assert model["variant"] == "residual" and model["config"]["backbone"] == "resnet10"
    assert {"commit", "torch", "device"} <= set(model["provenance"])
    c = train(cfg, tiny, "residual", seed=2, out=tmp_path / "c")
    assert [r["loss"] for r in _rows(tmp_path / "c" / "log.csv")] != [r["loss"] for r in rows_a]
    assert c["seed"] == 2


@pytest.mark.parametrize("variant, epsilon", [("plain_baseline", 0.05), ("residual", 0.2)])
def test_training_hands_each_variant_its_loss_options(tmp_path, tiny, tiny_cfg, monkeypatch, variant, epsilon):
    """What reaches equation (2) in a real training step: the config's margin, weights and the
    variant's own label smoothing, not the paper's defaults."""
    import reid.train

    seen = []

    def recording_loss(outputs, labels, **options):
        seen.append(options)
        return paper_loss(outputs, labels, **options)

    monkeypatch.setattr(reid.train, "paper_loss", recording_loss)
    cfg = tiny_cfg(eval_every=0, epochs=1, margin=0.7, label_smoothing=0.2, plain_label_smoothing=0.05, ce_weight=2.0)
    train(cfg, tiny, variant, seed=0, out=tmp_path / "run")
    assert seen and all(o == {"margin": 0.7, "epsilon": epsilon, "triplet_weight": 1.0, "ce_weight": 2.0} for o in seen)


def test_on_epoch_end_sees_each_row_of_the_log_once_its_checkpoint_is_written(tmp_path, tiny, tiny_cfg):
    """What a caller follows a run with (TensorBoard's writer is one such callback): each row of
    log.csv in order, the untrained network's first, and a trained epoch's only once the
    checkpoint a resume would read holds that epoch."""
    seen = []

    def on_epoch_end(row):
        state = load_checkpoint(tmp_path / "run")
        seen.append((row["epoch"], state["epoch"] if state else None))

    train(tiny_cfg(eval_every=1), tiny, "avg", seed=0, out=tmp_path / "run", on_epoch_end=on_epoch_end)
    assert seen == [(0, None), (1, 1), (2, 2)]
    assert [str(epoch) for epoch, _ in seen] == [r["epoch"] for r in _rows(tmp_path / "run" / "log.csv")]


def test_each_epochs_progress_line_says_where_the_run_is(tmp_path, tiny, tiny_cfg, capsys):
    """What `tail -f logs/train/...` shows during a run of hours: one JSON line per epoch with
    the epoch of how many, the loss, images/s, the time spent and an ETA for the run."""
    import json

    from reid.run_log import clock

    assert [clock(s) for s in (0, 59.6, 3600 * 27 + 61)] == ["0:00:00", "0:01:00", "27:01:01"]
    capsys.readouterr()
    train(tiny_cfg(epochs=3, eval_every=0, progress=True), tiny, "avg", seed=0, out=tmp_path / "run")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["epoch"], r["epochs"]) for r in lines] == [(1, 3), (2, 3), (3, 3)]
    assert all({"loss", "images_per_s", "elapsed", "eta"} <= set(r) for r in lines)
    assert lines[-1]["eta"] == "0:00:00" and all(re.fullmatch(r"\d+:\d\d:\d\d", r["eta"]) for r in lines)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, tiny, tiny_cfg, capsys):
    """Stopped by Ctrl-C after its first epoch, a run leaves the checkpoint of that epoch, and the
    same call resumes from it to the weights of an uninterrupted run."""
    cfg = tiny_cfg(epochs=3, eval_every=0)
    train(cfg, tiny, "max", seed=0, out=tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tiny, "max", seed=0, out=tmp_path / "cut", on_epoch_end=killed_after(1, KeyboardInterrupt))
    assert not (tmp_path / "cut" / "model.pt").exists()
    assert len(_rows(tmp_path / "cut" / "log.csv")) == 1
    assert load_checkpoint(tmp_path / "cut")["epoch"] == 1
    capsys.readouterr()
    train(cfg, tiny, "max", seed=0, out=tmp_path / "cut")
    assert f"resuming {tmp_path / 'cut'} after epoch 1" in capsys.readouterr().out
    full = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["state_dict"]
    cut = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)["state_dict"]
    assert full.keys() == cut.keys()
    for key in full:
        assert torch.equal(full[key], cut[key]), key
    assert _rows(tmp_path / "full" / "log.csv") != [] and [r["loss"] for r in _rows(tmp_path / "full" / "log.csv")] == [
        r["loss"] for r in _rows(tmp_path / "cut" / "log.csv")
    ]


@pytest.mark.parametrize("first, then", [("float32", "float16"), ("float16", "bfloat16")])
def test_a_resume_on_another_gpu_generation_changes_precision_and_goes_on(
    tmp_path, tiny, tiny_cfg, monkeypatch, capsys, first, then
):
    """amp: auto picks bf16 on a new GPU and fp16 (with a gradient scaler) on an old one, so a
    SLURM retry on another generation resumes in another precision. Faked here on the CPU, where
    both run: the resume keeps the epochs done, loads the scaler only where there is one to
    load (an empty one used to fail in GradScaler.load_state_dict), and the log and the model
    file say which precision ran when."""
    import reid.train
    from reid.runtime import Runtime

    class Fp16OnTheCpu(Runtime):
        """fp16 as training sees it (the name, and a gradient scaler that is on), with bf16's
        arithmetic: the CPU has no fast fp16 kernels (an epoch of the tiny recipe takes ten
        times as long), and what a resume must get right is the scaler. The real fp16 path is
        run by python -m reid.bench gpu."""

        @property
        def precision(self):
            return "float16"

        def grad_scaler(self):
            return torch.amp.GradScaler("cpu", enabled=True)

    cfg = tiny_cfg(epochs=2, eval_every=0)

    def runtime_in(precision):
        kind = Fp16OnTheCpu if precision == "float16" else Runtime
        fake = kind(torch.device("cpu"), amp=precision != "float32", amp_dtype=torch.bfloat16)
        assert fake.precision == precision
        monkeypatch.setattr(reid.train.Runtime, "from_config", classmethod(lambda cls, cfg, device=None: fake))

    runtime_in(first)
    with pytest.raises(Killed):
        train(cfg, tiny, "residual", seed=0, out=tmp_path / "run", on_epoch_end=killed_after(1))
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["precision"] == first and bool(state["scaler"]) == (first == "float16")
    runtime_in(then)
    capsys.readouterr()
    train(cfg, tiny, "residual", seed=0, out=tmp_path / "run")
    said = capsys.readouterr().out
    assert "resuming" in said and "training from the start" not in said
    if first != then:
        assert f"trained in {first} so far, resumed in {then}" in said
    rows = _rows(tmp_path / "run" / "log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"] and [r["precision"] for r in rows] == [first, then]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    model = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert model["provenance"]["precision"] == (first if first == then else f"{first}, {then}")


def test_restoring_the_scaler_across_precisions():
    from reid.train import restore_scaler

    on = torch.amp.GradScaler("cpu", enabled=True, init_scale=1024.0)
    assert restore_scaler(on, {"scaler": {}, "precision": "bfloat16"}, "float16").startswith(
        "trained in bfloat16 so far, resumed in float16 (this machine's choice); the gradient scaler starts afresh;"
    )
    assert on.get_scale() == 1024.0
    saved = torch.amp.GradScaler("cpu", enabled=True, init_scale=8.0).state_dict()
    assert restore_scaler(on, {"scaler": saved, "precision": "float16"}, "float16") == ""
    assert on.get_scale() == 8.0  # the same precision: the run's own scale goes on
    off = torch.amp.GradScaler("cpu", enabled=False)
    assert "resumed in bfloat16" in restore_scaler(off, {"scaler": saved, "precision": "float16"}, "bfloat16")
    assert restore_scaler(on, {"scaler": {}}, "float16") == ""  # a checkpoint from before the record: no note


def test_the_curves_per_query_hits_survive_a_resume(tmp_path, tiny, tiny_cfg):
    """curve.npz (each query's first hit at each evaluation: the R1-in-training claim counts the
    test set's people from it) of a resumed run equals an uninterrupted run's."""
    cfg = tiny_cfg(epochs=3, eval_every=1)
    train(cfg, tiny, "max", seed=0, out=tmp_path / "full")
    with pytest.raises(Killed):
        train(cfg, tiny, "max", seed=0, out=tmp_path / "cut", on_epoch_end=killed_after(2))
    (tmp_path / "cut" / "curve.npz").unlink()  # a killed job's outputs are removed
    train(cfg, tiny, "max", seed=0, out=tmp_path / "cut")
    with np.load(tmp_path / "full" / "curve.npz") as full, np.load(tmp_path / "cut" / "curve.npz") as cut:
        assert full["epochs"].tolist() == [0, 1, 2, 3] and full["first_hit"].shape == (4, len(tiny.query))
        assert full["q_pids"].tolist() == [s.pid for s in tiny.query]
        for key in ("epochs", "first_hit", "q_pids"):
            assert np.array_equal(full[key], cut[key]), key
    rank1 = [float(r["rank1"]) for r in _rows(tmp_path / "full" / "log.csv")]
    with np.load(tmp_path / "full" / "curve.npz") as full:  # the log's R1 is the mean of the hits
        assert np.allclose(rank1[1:], (full["first_hit"][1:] == 0).sum(1) / (full["first_hit"][1:] >= 0).sum(1))


def test_a_run_killed_while_writing_its_model_writes_every_output_on_resume(tmp_path, tiny, tiny_cfg, monkeypatch):
    """Killed after the last epoch's checkpoint, while writing model.pt: Snakemake removes the
    failed job's outputs (log.csv among them), and the rerun, with no epoch left to train, must
    still write both, equal to an uninterrupted run's (a fault trial found this)."""
    import reid.train as train_module
    from tools.faults import same_weights, weights

    cfg = tiny_cfg(epochs=2, eval_every=0)
    train(cfg, tiny, "avg", seed=0, out=tmp_path / "full")

    def killed(*args, **kwargs):
        raise RuntimeError("killed while writing model.pt")

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "save_model_file", killed)
        with pytest.raises(RuntimeError, match="killed"):
            train(cfg, tiny, "avg", seed=0, out=tmp_path / "cut")
    (tmp_path / "cut" / "log.csv").unlink()  # what Snakemake does to a failed job's outputs
    assert train(cfg, tiny, "avg", seed=0, out=tmp_path / "cut")["final"]["epoch"] == 2
    assert same_weights(weights(tmp_path / "full" / "model.pt"), weights(tmp_path / "cut" / "model.pt"))
    assert [r["loss"] for r in _rows(tmp_path / "cut" / "log.csv")] == [
        r["loss"] for r in _rows(tmp_path / "full" / "log.csv")
    ]
    assert len(_rows(tmp_path / "cut" / "log.csv")) == 2


def test_corrupt_checkpoint_falls_back_to_the_previous(tmp_path, tiny, capsys, tiny_cfg):
    cfg = tiny_cfg(epochs=3, eval_every=0)
    with pytest.raises(Killed):
        train(cfg, tiny, "avg", seed=0, out=tmp_path / "run", on_epoch_end=killed_after(2))
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"truncated")
    train(cfg, tiny, "avg", seed=0, out=tmp_path / "run")
    assert "unreadable" in capsys.readouterr().out
    train(cfg, tiny, "avg", seed=0, out=tmp_path / "ref")
    ref = torch.load(tmp_path / "ref" / "model.pt", weights_only=True)["state_dict"]
    got = torch.load(tmp_path / "run" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(ref[k], got[k]) for k in ref)


def test_checkpoint_of_another_variant_is_refused(tmp_path, tiny, tiny_cfg):
    cfg = tiny_cfg(epochs=2, eval_every=0)
    with pytest.raises(Killed):
        train(cfg, tiny, "avg", seed=0, out=tmp_path / "run", on_epoch_end=killed_after(1))
    with pytest.raises(RunFolderError, match="variant avg"):
        train(cfg, tiny, "residual", seed=0, out=tmp_path / "run")
    assert (tmp_path / "run" / "checkpoint.pt").exists() and not (tmp_path / "run" / "model.pt").exists()


def test_checkpoint_of_another_config_or_seed_is_not_resumed(tmp_path, tiny, capsys, tiny_cfg):
    cfg = tiny_cfg(epochs=2, eval_every=0)
    with pytest.raises(Killed):
        train(cfg, tiny, "max", seed=0, out=tmp_path / "run", on_epoch_end=killed_after(1))
    changed = dataclasses.replace(cfg, base_lr=cfg.base_lr / 2)
    train(changed, tiny, "max", seed=0, out=tmp_path / "run")  # the config changed: Snakemake reruns the job
    assert "training from the start" in capsys.readouterr().out
    train(changed, tiny, "max", seed=0, out=tmp_path / "fresh")
    got = torch.load(tmp_path / "run" / "model.pt", weights_only=True)["state_dict"]
    fresh = torch.load(tmp_path / "fresh" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(got[k], fresh[k]) for k in fresh)
    with pytest.raises(Killed):
        train(cfg, tiny, "max", seed=1, out=tmp_path / "seed", on_epoch_end=killed_after(1))
    train(cfg, tiny, "max", seed=2, out=tmp_path / "seed")
    assert "training from the start" in capsys.readouterr().out


def test_a_finished_run_keeps_model_pt_not_the_resume_points(tmp_path, tiny, tiny_cfg):
    train(tiny_cfg(epochs=2, eval_every=0), tiny, "avg", seed=0, out=tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["curve.npz", "log.csv", "model.pt", "train.json"]


def test_nan_loss_names_epoch_and_step(tmp_path, tiny, monkeypatch, tiny_cfg):
    import reid.train as train_module

    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        out = paper_loss(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            out["total"] = out["total"] * float("nan")
        return out

    monkeypatch.setattr(train_module, "paper_loss", poisoned)
    with pytest.raises(TrainingDiverged, match="epoch 1, step 2"):
        train(tiny_cfg(eval_every=0), tiny, "baseline", seed=0, out=tmp_path / "nan")
    assert not (tmp_path / "nan" / "checkpoint.pt").exists()


def test_cli_train_with_overrides(tmp_path, tiny_synthetic, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data_root: {tiny_synthetic.parent}\n"
        "datasets:\n  synthetic: {size: tiny}\n"
        "train: {backbone: resnet18, pretrained: none, height: 64, width: 32, batch_size: 8, num_instances: 2,"
        f" epochs: 5, eval_every: 0, progress: false, decode_workers: 1, cache_dir: {tmp_path / 'cache'}}}\n"
    )
    rc = cli_main(
        [
            "train",
            "--config",
            str(config),
            "--variant",
            "baseline",
            "--seed",
            "3",
            "--out",
            str(tmp_path / "run"),
            "--set",
            "epochs=1",
        ]
    )
    assert rc == 0 and len(_rows(tmp_path / "run" / "log.csv")) == 1
    assert (
        cli_main(
            [
                "train",
                "--config",
                str(config),
                "--variant",
                "baseline",
                "--out",
                str(tmp_path / "x"),
                "--set",
                "epochs=0",
            ]
        )
        == 2
    )
    assert "train.epochs" in capsys.readouterr().err
