"""This module reads the configuration: one YAML file per config (configs/*.yaml), validated
against one JSON schema.

The schema (reid/resources/config.schema.yaml) is the one home of every key: its type, its
bounds, its default, and the paper's reading where the paper is garbled or silent. Everything
else is derived from it, so that nothing is declared twice: ``complete`` fills a config's missing keys with the defaults (as
Snakemake's ``validate`` does for the workflow), and ``TrainConfig`` has one field per key of
the ``train:`` section, with the schema's default. Code reads a completed config's keys
directly, never with a fallback of its own, and tests/test_config.py fails on one.

A config file holds the workflow's choices (``data_root``, ``datasets``, ``variants``,
``seeds``) and the training recipe (``train:``). ``python -m reid train --set KEY=VALUE``
overrides any value: a bare KEY names a key of ``train:`` (or a top-level key,
``variants=[avg]``), a dotted one (``datasets.synthetic.size``) any key of the file. A bad
value stops with a ConfigError naming the key, where the value came from (the file or the
``--set``) and what is expected there.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).parent / "resources" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range; the message names the key, so that it can be fixed."""


@functools.cache
def _parsed_schema() -> dict:
    # The C loader is used where PyYAML has one, because every job and the Snakefile read the schema.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SCHEMA_PATH.read_text(), Loader=loader)


def schema() -> dict:
    """Return the parsed config schema as a fresh copy, because callers may change it."""
    return copy.deepcopy(_parsed_schema())


def default(key: str):
    """Return the schema's default of a dotted key, e.g. ``default("claims.tolerance")``."""
    node = _parsed_schema()
    for part in key.split("."):
        node = node["properties"][part]
    return copy.deepcopy(node["default"])


_PYTHON_TYPES = {"integer": int, "number": float, "boolean": bool, "string": str, "array": list, "object": dict}


def _python_type(spec: dict) -> type:
    """Return the Python type a schema property holds, for the dataclass field's annotation."""
    if "type" in spec:
        return _PYTHON_TYPES[spec["type"]]
    return type(spec["enum"][0])


def _fields_from_schema(cls):
    """Make ``cls`` a dataclass with one field per key of the schema's ``train:`` section, in
    the schema's order, with its default, so that the recipe's keys are declared once, in the schema."""
    annotations = {}
    for name, spec in _parsed_schema()["properties"]["train"]["properties"].items():
        annotations[name] = _python_type(spec)
        value = spec["default"]
        setattr(
            cls,
            name,
            field(default_factory=functools.partial(copy.deepcopy, value))
            if isinstance(value, (list, dict))
            else value,
        )
    cls.__annotations__ = annotations
    return dataclass(cls)


@_fields_from_schema
class TrainConfig:
    """This is the training recipe. It has the schema's ``train:`` keys as fields, and says what
    each variant takes of them. Their defaults are the paper's, and the schema says where each
    comes from."""

    def loss_options(self, variant: str = "residual") -> dict:
        """Return equation (2)'s settings for a variant, as paper_loss's keywords."""
        smoothing = self.plain_label_smoothing if variant == "plain_baseline" else self.label_smoothing
        return {
            "margin": self.margin,
            "epsilon": smoothing,
            "triplet_weight": self.triplet_weight,
            "ce_weight": self.ce_weight,
        }

    def model_options(self, variant: str = "residual") -> dict:
        if variant == "plain_baseline":  # It has nothing to choose: a pooled feature and a linear classifier.
            return {}
        if variant == "baseline":  # BoT's head has no fusion, so only the embedding is chosen.
            return {"embedding": self.embedding}
        return {
            "reduce_dim": self.reduce_dim,
            "reduce_act": self.reduce_act,
            "flatten_scale3": self.flatten_scale3,
            "embedding": self.embedding,
            "triplet_on": self.triplet_on,
        }


# The smallest recipe that trains (ResNet10 from scratch at 64x32, batches of 2 identities x 4
# images, one epoch, no evaluation): for checks that must run in seconds on any machine. It is
# the one tiny recipe of the device script (python -m reid.bench gpu), the tests and the fault
# trials (tools/faults.py); each adds on top only what its check needs, such as more epochs or
# evaluation. It is not a recipe for results.
SMOKE_RECIPE = dict(
    backbone="resnet10",
    pretrained="none",
    height=64,
    width=32,
    pad=3,  # This scales the paper's 10 px at 144 wide to 32 wide, as configs/config.yaml does.
    batch_size=8,
    num_instances=2,
    epochs=1,
    eval_every=0,
    progress=False,
    decode_workers=1,
    warmup_epochs=1,
    milestones=[1],
    base_lr=0.01,
    reduce_dim=32,
)


@functools.cache
def _filling_validator_class():
    """Return jsonschema's validator of this schema's draft, extended to set each missing
    property that has a default as it validates, as Snakemake's ``validate(config, schema)``
    does (snakemake.utils), so that the workflow and the jobs complete a config alike."""
    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, spec):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, properties, instance, spec)

    return jsonschema.validators.extend(base, {"properties": properties_with_defaults})


def _fill_and_check(value, subschema: dict) -> list:
    """Fill in the defaults of ``value`` in place and return its errors against ``subschema``
    (with the schema's $defs), sorted by key path: one pass does both."""
    validator = _filling_validator_class()({"$defs": _parsed_schema()["$defs"], **subschema})
    return sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))


# This maps top-level keys of an earlier release to their names now, so that an old config gets a
# line that says what to rename instead of "unknown key".
RENAMED = {"profile": "cost"}  # 0.1's Table 4 settings moved, because "profile" now means a Snakemake profile only.


