"""Bad input, end to end: every case of the issue through the commands a user runs.

Each case runs ``python -m reid train|evaluate|data verify`` (``reid.cli.main`` in-process;
one case as a real subprocess) and checks three things: exit status 2 (a user error, not a
crash), a message on stderr that names the problem and what to do, and that no partial
result is left behind (no model.pt, metrics.json, per_query.npz, log.csv, train.json or
checkpoint in the run folder, no ``.tmp-*`` file anywhere, no half-written decode cache).

Unit-level tests of the same checks live beside their modules: tests/data/test_market.py,
tests/data/test_prepare.py, tests/data/test_cache.py, tests/test_config.py,
tests/test_train.py (checkpoint of another variant), tests/test_evaluate.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from reid.cli import main
from reid.config import SMOKE_RECIPE

RESULTS = ("model.pt", "metrics.json", "per_query.npz", "log.csv", "train.json", "checkpoint.pt", "checkpoint.prev.pt")
TINY_TRAIN = {**SMOKE_RECIPE, "device": "cpu"}  # the one tiny recipe, on the CPU
SPLITS = ("bounding_box_train", "query", "bounding_box_test")


# ---------------------------------------------------------------- helpers


def write_config(folder: Path, datasets: dict, data_root: Path | None = None, **train) -> Path:
    """A tiny config (cache inside ``folder``) as a YAML file; ``train`` updates the recipe."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "data_root": str(data_root or folder / "data"),
        "datasets": datasets,
        "train": dict(TINY_TRAIN, cache_dir=str(folder / "cache")) | train,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def custom(path: Path) -> dict:
    return {"mine": {"path": str(path)}}


def fails(capsys, *argv) -> str:
    """Run the command; it must exit 2 with one message and no traceback. Returns stderr."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: "), err
    return err


def says(err: str, *words: str) -> None:
    """Every word (a literal) is in the message."""
    for word in words:
        assert word in err, f"{word!r} not in: {err}"


def no_partial_results(*folders: Path) -> None:
    """No result, checkpoint or temporary file under any of ``folders`` (absent is fine)."""
    for folder in folders:
        if not folder.exists():
            continue
        left = [p for p in folder.rglob("*") if p.name in RESULTS or p.name.startswith(".tmp-")]
        assert not left, f"partial results left behind: {left}"


def cache_is_whole(cache: Path) -> None:
    """No temporary file in the decode cache, and every cache file there loads completely."""
    if not cache.exists():
        return
    assert not list(cache.glob(".tmp-*")), list(cache.iterdir())
    for file in cache.glob("*.npy"):
        array = np.load(file)
        assert array.dtype == np.uint8 and array.ndim == 4 and array.shape[1:] == (3, 64, 32), file


def copy_set(tiny_synthetic, tmp_path: Path, name: str = "set") -> Path:
    """A private copy of the session's tiny synthetic set, free to damage."""
    return Path(shutil.copytree(tiny_synthetic, tmp_path / name))


def pid_of(file: Path) -> str:
    return file.name.split("_")[0]


def images(root: Path, split: str) -> list[Path]:
    return sorted((root / split).glob("*.jpg"))


# ---------------------------------------------------------------- a trained model, once per module


@pytest.fixture(scope="module")
def trained(tiny_synthetic, tmp_path_factory):
    """An avg model trained for one epoch through the CLI (model.pt), and a training checkpoint
    of that variant made from its weights (what an interrupted avg run leaves: checkpoint.pt)."""
    folder = tmp_path_factory.mktemp("trained")
    config = write_config(folder, custom(tiny_synthetic))
    assert main(["train", "--config", str(config), "--variant", "avg", "--out", str(folder / "run")]) == 0
    model = folder / "run" / "model.pt"
    payload = torch.load(model, weights_only=True)
    checkpoint = folder / "avg-run" / "checkpoint.pt"
    checkpoint.parent.mkdir()
    torch.save(
        {
            "epoch": 1,
            "variant": "avg",
            "num_classes": payload["num_classes"],
            "run_key": "0" * 16,
            "model": payload["state_dict"],
            "optimizer": {"state": {}, "param_groups": []},
            "scaler": {},
            "history": [{"epoch": 1, "loss": 1.0}],
        },
        checkpoint,
    )
    return {"config": config, "model": model, "payload": payload, "checkpoint": checkpoint}


