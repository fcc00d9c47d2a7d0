"""Record where a number came from: the package's commit, package versions, device and host.

The record is written into every model file and metrics.json, and it is shown in the report. Torch is imported
only to name a GPU, so the report (which needs no network) does not load it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

# These are the packages that the report lists under "package versions".
PACKAGES = ("torch", "torchvision", "numpy", "pandas", "matplotlib", "snakemake", "fvcore", "thop", "grad-cam")


def git_commit() -> str:
    """Return the package's commit, with "-dirty" if its tree has uncommitted changes, or "" outside git."""

    def git(*args):
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, cwd=Path(__file__).parent)
        return done.stdout.strip() if done.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        if not commit:
            return ""
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    """Return the CPU's model name from /proc/cpuinfo, or else what platform knows. It names the
    machine that a time or a throughput was measured on."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device) -> str:
    """Return "cuda: <GPU model>" or "cpu: <processor>" for a torch.device."""
    if device.type == "cuda":
        # torch is imported here because the report reads package versions from this module without torch.
        import torch

        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}"


def provenance(device) -> dict:
    """Return what a job ran with: commit, torch and Python versions, device, host, GPU slot and time."""
    # torch is imported here for the same reason as in device_name.
    import torch

    return {
        "commit": git_commit() or "unknown",
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "device": device_name(device),
        "host": platform.node(),
        # This names the GPU slot that a job ran on.
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        # This names the SLURM job that made the result, if there was one.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def package_versions(names=PACKAGES) -> dict:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
