"""Configuration: one YAML file per profile (configs/*.yaml), validated against one JSON schema.

A config file holds the workflow's choices (``data_root``, ``datasets``, ``variants``,
``seeds``) and the training recipe (``train:``). The recipe's defaults below are the paper's
(section 4.2 and 4); where the paper is garbled or silent the reading is written beside the
value. ``python -m reid train --set KEY=VALUE`` overrides any value: a bare KEY names a key of
``train:`` (or a top-level key, ``variants=[avg]``), a dotted one (``datasets.synthetic.size``)
any key of the file. A bad value stops with a ConfigError naming the key, where the value came
from (the file or the ``--set``) and what is expected there.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).parent / "resources" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range; the message names the key."""


@dataclass
class TrainConfig:
    # model (section 3): ResNet50, last stride 1 as in BoT and the paper's 18x9 layer4 maps
    backbone: str = "resnet50"
    pretrained: str = "imagenet"  # imagenet | none | PATH to a state dict
    last_stride: int = 1
    reduce_dim: int = 512  # the "unified dimension"; Table 4's parameter count supports 512
    reduce_act: str = "bn_relu"  # delta_1x1 of equation (1): conv + BN + ReLU
    flatten_scale3: bool = True  # keep the 2x2 cells of scale 3 after the 1x1 convs
    embedding: str = "post_bn"  # retrieval feature: concatenated post-BNNeck fused features
    triplet_on: str = "pooled"  # equation (2): triplet on the six pooled backbone features

    # input (section 4.2): 288x144, batch 32 = P identities x K images (BoT's PK sampling)
    height: int = 288
    width: int = 144
    batch_size: int = 32
    num_instances: int = 4  # K; P = batch_size / K = 8
    flip_prob: float = 0.5
    pad: int = 10  # pad 10 then random crop back to height x width (BoT)
    erasing_prob: float = 0.5  # random erasing, section 4

    # optimisation (section 4.2). The paper: "learning rate 0.03 ... weight decay 0.0005 ...
    # drops to 0.003, 0.0003 and 0.0003 at 40, 110 and 150 iterations ... 220 iterations in
    # total". Read as: 220 epochs, base lr 0.03 reached by a linear warmup, x0.1 at epochs 40,
    # 110 and 150 (the printed third value repeats the second: a typo for 0.00003).
    epochs: int = 220
    base_lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: int = 10  # not given in the paper: BoT's 10 epochs from 0.01 x base lr
    warmup_factor: float = 0.01
    milestones: list[int] = field(default_factory=lambda: [40, 110, 150])
    gamma: float = 0.1

    # loss, equation (2)
    margin: float = 0.3
    label_smoothing: float = 0.1
    triplet_weight: float = 1.0
    ce_weight: float = 1.0

    # plain_baseline: a second reading of Table 2's ResNet50_baseline (64.67 mAP / 79.63 R1 on
    # Market-1501, far below BoT's 85.9 / 94.5 with the tricks the paper lists): the IDE-style
    # baseline of 2017-2018 papers, softmax cross-entropy alone on layer4's pooled feature. It
    # keeps every variant's trunk, data, augmentation and schedule, so that only the head and the
    # loss differ from ``baseline`` (BoT's head, the faithful reading of section 4).
    plain_label_smoothing: float = 0.0  # IDE's plain softmax; 0.1 would be BoT's smoothed CE

    # evaluation during training (the Figure 5 accuracy curves)
    eval_every: int = 10  # R1 and mAP on the test split every N epochs (0: only at the end)
    eval_flip: bool = False  # average the features of the image and its mirror
    eval_batch_size: int = 128

    # machinery
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # auto (on with CUDA: bf16 from compute capability 8.0, fp16 below) | on | off | bf16 | fp16
    channels_last: str = "auto"  # auto (on with CUDA) | on | off
    compile: str = "off"  # torch.compile the training step's model: auto (on with CUDA) | on | off
    cache_dir: str = "data/cache"  # decoded uint8 image tensors, keyed by dataset and size
    decode_workers: int = 0  # processes decoding JPEGs into the cache (0: all cores)
    progress: bool = True

    def loss_options(self, variant: str = "residual") -> dict:
        """Equation (2)'s settings for a variant (paper_loss's keywords)."""
        smoothing = self.plain_label_smoothing if variant == "plain_baseline" else self.label_smoothing
        return {
            "margin": self.margin,
            "epsilon": smoothing,
            "triplet_weight": self.triplet_weight,
            "ce_weight": self.ce_weight,
        }

    def model_options(self, variant: str = "residual") -> dict:
        if variant == "plain_baseline":  # nothing to choose: pooled feature, linear classifier
            return {}
        if variant == "baseline":  # BoT's head has no fusion, hence only the embedding choice
            return {"embedding": self.embedding}
        return {
            "reduce_dim": self.reduce_dim,
            "reduce_act": self.reduce_act,
            "flatten_scale3": self.flatten_scale3,
            "embedding": self.embedding,
            "triplet_on": self.triplet_on,
        }


