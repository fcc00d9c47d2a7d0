"""python -m reid.bench gpu: the device script. Without a GPU it says so; with --device cpu it
runs every check on the CPU, so that the script itself is known to work before a GPU machine
runs it."""

import pytest
import torch

from reid.bench.__main__ import main


def test_without_a_gpu_it_says_so_and_checks_nothing(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["gpu"]) == 2
    assert "no CUDA device is visible: nothing to check here" in capsys.readouterr().out


@pytest.mark.slow(seconds=12)
def test_every_check_runs_on_the_cpu(tmp_path, capsys):
    assert main(["gpu", "--device", "cpu", "--keep", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    checks = [line for line in lines if line.startswith(("ok", "FAIL"))]
    assert all(line.startswith("ok") for line in checks), "\n".join(checks)
    names = [line.split(":")[0].split(maxsplit=1)[1] for line in checks]
    assert names == [
        "the precision amp=auto picks",
        "GPUs the job slots find",
        "training in bfloat16",
        "training in float32",
        "resume from bfloat16 in float32",
        "evaluation with re-ranking on cpu against the CPU",
        "re-ranking on cpu against the CPU",
        "CMC and mAP on cpu against the CPU",
        "latency at 288x144 on cpu",
    ]
    assert lines[-1].startswith("every check passed")
