"""Load the reference implementations that the benchmarks and parity tests compare against.

They are files of torchreid==0.2.5 (a test and bench extra, never a runtime dependency), loaded
by path so that torchreid's package __init__ (which needs cv2 and much more) never runs.
"""

from __future__ import annotations

import importlib.util
import resource
import time
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
    """Load one torchreid module by path, silencing its warnings (e.g. the missing Cython evaluator)."""
    spec = importlib.util.spec_from_file_location(
        "_torchreid_" + "_".join(parts).removesuffix(".py"), torchreid_file(*parts)
    )
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec.loader.exec_module(module)
    return module


def memory_status() -> dict:
    """Return VmRSS and VmHWM (peak) of this process in bytes, read from /proc/self/status."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) * 1024
    return out


def time_and_peak(call, repeats: int, cuda: bool) -> tuple[object, dict]:
    """Run ``call`` ``repeats`` times and return its last result, the times and the peak memory
    beyond what the process held before (the peak counter reset where the kernel allows)."""

    base = memory_status()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        memory_method = "VmHWM after reset by /proc/self/clear_refs, minus VmRSS after loading the inputs"
        reset = True
    except OSError:
        memory_method = "ru_maxrss of the process minus VmRSS after loading the inputs (peak not reset)"
        reset = False
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = call()
        if cuda:
            # torch is imported only here, because the numpy references are measured in processes without it.
            import torch

            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    peak = memory_status()["VmHWM"] if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result, {
        "times_s": times,
        "peak_rss_bytes": peak,
        "rss_after_inputs_bytes": base["VmRSS"],
        "peak_beyond_inputs_bytes": peak - base["VmRSS"],
        "memory_method": memory_method,
    }