def evaluate_fails(capsys, trained, root: Path, out: Path) -> str:
    with pytest.warns(UserWarning, match="trained on dataset"):  # another dataset than the model's: says so
        return fails(
            capsys, "evaluate", "--checkpoint", trained["model"], "--dataset", "mine", "--path", root, "--out", out
        )


# ---------------------------------------------------------------- 1. missing dataset


@pytest.mark.parametrize(
    "datasets, words",
    [
        ({"synthetic": {"size": "tiny"}}, ["synthetic", "does not exist", "python -m reid data synth --root"]),
        ({"market1501": {}}, ["market1501", "does not exist", "python -m reid data fetch market1501 --root"]),
        ({"dukemtmcreid": {}}, ["dukemtmcreid", "does not exist", "--archive /path/to/DukeMTMC-reID.zip"]),
        ({"msmt17": {}}, ["msmt17", "does not exist", "--archive /path/to/MSMT17_V2.zip"]),
        # The config's boxes (here the schema's default) names the subset's folder, and the fetch
        # command installs both.
        ({"cuhk03_np": {}}, ["cuhk03_np/labeled does not exist", "fetch cuhk03_np --root", "cuhk03-np.zip"]),
        ({"cuhk03_np": {"boxes": "detected"}}, ["cuhk03_np/detected does not exist"]),
    ],
    ids=["synthetic", "market1501", "dukemtmcreid", "msmt17", "cuhk03_np", "cuhk03_np-detected"],
)
def test_missing_dataset_under_data_root(tmp_path, capsys, datasets, words):
    config = write_config(tmp_path, datasets, data_root=tmp_path / "empty")
    err = fails(capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run")
    says(err, str(tmp_path / "empty" / next(iter(datasets))), *words)
    err = fails(capsys, "evaluate", "--checkpoint", tmp_path / "model.pt", "--config", config, "--out", tmp_path / "ev")
    says(err, "does not exist", words[0])  # the dataset is checked before the model is read
    assert not (tmp_path / "run").exists() and not (tmp_path / "ev").exists()
    no_partial_results(tmp_path)


def test_missing_custom_dataset_path(tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "set"
    config = write_config(tmp_path, custom(missing))
    err = fails(capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run")
    says(err, f"dataset folder {missing} does not exist", "Point the config's dataset path at a folder")
    err = fails(capsys, "data", "verify", "mine", "--path", missing)
    says(err, f"dataset folder {missing} does not exist", "Market-1501 layout")
    assert not (tmp_path / "run").exists()
    no_partial_results(tmp_path)


# ---------------------------------------------------------------- 2. corrupt image


@pytest.mark.parametrize("split", ["bounding_box_train", "bounding_box_test"])
def test_corrupt_image_stops_training_and_names_the_file(tiny_synthetic, tmp_path, capsys, trained, split):
    root = copy_set(tiny_synthetic, tmp_path)
    bad = [f for f in images(root, split) if not f.name.startswith("-1_")][3]  # junk (-1) is never read
    bad.write_bytes(b"\x00garbage, not a JPEG" * 10)
    config = write_config(tmp_path, custom(root), eval_every=1)  # with evaluation: gallery decoded too
    err = fails(capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run")
    says(err, f"cannot decode image {bad}", "replace or remove the file")
    no_partial_results(tmp_path)
    cache = tmp_path / "cache"
    cache_is_whole(cache)  # splits decoded before the bad one are cached whole; the bad one not at all
    damaged = "-train-" if split == "bounding_box_train" else "-gallery-"
    assert not [f for f in cache.glob("*.npy") if damaged in f.name]
    if split == "bounding_box_test":  # evaluation decodes query and gallery: same message, no metrics
        err = evaluate_fails(capsys, trained, root, tmp_path / "ev")
        says(err, f"cannot decode image {bad}", "replace or remove the file")
        no_partial_results(tmp_path / "ev", tmp_path)
    cache_is_whole(Path(trained["payload"]["config"]["cache_dir"]))


# ---------------------------------------------------------------- 3. wrong layout


def test_missing_split_folder(tiny_synthetic, tmp_path, capsys):
    root = copy_set(tiny_synthetic, tmp_path)
    shutil.rmtree(root / "bounding_box_test")
    config = write_config(tmp_path, custom(root))
    for argv in (
        ["train", "--config", config, "--variant", "avg", "--out", tmp_path / "run"],
        ["data", "verify", "mine", "--path", root],
    ):
        err = fails(capsys, *argv)
        says(
            err,
            f"{root} is not in Market-1501 layout",
            "missing folder(s) bounding_box_test",
            "Expected bounding_box_train/, query/ and bounding_box_test/",
        )
    assert not (tmp_path / "run").exists()
    no_partial_results(tmp_path)


def test_badly_named_images(tiny_synthetic, tmp_path, capsys):
    root = copy_set(tiny_synthetic, tmp_path)
    shutil.copy(images(root, "query")[0], root / "query" / "holiday.jpg")
    images(root, "query")[1].rename(root / "query" / "c1_0007.jpg")
    config = write_config(tmp_path, custom(root))
    for argv in (
        ["train", "--config", config, "--variant", "avg", "--out", tmp_path / "run"],
        ["data", "verify", "mine", "--path", root],
    ):
        err = fails(capsys, *argv)
        says(
            err,
            "2 image(s) in",
            str(root / "query"),
            "not named like Market-1501",
            "c1_0007.jpg",
            "holiday.jpg",
            "Rename them or remove them",
        )
    assert not (tmp_path / "run").exists()
    no_partial_results(tmp_path)


# ---------------------------------------------------------------- 4. unknown variant, backbone, dataset


def test_unknown_variant_on_the_command_line(tiny_synthetic, tmp_path, capsys):
    config = write_config(tmp_path, custom(tiny_synthetic))
    with pytest.raises(SystemExit) as stop:  # argparse: exit status 2, the choices listed
        main(["train", "--config", str(config), "--variant", "foo", "--out", str(tmp_path / "run")])
    assert stop.value.code == 2
    says(
        capsys.readouterr().err,
        "argument --variant: invalid choice: 'foo'",
        "'baseline', 'plain_baseline', 'avg', 'max', 'residual'",
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "change, words",
    [
        (
            {"variants": ["avg", "foo"]},
            ["config key 'variants.1'", "'foo' is not one of", "'residual'", "a variant of the paper's Table 2"],
        ),
        (
            {"train": {"backbone": "resnet99"}},
            ["config key 'train.backbone'", "'resnet99' is not one of", "'resnet50'"],
        ),
        (
            {"datasets": {"market1051": {}}},
            [
                "config key 'datasets.market1051'",
                "'path' is a required property",
                "synthetic, market1501, dukemtmcreid, msmt17 and cuhk03_np",
                "typo",
            ],
        ),
        (
            {"datasets": {"mine": {}}},
            ["config key 'datasets.mine'", "'path' is a required property", "folder (in Market-1501 layout)"],
        ),
    ],
    ids=["variant", "backbone", "dataset-typo", "custom-without-path"],
)
def test_unknown_names_in_a_config(tiny_synthetic, tmp_path, capsys, change, words):
    config = write_config(tmp_path, custom(tiny_synthetic))
    content = yaml.safe_load(config.read_text())
    for key, value in change.items():
        content[key] = content[key] | value if key == "train" else value
    config.write_text(yaml.safe_dump(content))
    err = fails(capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run")
    says(err, f"(in {config})", *words)
    assert not (tmp_path / "run").exists()
    no_partial_results(tmp_path)


def test_unknown_names_through_set(tiny_synthetic, tmp_path, capsys):
    config = write_config(tmp_path, custom(tiny_synthetic))
    for item, words in (
        ("backbone=resnet99", ["config key 'train.backbone'", "'resnet99' is not one of"]),
        ("variants=[foo]", ["config key 'variants.0'", "'foo' is not one of"]),
        ("lr=0.1", ["config key 'train'", "'lr' was unexpected", "base_lr"]),
    ):
        err = fails(capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run", "--set", item)
        says(err, f"(from --set {item})", *words)
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- 5. zero or negative epochs


@pytest.mark.parametrize("epochs", [0, -3])
def test_epochs_zero_or_negative(tiny_synthetic, tmp_path, capsys, epochs):
    config = write_config(tmp_path, custom(tiny_synthetic), epochs=epochs)
    err = fails(capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run")
    says(err, "config key 'train.epochs'", f"(in {config})", f"{epochs} is less than the minimum of 1", "1 or more")
    config = write_config(tmp_path, custom(tiny_synthetic))
    err = fails(
        capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run", "--set", f"epochs={epochs}"
    )
    says(err, "config key 'train.epochs'", f"(from --set epochs={epochs})", "1 or more")
    assert not (tmp_path / "run").exists()
    no_partial_results(tmp_path)


def test_exit_status_of_the_real_command(tiny_synthetic, tmp_path):
    """The same through a process of its own: status 2, one line, no traceback."""
    config = write_config(tmp_path, custom(tiny_synthetic))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reid",
            "train",
            "--config",
            str(config),
            "--variant",
            "avg",
            "--out",
            str(tmp_path / "run"),
            "--set",
            "epochs=0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"REID_GPU_DEVICES": ""},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: config key 'train.epochs'") and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_full_disk_during_training_is_one_line_and_leaves_no_run_folder(tiny_synthetic, tmp_path):
    """A real full disk: a 1 MB tmpfs (mounting one needs root) holds the run folder; the first
    checkpoint (tens of MB) does not fit."""
    disk = tmp_path / "small disk"  # a space in the path too
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]).returncode:
        pytest.skip("mounting a small tmpfs needs root (the atomic writes' own test covers the rest)")
    try:
        config = write_config(tmp_path, custom(tiny_synthetic), backbone="resnet10")
        done = subprocess.run(
            [sys.executable, "-m", "reid", "train", "--config", str(config), "--variant", "avg"]
            + ["--out", str(disk / "results" / "run")],
            capture_output=True,
            text=True,
            timeout=300,
            env=os.environ | {"REID_GPU_DEVICES": ""},
        )
        assert done.returncode == 2, done.stderr[-3000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
        assert lines[0].startswith(f"error: no space left on the device to write {disk / 'results' / 'run'}")
        assert "MB" in lines[0] and "free" in lines[0]
        assert list(disk.iterdir()) == []  # no empty run folder, no temporary file
    finally:
        subprocess.run(["umount", str(disk)])


# ---------------------------------------------------------------- 6. a single camera


def test_single_camera_dataset(tiny_synthetic, tmp_path, capsys, trained):
    root = copy_set(tiny_synthetic, tmp_path)
    for split in SPLITS:
        for file in images(root, split):
            renamed = file.with_name(re.sub(r"_c\d+", "_c1", file.name, count=1))
            assert renamed == file or not renamed.exists()  # no two images may collapse into one name
            file.rename(renamed)
    config = write_config(tmp_path, custom(root), eval_every=1)
    err = fails(capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run")
    says(
        err,
        str(root),
        "no query can be evaluated under the Market-1501 protocol",
        "every query and gallery image is from the same camera (c1",
        "'_cN'",
    )
    err = fails(
        capsys,
        "evaluate",
        "--checkpoint",
        trained["model"],
        "--dataset",
        "mine",
        "--path",
        root,
        "--out",
        tmp_path / "ev",
    )
    says(err, "no query can be evaluated", "same camera (c1")
    assert not (tmp_path / "run").exists() and not (tmp_path / "ev").exists()
    no_partial_results(tmp_path)


# ---------------------------------------------------------------- 7. query identities absent from the gallery


def _drop_gallery_of(root: Path, pids: set[str]) -> None:
    for file in images(root, "bounding_box_test"):
        if pid_of(file) in pids:
            file.unlink()


def test_query_identities_absent_from_gallery(tiny_synthetic, tmp_path, capsys, trained):
    root = copy_set(tiny_synthetic, tmp_path)
    _drop_gallery_of(root, {pid_of(f) for f in images(root, "query")})
    config = write_config(tmp_path, custom(root), eval_every=1)
    err = fails(capsys, "train", "--config", config, "--variant", "avg", "--out", tmp_path / "run")
    says(
        err,
        str(root),
        "no query can be evaluated",
        "query identities",
        "has an image in bounding_box_test/",
        "Put gallery images of the query identities in bounding_box_test/",
    )
    err = fails(
        capsys,
        "evaluate",
        "--checkpoint",
        trained["model"],
        "--dataset",
        "mine",
        "--path",
        root,
        "--out",
        tmp_path / "ev",
    )
    says(err, "has an image in bounding_box_test/")
    assert not (tmp_path / "run").exists() and not (tmp_path / "ev").exists()
    no_partial_results(tmp_path)


def test_some_query_identities_absent_are_skipped_and_counted(tiny_synthetic, tmp_path, capsys, trained):
    from reid.data import load_dataset

    root = copy_set(tiny_synthetic, tmp_path)
    query_pids = sorted({pid_of(f) for f in images(root, "query")})
    _drop_gallery_of(root, set(query_pids[:2]))
    dataset = load_dataset("mine", path=root)  # loads: other queries still have a match
    cams = {}
    for s in dataset.gallery:
        cams.setdefault(s.pid, set()).add(s.camid)
    expected = sum(1 for q in dataset.query if not cams.get(q.pid, set()) - {q.camid})
    assert 0 < expected < len(dataset.query)
    with pytest.warns(UserWarning, match="trained on dataset"):
        code = main(
            [
                "evaluate",
                "--checkpoint",
                str(trained["model"]),
                "--dataset",
                "mine",
                "--path",
                str(root),
                "--out",
                str(tmp_path / "ev"),
            ]
        )
    out = capsys.readouterr().out
    assert code == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["num_skipped"] == expected and metrics["num_query"] == len(dataset.query)
    assert json.loads(out)["num_skipped"] == expected  # shown to the user too
    assert (tmp_path / "ev" / "per_query.npz").is_file()


# ---------------------------------------------------------------- 8. a checkpoint from another variant


def test_run_folder_holding_another_variants_checkpoint(tiny_synthetic, tmp_path, capsys, trained):
    run = Path(shutil.copytree(trained["checkpoint"].parent, tmp_path / "run"))
    before = (run / "checkpoint.pt").read_bytes()
    config = write_config(tmp_path, custom(tiny_synthetic))
    err = fails(capsys, "train", "--config", config, "--variant", "residual", "--out", run)
    says(
        err,
        f"{run} holds a checkpoint of variant avg, not residual",
        "use another --out",
        f"delete {run / 'checkpoint.pt'}",
    )
    assert (run / "checkpoint.pt").read_bytes() == before  # the other run's checkpoint is kept, untouched
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt"]  # and nothing was added beside it
    cache_is_whole(tmp_path / "cache")


def test_evaluate_refuses_a_training_checkpoint_or_a_non_model(tmp_path, capsys, trained, tiny_synthetic):
    not_model = tmp_path / "notes.pt"
    not_model.write_text("these are my notes, not a model\n")
    for checkpoint, words in (
        (trained["checkpoint"], ["is a training checkpoint (epoch 1), not a final model", "pass its model.pt"]),
        (not_model, [f"cannot read {not_model} as a model file", "not a checkpoint", "RUN_DIR/model.pt"]),
        (tmp_path / "missing.pt", [f"checkpoint {tmp_path / 'missing.pt'} does not exist", "RUN_DIR/model.pt"]),
    ):
        err = fails(
            capsys,
            "evaluate",
            "--checkpoint",
            checkpoint,
            "--dataset",
            "mine",
            "--path",
            tiny_synthetic,
            "--out",
            tmp_path / "ev",
        )
        says(err, *words)
    assert not (tmp_path / "ev").exists()
    no_partial_results(tmp_path)


@pytest.mark.parametrize("variant", ["max", "residual", "baseline"])
def test_evaluate_refuses_a_model_relabelled_as_another_variant(tmp_path, capsys, trained, tiny_synthetic, variant):
    edited = tmp_path / "model.pt"
    torch.save(dict(trained["payload"], variant=variant), edited)  # avg weights, labelled another variant
    err = fails(
        capsys,
        "evaluate",
        "--checkpoint",
        edited,
        "--dataset",
        "mine",
        "--path",
        tiny_synthetic,
        "--out",
        tmp_path / "ev",
    )
    # max has the very parameter names and shapes of avg: only the digest written with the weights tells
    says(err, str(edited), f"its variant ({variant}), config or weights were changed after training", "model.pt")
    assert not (tmp_path / "ev").exists()
    no_partial_results(tmp_path / "ev")


@pytest.mark.parametrize("variant", ["residual", "baseline"])
def test_evaluate_refuses_weights_that_do_not_fit_the_variant(tmp_path, capsys, trained, tiny_synthetic, variant):
    edited = tmp_path / "model.pt"
    payload = {k: v for k, v in trained["payload"].items() if k != "weights_sha256"}  # as older versions wrote
    torch.save(dict(payload, variant=variant), edited)
    err = fails(
        capsys,
        "evaluate",
        "--checkpoint",
        edited,
        "--dataset",
        "mine",
        "--path",
        tiny_synthetic,
        "--out",
        tmp_path / "ev",
    )
    says(
        err,
        str(edited),
        f"weights are not those of a {variant} network with resnet10",
        "missing",
        "unexpected",
        "train again",
    )
    assert not (tmp_path / "ev").exists()
    no_partial_results(tmp_path / "ev")