def check_renamed(config: dict, source: str = "") -> None:
    """Raise a ConfigError for a key of an earlier release (RENAMED) that names its new name."""
    for old, new in RENAMED.items():
        if old in config:
            where = f" in {source}" if source else ""
            raise ConfigError(f"config key '{old}'{where} is now called '{new}': rename it (CHANGELOG, 0.2)")


def complete(config: dict, source: str = "", overridden: dict[str, str] | None = None) -> dict:
    """Return a whole config validated against the schema, with every missing key that has a
    default set to it. The result is a new dict, and ``config`` is left as it is. A bad value
    raises a ConfigError that names the key.

    ``source`` (the file, or ``--config-json``) and ``overridden`` (dotted key -> the ``--set``
    item that gave it) say where the bad value came from; the schema's description of the key
    is added as the hint of what to write instead.
    """
    check_renamed(config, source)
    config = copy.deepcopy(config)
    errors = _fill_and_check(config, _parsed_schema())
    if errors:
        raise ConfigError(_message(errors[0], source, overridden))
    return config


def _message(err, source: str, overridden: dict[str, str] | None) -> str:
    """Return one line that gives the bad key, where its value came from, what is wrong and what to write."""
    path = [str(p) for p in err.absolute_path]
    where = ".".join(path) or "(top level)"
    spec = err.schema if isinstance(err.schema, dict) else {}
    # These are the keys the bad value sits at; an unknown key is one level below the error's path.
    bad = [path]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        bad = [path + [str(k)] for k in err.instance if k not in spec.get("properties", {})] or bad
    origin = f"in {source}" if source else ""
    for key, item in (overridden or {}).items():
        parts = key.split(".")
        if any(b[: len(parts)] == parts for b in bad):
            origin = f"from --set {item}"
    message = f"config key '{where}'{f' ({origin})' if origin else ''}: {err.message}"
    if err.validator == "additionalProperties" and spec.get("properties"):
        message += f"; the known keys here are {', '.join(spec['properties'])}"
    elif path and spec.get("description"):
        message += f"; expected {' '.join(spec['description'].split())}"
    return message


def complete_part(value, pointer: str, source: str):
    """Return ``value`` validated against one part of the schema, e.g. ``#/$defs/claim`` or
    ``#/properties/train``, as a new value with its defaults filled in. A bad one raises a
    ConfigError that names the entry and the key."""
    value = copy.deepcopy(value)
    subschema = _parsed_schema()  # It is only read here.
    for part in pointer.removeprefix("#/").split("/"):
        subschema = subschema[part]
    errors = _fill_and_check(value, subschema)
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise ConfigError(f"{source}, at {where}: {errors[0].message}")
    return value


def _yaml_problem(err: yaml.YAMLError) -> str:
    """Return a YAML error in one line that says what is wrong and where."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(err).split())


def _override_path(config: dict, key: str) -> list[str]:
    """Return where ``--set KEY=VALUE`` puts VALUE. A bare key is a key of the file itself when
    the file holds it or it is a top-level key of the schema (``variants=[avg]``); otherwise it is
    a ``train:`` key."""
    path = key.split(".")
    if len(path) == 1:
        top = key in config or key in schema()["properties"]
        path = ["train", key] if not top or key == "train" else path
    return path


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    """Apply ``KEY=VALUE`` pairs, with VALUE parsed as YAML (``epochs=2``, ``milestones=[5,8]``)."""
    config = copy.deepcopy(config)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got '{item}'")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as err:
            raise ConfigError(
                f"--set {item}: the value is not valid YAML ({_yaml_problem(err)}); quote it or fix its brackets"
            ) from err
        path = _override_path(config, key)
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: '{part}' is not a section")
        node[path[-1]] = value
    return config


def load_config(path: str | Path | None, overrides: list[str] | None = None, text: str | None = None) -> dict:
    """Read a config file (or ``text``, the same content as JSON/YAML, or nothing), apply ``--set``
    overrides, validate, and fill in the defaults. The workflow passes each job its part of the
    config as ``text``."""
    config = {}
    if text is not None:
        try:
            config = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"--config-json is not valid JSON/YAML: {_yaml_problem(err)}") from err
    elif path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            config = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {_yaml_problem(err)}") from err
    if not isinstance(config, dict):
        raise ConfigError(f"{path or '--config-json'}: a config is a YAML mapping")
    overridden = {
        ".".join(_override_path(config, item.split("=", 1)[0])): item for item in overrides or [] if "=" in item
    }
    config = apply_overrides(config, overrides or [])
    return complete(config, "--config-json" if text is not None else str(path) if path is not None else "", overridden)


def section(config: dict, name: str) -> dict:
    """Return one top-level section of a config, checked against the schema and completed. The
    config may hold only some sections, as a config built in code or the cost job's train: and
    cost: do."""
    value = config[name] if name in config else default(name)
    return complete_part(value, f"#/properties/{name}", f"config key '{name}'")


def train_config(config: dict) -> TrainConfig:
    """Return the recipe of a config: its ``train:`` section, with the rest from the schema's defaults."""
    cfg = TrainConfig(**section(config, "train"))
    if cfg.batch_size % cfg.num_instances:
        raise ConfigError(
            f"config key 'train.batch_size': {cfg.batch_size} is not a multiple of num_instances ({cfg.num_instances})"
        )
    if sorted(cfg.milestones) != cfg.milestones:
        raise ConfigError(f"config key 'train.milestones': must be increasing, got {cfg.milestones}")
    return cfg
