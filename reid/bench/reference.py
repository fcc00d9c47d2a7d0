"""The reference implementations the benchmarks and parity tests compare against: files of
torchreid==0.2.5 (a test and bench extra, never a runtime dependency), loaded by path so that
torchreid's package __init__ (which needs cv2 and much more) never runs."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path


def torchreid_file(*parts: str) -> Path:
    spec = importlib.util.find_spec("torchreid")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("torchreid is not installed: pip install torchreid==0.2.5 (it has no dependencies)")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    if not path.is_file():
        raise ImportError(f"torchreid is installed but {path} is missing (expected torchreid==0.2.5)")
    return path


def load_torchreid_file(*parts: str):
    """One torchreid module by path; its warnings (e.g. the missing Cython evaluator) are silenced."""
    spec = importlib.util.spec_from_file_location("_torchreid_" + "_".join(parts).removesuffix(".py"),
                                                  torchreid_file(*parts))
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec.loader.exec_module(module)
    return module
