"""One GPU per job on a multi-GPU machine: lock-file slots.

Snakemake's ``--resources gpu=4`` lets four GPU jobs run at once but does not say which GPU
each one gets: without help all four would share GPU 0. So every GPU job of the suite
(train, evaluate, cost, Grad-CAM) first claims a slot: an exclusive ``flock`` on
``<lock dir>/gpu-<id>.lock`` for one device of the pool, then sets ``CUDA_VISIBLE_DEVICES``
to that device before CUDA starts. The kernel drops the lock when the process ends, however
it ends (``kill -9`` included), so a slot is never leaked and nothing needs cleaning up.

The pool, first found of:
- ``REID_GPU_DEVICES``, comma-separated ids or UUIDs: a user's choice of the GPUs the suite
  may use, e.g. two of a shared machine's eight (README, "One machine with several GPUs");
- ``CUDA_VISIBLE_DEVICES`` when it is set (e.g. a scheduler's allocation). Set but empty, or
  starting with an invalid id such as -1, it hides every GPU, as it does from CUDA: the pool
  is empty and the jobs run on the CPU;
- the GPUs ``nvidia-smi -L`` lists;
- without ``nvidia-smi`` on ``PATH`` (some containers mount the driver but not its tools), the
  GPUs the NVIDIA driver lists under ``/proc/driver/nvidia/gpus``, with a warning. Found by
  files, not by importing torch: the workflow asks on every start, and torch's import costs
  seconds.
A pool of one device or none (a CPU machine, or SLURM having given the job its own GPU)
claims nothing. The lock folder is ``REID_GPU_LOCK_DIR`` or ``<tmp>/reid-gpu-slots-<uid>``:
jobs that share GPUs must share it (the default does, on one machine).
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_held: list[int] = []  # These are the file descriptors of the slots this process holds, released at exit.


# The NVIDIA driver lists its GPUs here, one folder each; it is module-level so that tests can
# point it elsewhere.
DRIVER_GPUS = Path("/proc/driver/nvidia/gpus")


def visible_devices(value: str) -> list[str]:
    """Return the devices a CUDA_VISIBLE_DEVICES value leaves visible. CUDA reads the list up to its
    first invalid entry, so "" and "-1" (the usual ways to hide the GPUs) leave none."""
    devices = []
    for item in (d.strip() for d in value.split(",")):
        if not item or item.startswith("-"):
            break
        devices.append(item)
    return devices


def device_pool(env: dict | None = None) -> list[str]:
    """Return the devices jobs on this machine share, as CUDA_VISIBLE_DEVICES would name them."""
    env = os.environ if env is None else env
    if (env.get("REID_GPU_DEVICES") or "").strip():
        return [d.strip() for d in env["REID_GPU_DEVICES"].split(",") if d.strip()]
    if "CUDA_VISIBLE_DEVICES" in env:  # Once set, even to nothing, it says which GPUs CUDA will see.
        return visible_devices(env["CUDA_VISIBLE_DEVICES"])
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return driver_listed_gpus()
    return re.findall(r"^GPU (\d+):", listing, flags=re.M)


def driver_listed_gpus() -> list[str]:
    """Return CUDA's ids (0, 1, ...) for the GPUs the NVIDIA driver lists, when nvidia-smi cannot be
    run. It warns, since without it a GPU machine would look like a CPU-only one and
    several trainings would share one GPU."""
    try:
        count = sum(1 for entry in DRIVER_GPUS.iterdir() if entry.is_dir())
    except OSError:  # Without an NVIDIA driver this is a CPU machine.
        return []
    if count:
        print(
            f"warning: nvidia-smi is not on PATH; the NVIDIA driver lists {count} GPU(s) in {DRIVER_GPUS}, "
            f"used as devices 0-{count - 1}. Put nvidia-smi on PATH, or name the GPUs in REID_GPU_DEVICES.",
            file=sys.stderr,
        )
    return [str(i) for i in range(count)]


def lock_dir(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("REID_GPU_LOCK_DIR") or Path(tempfile.gettempdir()) / f"reid-gpu-slots-{os.getuid()}")


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def claim_gpu(wait: bool = True, poll_seconds: float = 0.5, env: dict | None = None) -> str | None:
    """Claim a free device of the pool and make it this process's only visible GPU.

    Returns the device claimed, or None when there is nothing to share (pool of 0 or 1).
    With ``wait``, blocks until a slot frees (more GPU jobs than GPUs); otherwise returns
    None when every slot is taken. Call before anything initialises CUDA.
    """
    env = os.environ if env is None else env
    pool = device_pool(env)
    if len(pool) <= 1:
        return None
    folder = lock_dir(env)
    folder.mkdir(parents=True, exist_ok=True)
    said = False
    while True:
        for device in pool:
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", device)
            fd = _try_lock(folder / f"gpu-{safe}.lock")
            if fd is not None:
                _held.append(fd)
                env["CUDA_VISIBLE_DEVICES"] = device
                return device
        if not wait:
            return None
        if not said:
            print(f"waiting for a free GPU among {','.join(pool)} (slots in {folder})", file=sys.stderr, flush=True)
            said = True
        time.sleep(poll_seconds)
