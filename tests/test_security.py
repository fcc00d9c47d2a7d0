"""Nothing the suite loads can run code: checkpoints, model files and pretrained weights are
read with torch.load(weights_only=True). (Archive extraction: tests/data/test_fetch.py; HTML
escaping: tests/test_report.py and tests/test_report_browser.py.)"""

import os

import pytest
import torch

from reid.cli import main as cli_main


class Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _malicious(path, marker):
    torch.save({"state_dict": {}, "evil": Payload(marker)}, path)


def test_a_malicious_model_file_is_refused_unexecuted(tmp_path, tiny_synthetic, capsys):
    _malicious(tmp_path / "model.pt", tmp_path / "pwned")
    code = cli_main(
        [
            "evaluate",
            "--checkpoint",
            str(tmp_path / "model.pt"),
            "--dataset",
            "synthetic",
            "--path",
            str(tiny_synthetic),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out" / "metrics.json").exists()


def test_a_malicious_training_checkpoint_is_not_resumed(tmp_path):
    from reid.checkpoints import load_checkpoint

    (tmp_path / "run").mkdir()
    _malicious(tmp_path / "run" / "checkpoint.pt", tmp_path / "pwned")
    assert load_checkpoint(tmp_path / "run") is None  # unreadable: training starts from the beginning
    assert not (tmp_path / "pwned").exists()


def test_malicious_pretrained_weights_are_refused_unexecuted(tmp_path):
    from reid.models import PretrainedWeightsError, build_model

    _malicious(tmp_path / "resnet18.pth", tmp_path / "pwned")
    with pytest.raises(PretrainedWeightsError, match="state dict"):
        build_model("residual", 4, backbone="resnet18", pretrained=str(tmp_path / "resnet18.pth"))
    assert not (tmp_path / "pwned").exists()
    assert not os.path.exists("pwned")
