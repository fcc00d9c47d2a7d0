import dataclasses
from pathlib import Path

import pytest
import yaml

from reid.config import SCHEMA_PATH, ConfigError, TrainConfig, apply_overrides, load_config, train_config

ROOT = Path(__file__).resolve().parents[1]


def test_every_recipe_key_is_in_the_schema():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert set(schema["properties"]["train"]["properties"]) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_overrides_bare_and_dotted():
    config = {"data_root": "d", "datasets": {"synthetic": {"size": "default"}}}
    out = apply_overrides(config, ["epochs=3", "milestones=[1, 2]", "datasets.synthetic.size=tiny", "data_root=x"])
    assert out["train"] == {"epochs": 3, "milestones": [1, 2]}
    assert out["datasets"]["synthetic"]["size"] == "tiny" and out["data_root"] == "x"
    assert config["datasets"]["synthetic"]["size"] == "default"  # input untouched
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(config, ["epochs"])


@pytest.mark.parametrize(
    "override, key",
    [
        ("epochs=0", "train.epochs"),
        ("epochs=-3", "train.epochs"),
        ("backbone=vgg16", "train.backbone"),
        ("amp=maybe", "train.amp"),
        ("learning_rate=0.1", "train"),
        ("datasets.synthetic.size=huge", "datasets.synthetic.size"),
    ],
)
def test_bad_values_name_the_key(tmp_path, override, key):
    path = tmp_path / "c.yaml"
    path.write_text("data_root: data\ndatasets: {synthetic: {}}\n")
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        load_config(path, [override])


def test_recipe_checks():
    with pytest.raises(ConfigError, match="num_instances"):
        train_config({"train": {"batch_size": 30, "num_instances": 4}})
    with pytest.raises(ConfigError, match="increasing"):
        train_config({"train": {"milestones": [50, 40]}})
    assert train_config({}).base_lr == 0.03


def test_shipped_configs_validate_and_set_what_they_say():
    paths = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(paths) >= 2  # the synthetic default and the paper's
    for path in paths:
        config = load_config(path)
        cfg = train_config(config)
        for key, value in (config.get("train") or {}).items():
            assert getattr(cfg, key) == value, f"{path.name}: train.{key}"


def test_each_variant_gets_its_own_loss_options():
    """Equation (2)'s settings as training hands them to paper_loss: the plain baseline (IDE's
    softmax) has its own label smoothing; every other variant has the paper's."""
    cfg = TrainConfig(margin=0.7, label_smoothing=0.2, plain_label_smoothing=0.05, triplet_weight=0.5, ce_weight=3.0)
    shared = {"margin": 0.7, "triplet_weight": 0.5, "ce_weight": 3.0}
    for variant in ("baseline", "avg", "max", "residual"):
        assert cfg.loss_options(variant) == {**shared, "epsilon": 0.2}, variant
    assert cfg.loss_options("plain_baseline") == {**shared, "epsilon": 0.05}
    assert TrainConfig().loss_options("plain_baseline")["epsilon"] == 0.0  # IDE's plain softmax by default


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("/nonexistent/config.yaml")