# The smallest recipe that trains (ResNet10 from scratch at 64x32, batches of 2 identities x 4
# images, one epoch, no evaluation): for checks that must run in seconds on any machine, such as
# the device script (python -m reid.bench gpu) and the tests. Not a recipe for results.
SMOKE_RECIPE = dict(
    backbone="resnet10",
    pretrained="none",
    height=64,
    width=32,
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


def _schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validate(config: dict, source: str = "", overridden: dict[str, str] | None = None) -> None:
    """Validate a whole config file's content against the schema; ConfigError names the key.

    ``source`` (the file, or ``--config-json``) and ``overridden`` (dotted key -> the ``--set``
    item that gave it) say where the bad value came from; the schema's description of the key
    is added as the hint of what to write instead.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = [str(p) for p in err.absolute_path]
        where = ".".join(path) or "(top level)"
        schema = err.schema if isinstance(err.schema, dict) else {}
        # the keys the bad value sits at: an unknown key is one level below the error's path
        bad = [path]
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            bad = [path + [str(k)] for k in err.instance if k not in schema.get("properties", {})] or bad
        origin = f"in {source}" if source else ""
        for key, item in (overridden or {}).items():
            parts = key.split(".")
            if any(b[: len(parts)] == parts for b in bad):
                origin = f"from --set {item}"
        message = f"config key '{where}'{f' ({origin})' if origin else ''}: {err.message}"
        if err.validator == "additionalProperties" and schema.get("properties"):
            message += f"; the known keys here are {', '.join(schema['properties'])}"
        elif path and schema.get("description"):
            message += f"; expected {' '.join(schema['description'].split())}"
        raise ConfigError(message)


def validate_part(value, definition: str, source: str) -> None:
    """Validate ``value`` against one of the schema's definitions (``$defs``), e.g. the claims
    file against ``claims_file``; ConfigError names the entry and the key."""
    import jsonschema

    schema = _schema()
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"})
    err = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))), None)
    if err is not None:
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"{source}, at {where}: {err.message}")


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(err).split())


def _override_path(config: dict, key: str) -> list[str]:
    """Where ``--set KEY=VALUE`` puts VALUE: a bare key of the file itself (one it holds, or a
    top-level key of the schema: ``variants=[avg]``), else a ``train:`` key."""
    path = key.split(".")
    if len(path) == 1:
        top = key in config or key in _schema()["properties"]
        path = ["train", key] if not top or key == "train" else path
    return path


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    """``KEY=VALUE`` pairs, VALUE parsed as YAML (``epochs=2``, ``milestones=[5,8]``)."""
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
    """Read a config file (or ``text``, the same content as JSON/YAML; or nothing), apply ``--set``
    overrides, validate. The workflow passes each job its part of the config as ``text``."""
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
    validate(config, "--config-json" if text is not None else str(path) if path is not None else "", overridden)
    return config


def train_config(config: dict) -> TrainConfig:
    """The recipe: the paper's defaults updated by the file's ``train:`` section."""
    section = config.get("train") or {}
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(section) - names
    if unknown:  # the schema catches this too; kept for configs built in code
        raise ConfigError(f"unknown train key(s): {', '.join(sorted(unknown))}")
    cfg = TrainConfig(**section)
    if not isinstance(cfg.epochs, int) or cfg.epochs < 1:  # the schema catches this too; kept for configs built in code
        raise ConfigError(f"config key 'train.epochs': {cfg.epochs!r} is not a number of epochs: give 1 or more")
    if cfg.batch_size % cfg.num_instances:
        raise ConfigError(
            f"config key 'train.batch_size': {cfg.batch_size} is not a multiple of num_instances ({cfg.num_instances})"
        )
    if sorted(cfg.milestones) != cfg.milestones:
        raise ConfigError(f"config key 'train.milestones': must be increasing, got {cfg.milestones}")
    return cfg
