"""reid.data.prepare: the workflow's dataset step records ready or the error, never crashes on
a dataset that cannot be had, and jobs that need the data stop with the recorded error."""

import json
import re
import subprocess
import sys

import pytest

from reid.data.market import DatasetError
from reid.data.prepare import prepare, read_status, require_ready, write_status


def test_synthetic_is_rendered_and_recorded(tmp_path):
    status = prepare("synthetic", {"size": "tiny", "seed": 0}, tmp_path)
    assert status["ok"] and status["path"] == str(tmp_path / "synthetic")
    assert status["counts"]["query"]["images"] > 0 and status["counts"]["train"]["ids"] == 8
    assert len(status["fingerprint"]) == 16 and status["marker"]["seed"] == 0
    again = prepare("synthetic", {"size": "tiny", "seed": 0}, tmp_path)  # already there: same content
    assert again["fingerprint"] == status["fingerprint"]


def test_custom_folder_is_checked_in_place(tmp_path, tiny_synthetic):
    status = prepare("mine", {"path": str(tiny_synthetic)}, tmp_path)
    assert status["ok"] and status["path"] == str(tiny_synthetic)
    assert not (tmp_path / "mine").exists()


@pytest.mark.parametrize(
    "name, options, expected",
    [
        ("market1501", {"archive": "/nonexistent/Market-1501-v15.09.15.zip"}, "does not exist"),
        ("mine", {"path": "/nonexistent/folder"}, "/nonexistent/folder"),
        ("dukemtmcreid", {"archive": "/nonexistent/DukeMTMC-reID.zip"}, "does not exist"),
    ],
)
def test_a_missing_dataset_is_recorded_not_raised(tmp_path, name, options, expected):
    status = prepare(name, options, tmp_path / "data")
    assert status["ok"] is False and expected in status["error"]
    assert not (tmp_path / "data" / name).exists()
    write_status(tmp_path / "dataset.json", status)
    with pytest.raises(DatasetError, match=f"dataset '{name}' is not available") as err:
        require_ready(tmp_path / "dataset.json")
    assert expected in str(err.value)


def test_a_wrong_layout_is_recorded(tmp_path):
    (tmp_path / "mine" / "query").mkdir(parents=True)
    status = prepare("mine", {"path": str(tmp_path / "mine")}, tmp_path)
    assert status["ok"] is False and "bounding_box_train" in status["error"]


def test_an_unreadable_status_says_what_to_do(tmp_path):
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetError, match="delete it and rerun"):
        read_status(tmp_path / "dataset.json")
    (tmp_path / "dataset.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="not a dataset status"):
        read_status(tmp_path / "dataset.json")


def test_cli_records_failure_and_train_stops_with_it(tmp_path):
    config = json.dumps({"data_root": str(tmp_path / "data"), "datasets": {"mine": {"path": str(tmp_path / "none")}}})
    status = tmp_path / "results" / "mine" / "dataset.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reid",
            "data",
            "prepare",
            "mine",
            "--config-json",
            config,
            "--status",
            str(status),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "is not available" in done.stderr
    assert json.loads(status.read_text())["ok"] is False
    out = tmp_path / "results" / "mine" / "residual" / "seed1"
    done = subprocess.run(  # -X importtime: to see that it stopped before importing torch
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "reid",
            "train",
            "--config-json",
            config,
            "--dataset",
            "mine",
            "--variant",
            "residual",
            "--seed",
            "1",
            "--out",
            str(out),
            "--dataset-status",
            str(status),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "dataset 'mine' is not available" in done.stderr
    assert str(tmp_path / "none") in done.stderr and not out.exists()
    # The job stops before it imports torch, since that import is much of a job's start-up (see the
    # README's "Time" section) and a job without its dataset has no use for it.
    assert not re.search(r"\|\s+torch$", done.stderr, flags=re.M)
