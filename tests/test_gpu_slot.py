"""reid.gpu_slot: each GPU job of a multi-GPU machine gets its own device (fake device lists)."""

import os
import signal
import subprocess
import sys
import time

import pytest

import reid.gpu_slot
from reid.gpu_slot import claim_gpu, device_pool

HOLD = """
import os, sys, time
from reid.gpu_slot import claim_gpu
device = claim_gpu(wait={wait})
print(device, os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
if device is not None:
    open(sys.argv[1] + "." + device, "w").close()  # tells the test this slot is held
    time.sleep(60)
"""


def test_pool_comes_from_reid_gpu_devices_then_cuda_visible_devices(monkeypatch, tmp_path):
    assert device_pool({"REID_GPU_DEVICES": "0,1, 2,3"}) == ["0", "1", "2", "3"]
    assert device_pool({"CUDA_VISIBLE_DEVICES": "4,6"}) == ["4", "6"]
    assert device_pool({"REID_GPU_DEVICES": "1", "CUDA_VISIBLE_DEVICES": "4,6"}) == ["1"]
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi, and no driver: no GPUs
    monkeypatch.setattr(reid.gpu_slot, "DRIVER_GPUS", tmp_path / "no-driver")
    assert device_pool({}) == []


@pytest.mark.parametrize("value, visible", [("", []), (" ", []), ("-1", []), ("0,-1,1", ["0"]), ("2", ["2"])])
def test_cuda_visible_devices_set_to_hide_the_gpus_hides_them(monkeypatch, value, visible):
    """A user hiding the GPUs ("" or -1) gets CPU jobs, not the GPUs nvidia-smi would list
    (claim_gpu would then have made one visible again)."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("nvidia-smi must not be asked"))
    env = {"CUDA_VISIBLE_DEVICES": value, "REID_GPU_LOCK_DIR": "/nonexistent"}
    assert device_pool(env) == visible
    assert claim_gpu(env=env) is None and env["CUDA_VISIBLE_DEVICES"] == value


def test_a_gpu_machine_without_nvidia_smi_is_found_through_the_driver(monkeypatch, tmp_path, capsys):
    driver = tmp_path / "gpus"
    for bus in ("0000:17:00.0", "0000:65:00.0"):
        (driver / bus).mkdir(parents=True)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(reid.gpu_slot, "DRIVER_GPUS", driver)
    assert device_pool({}) == ["0", "1"]
    assert "nvidia-smi is not on PATH; the NVIDIA driver lists 2 GPU(s)" in capsys.readouterr().err


def test_one_device_or_none_claims_nothing(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "3", "REID_GPU_LOCK_DIR": str(tmp_path)}
    assert claim_gpu(env=env) is None and env["CUDA_VISIBLE_DEVICES"] == "3"  # e.g. SLURM gave the job its GPU
    assert not list(tmp_path.iterdir())


def _holder(tmp_path, env, wait=True):
    return subprocess.Popen(
        [sys.executable, "-c", HOLD.format(wait=wait), str(tmp_path / "held")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def _wait_for(paths, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if all(os.path.exists(p) for p in paths):
            return
        time.sleep(0.05)
    raise AssertionError(f"not held in time: {paths}")


def test_concurrent_jobs_get_distinct_devices_and_a_killed_job_frees_its_slot(tmp_path):
    env = dict(os.environ, REID_GPU_DEVICES="0,1,2,3", REID_GPU_LOCK_DIR=str(tmp_path / "locks"))
    holders = [_holder(tmp_path, env) for _ in range(4)]
    try:
        _wait_for([tmp_path / f"held.{d}" for d in "0123"])
        lines = [h.stdout.readline().split() for h in holders]
        assert sorted(device for device, _ in lines) == ["0", "1", "2", "3"]
        assert all(device == visible for device, visible in lines)  # CUDA_VISIBLE_DEVICES set to the slot
        fifth = subprocess.run(
            [sys.executable, "-c", HOLD.format(wait=False), str(tmp_path / "late")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert fifth.stdout.split()[0] == "None"  # every slot taken
        victim = next(h for h, (device, _) in zip(holders, lines) if device == "2")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        late = _holder(tmp_path, env)
        holders.append(late)
        assert late.stdout.readline().split() == ["2", "2"]  # the killed job's slot, released by the kernel
    finally:
        for h in holders:
            h.kill()
            h.wait()
