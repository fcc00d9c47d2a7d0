"""train.tensorboard: each epoch's scalars written for TensorBoard under the run's folder, the
same numbers as log.csv; without the extra, one line that says how to get it."""

import csv
import sys

import pytest

from reid.config import ConfigError
from reid.tensorboard import FOLDER, TAGS
from reid.train import train


def test_each_epochs_scalars_are_log_csvs_numbers(tiny, tiny_recipe, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    train(tiny_recipe(tmp_path / "cache", epochs=2, eval_every=1, tensorboard=True), tiny, "avg", 1, run)
    events = EventAccumulator(str(run / FOLDER))
    events.Reload()
    with open(run / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]  # the untrained network, then each epoch
    for column, tag in TAGS.items():
        logged = {int(r["epoch"]): float(r[column]) for r in rows if r[column] != ""}
        written = {e.step: e.value for e in events.Scalars(tag)}
        assert written.keys() == logged.keys(), tag
        assert all(written[step] == pytest.approx(value, rel=1e-6) for step, value in logged.items()), tag
    assert set(events.Tags()["scalars"]) == set(TAGS.values())


def test_without_the_extra_the_training_stops_before_any_work_and_says_how_to_get_it(
    tiny, tiny_recipe, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"train.tensorboard.*pip install -e \"\.\[tensorboard\]\"") as err:
        train(tiny_recipe(tmp_path / "cache", tensorboard=True), tiny, "avg", 1, tmp_path / "run")
    assert "\n" not in str(err.value) and not (tmp_path / "run").exists()
