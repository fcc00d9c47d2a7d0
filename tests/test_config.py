import ast
import copy
import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from reid.config import (
    SCHEMA_PATH,
    ConfigError,
    TrainConfig,
    apply_overrides,
    complete,
    load_config,
    schema,
    train_config,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_recipe_is_the_schemas_train_section_with_its_defaults_and_types():
    train = schema()["properties"]["train"]["properties"]
    fields = dataclasses.fields(TrainConfig)
    assert [f.name for f in fields] == list(train)
    kinds = {"integer": int, "number": float, "boolean": bool, "string": str, "array": list}
    for f in fields:
        spec, value = train[f.name], getattr(TrainConfig(), f.name)
        assert f.type is (kinds[spec["type"]] if "type" in spec else type(spec["enum"][0])), f.name
        # 1.0, not 1, for a number: the run key and the weights digest hash the recipe's JSON
        assert value == spec["default"] and type(value) is f.type, f.name
    # a list default is each recipe's own, not one list shared by every TrainConfig
    assert TrainConfig().milestones is not TrainConfig().milestones


def _settings(node: dict, required=()):
    """(dotted key, its schema) of every setting a user may leave out: the top-level keys, the
    keys of its sections, and those of a claim entry."""
    for name, spec in node.get("properties", {}).items():
        if name not in required:
            yield name, spec
        if spec.get("type") == "object" and name != "datasets":
            yield from ((f"{name}.{k}", v) for k, v in _settings(spec, spec.get("required", ())))


def test_every_setting_has_its_default_in_the_schema():
    """A key a config may leave out has its default in the schema, the one place it is written:
    the workflow and the jobs fill it in from there (a dataset's options are the exception: a
    public set has no size, a synthetic one no path)."""
    root = schema()
    settings = list(_settings(root, root["required"]))
    settings += [
        (f"claims.declared[].{k}", v) for k, v in _settings(root["$defs"]["claim"], root["$defs"]["claim"]["required"])
    ]
    missing = [key for key, spec in settings if "default" not in spec]
    assert not missing, f"no default in the schema for {', '.join(missing)}"
    assert len(settings) > 50


def _fallbacks(path: Path, keys: set[str]) -> list[str]:
    """``x.get("key", fallback)`` and ``x.get("key") or fallback`` on a config key in a Python
    file: a default written a second time."""
    tree = ast.parse(path.read_text())
    ored = {
        id(v)
        for node in ast.walk(tree)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or)
        for v in node.values[:-1]
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in keys
            and (len(node.args) > 1 or id(node) in ored)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


# .get() with a fallback on a key that is also a config key's name, in code that does not read a
# config: records on disk (metrics.json, a checkpoint, the dataset's marker), reviewed one by one.
NOT_A_CONFIG = {
    ("reid/report/__init__.py", "m.get('device', '')"),  # a metrics.json's device
    ("reid/report/__init__.py", "{}).get('num_classes', '?')"),  # a Table 4 cost file's classifier size
    ("reid/report/tables.py", "p['latency'][d].get('device', d)"),  # a cost file's latency: the device's name
    ("reid/claims/cost.py", "timing.get('device', device)"),  # the same
    ("reid/claims/cost.py", "a.get('device', device)"),  # the same
}


def test_no_default_is_written_twice():
    """The package and the workflow read a completed config's keys as they are: a fallback of
    their own beside the schema's default is a second home that can drift from the first."""
    keys = {key.split(".")[-1].removeprefix("claims.declared[]") for key, _ in _settings(schema(), ())}
    keys |= set(schema()["$defs"]["claim"]["properties"]) | {"datasets", "variants", "seeds"}
    found = [f for path in sorted((ROOT / "reid").rglob("*.py")) for f in _fallbacks(path, keys)]
    found = [f for f in found if not any(f.startswith(file) and f.endswith(text) for file, text in NOT_A_CONFIG)]
    rules = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
    pattern = re.compile(r"\.get\(\s*[\"'](\w+)[\"']\s*(?:,|\)\s*or\b)")
    for path in rules:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found += [
                f"{path.relative_to(ROOT)}:{number}: {line.strip()}" for m in pattern.finditer(line) if m[1] in keys
            ]
    assert not found, "a default written outside the schema:\n" + "\n".join(found)


def test_snakemake_and_the_package_complete_a_config_alike():
    """The Snakefile's validate() fills in the defaults for the workflow, reid.config.complete
    for the jobs: the same config either way."""
    from snakemake.utils import validate

    configs = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "configs").glob("*.yaml"))]
    configs.append(
        {
            "datasets": {"synthetic": {}, "mine": {"path": "folder"}},
            "claims": {"declared": [{"id": "U1", "kind": "direction", "a": "max", "b": "avg", "metrics": "mAP"}]},
        }
    )
    for config in configs:
        by_snakemake = copy.deepcopy(config)
        validate(by_snakemake, str(SCHEMA_PATH))
        assert by_snakemake == complete(config)
    assert complete(configs[-1])["datasets"]["synthetic"] == {"size": "default", "seed": 0}
    assert complete(configs[-1])["claims"]["declared"][0]["higher"] is True
    assert complete(configs[-1])["train"] == dataclasses.asdict(TrainConfig())


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


def test_a_key_of_an_earlier_release_gets_its_new_name(tmp_path):
    """0.1's ``profile:`` (Table 4's settings) is ``cost:`` now: one line says so, from a file
    and in the workflow, instead of "unknown key"."""
    path = tmp_path / "old.yaml"
    path.write_text("datasets: {synthetic: {}}\nprofile: {runs: 3}\n")
    with pytest.raises(ConfigError, match=rf"config key 'profile' in {re.escape(str(path))} is now called 'cost'"):
        load_config(path)
