# Shared helpers for the rule files: the config's lists, how a job gets its config, and
# which package files a result depends on (so that a code change reruns what it affects).
import json
import shlex
from pathlib import Path

DATA_ROOT = config["data_root"]
DATASETS = list(config["datasets"])
VARIANTS = list(config.get("variants", ["baseline", "avg", "max", "residual"]))
SEEDS = list(config.get("seeds", [1, 2, 3]))
FETCHED = {"market1501", "dukemtmcreid"}


def dataset_options(name):
    return config["datasets"][name]


def dataset_input(name):
    """What a dataset's consumers wait for: the marker written once it is complete (synthetic,
    fetched), or the folder itself for a custom dataset."""
    options = dataset_options(name)
    if "path" in options:
        return options["path"]
    return f"{DATA_ROOT}/{name}/.reid_dataset.json"


def job_config(name):
    """The part of the config a job on dataset ``name`` reads, as one shell-quoted JSON string:
    a change to it (and only to it) reruns the job (Snakemake's params rerun trigger)."""
    part = {"data_root": DATA_ROOT, "datasets": {name: dataset_options(name)}, "train": config.get("train", {})}
    return shlex.quote(json.dumps(part, sort_keys=True))


def package_code(*modules):
    """Source files of the package modules a rule runs, as inputs: editing them reruns the rule."""
    files = []
    package = Path(workflow.basedir) / "reid"  # absolute: the workflow may run in another --directory
    for module in modules:
        path = package / module
        files += sorted(str(p) for p in path.rglob("*.py")) if path.is_dir() else [str(path.with_suffix(".py"))]
    return files


TRAIN_CODE = package_code("models", "engine", "data", "train", "losses", "config", "features", "eval", "utils")
EVAL_CODE = TRAIN_CODE + package_code("evaluate", "rerank")
