"""The CLI's own choices (its commands are tested with what they run)."""

import json

import torch

from reid.cli import torch_threads


def test_the_workflow_sets_the_torch_threads_of_a_job(monkeypatch):
    before = torch.get_num_threads()
    try:
        # 2 then 1: each changes what the other left (a pytest worker starts at 1 thread)
        monkeypatch.setenv("REID_MACHINE_THREADS", "2")
        torch_threads("REID_MACHINE_THREADS")
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("REID_TORCH_THREADS", "1")
        torch_threads()
        assert torch.get_num_threads() == 1
        torch.set_num_threads(before)
        for bad in ("", "0", "many"):  # unset or nonsense: torch's own default stays
            monkeypatch.setenv("REID_TORCH_THREADS", bad)
            torch_threads()
            assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)


def test_only_the_commands_that_may_use_a_gpu_claim_one():
    """A GPU slot held by a CPU job keeps a training waiting for nothing."""
    from reid.cli import build_parser, needs_gpu_slot

    def needs(*argv):
        return needs_gpu_slot(build_parser().parse_args(list(argv)))

    cam = ["figure", "gradcam", "--checkpoint", "avg=a/model.pt", "--dataset", "d", "--path", "p", "--out", "o.png"]
    assert not needs(*cam)  # Grad-CAM runs on the CPU unless told otherwise
    assert needs(*cam, "--device", "cuda")
    evaluate = ["evaluate", "--config", "c.yaml", "--dataset", "d", "--checkpoint", "m.pt", "--out", "o"]
    assert needs(*evaluate) and needs(*evaluate, "--device", "cuda")
    assert not needs(*evaluate, "--device", "cpu")
    assert needs("train", "--config", "c.yaml", "--dataset", "d", "--variant", "residual", "--out", "o")
    assert not needs("report", "--config", "c.yaml")


def test_cost_takes_a_config_file_and_its_old_name_profile_still_works_with_a_note(tmp_path, capsys):
    """Table 4's measurement is `cost` (the word "profile" now means a Snakemake profile only);
    `profile`, its name in 0.1, still runs it for one release and says what it is called now."""
    from reid.cli import main

    config = tmp_path / "small.yaml"
    config.write_text(
        "datasets: {synthetic: {}}\ntrain: {backbone: resnet10, height: 64, width: 32, device: cpu}\ncost: {runs: 2}\n"
    )
    argv = ["--variant", "avg", "--out", str(tmp_path / "avg.json"), "--config", str(config)]
    assert main(["cost", *argv]) == 0 and "is now" not in capsys.readouterr().err
    assert main(["profile", *argv]) == 0
    assert "'python -m reid profile' is now 'python -m reid cost'" in capsys.readouterr().err
    assert json.loads((tmp_path / "avg.json").read_text())["backbone"] == "resnet10"
