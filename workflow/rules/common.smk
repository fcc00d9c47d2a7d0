# Shared helpers for the rule files.
from pathlib import Path

DATA_ROOT = config["data_root"]
DATASETS = list(config["datasets"])
KNOWN = {"market1501", "dukemtmcreid"}


def dataset_options(name):
    return config["datasets"][name]
