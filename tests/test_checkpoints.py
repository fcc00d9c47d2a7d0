"""Resume checkpoints and model files (reid/checkpoints.py), on a tiny network: which
checkpoint is resumed, what the run key holds, what the digest guards and what a model file
builds."""

import dataclasses

import pytest
import torch

from reid.checkpoints import (
    CheckpointError,
    build_from_checkpoint,
    load_checkpoint,
    load_model_file,
    resume_folder,
    run_key,
    save_checkpoint,
    save_model_file,
    train_config_of,
    weights_digest,
)
from reid.config import TrainConfig
from reid.models import build_model

CFG = TrainConfig(backbone="resnet10", pretrained="none", reduce_dim=8)


def _model_file(path, variant="avg"):
    torch.manual_seed(0)
    model = build_model(variant, 3, backbone=CFG.backbone, **CFG.model_options(variant))
    save_model_file(
        path,
        model,
        variant,
        CFG,
        num_classes=3,
        seed=1,
        dataset="synthetic",
        dataset_fingerprint="f" * 16,
        provenance={},
    )
    return model


def test_the_newest_checkpoint_is_resumed_and_the_previous_one_kept(tmp_path):
    """Each save keeps the one before as checkpoint.prev.pt: the newest is read, and when it is
    damaged the previous one is, rather than starting over."""
    for epoch in (1, 2):
        save_checkpoint(tmp_path / "checkpoint.pt", {"epoch": epoch})
    assert load_checkpoint(tmp_path) == {"epoch": 2}
    assert torch.load(tmp_path / "checkpoint.prev.pt", weights_only=True) == {"epoch": 1}
    (tmp_path / "checkpoint.pt").write_bytes(b"truncated")
    assert load_checkpoint(tmp_path) == {"epoch": 1}


def test_the_run_key_holds_what_changes_the_result_and_nothing_else():
    """A checkpoint is resumed by the same config, variant, seed and data; how the run is carried
    out (progress bars, the cache, decoding workers, the evaluation's batch size, TensorBoard)
    does not count."""
    key = run_key(CFG, "avg", 1, "f" * 16)
    how = dataclasses.replace(
        CFG, progress=False, cache_dir="elsewhere", decode_workers=3, eval_batch_size=7, tensorboard=True
    )
    assert run_key(how, "avg", 1, "f" * 16) == key
    assert run_key(dataclasses.replace(CFG, base_lr=0.01), "avg", 1, "f" * 16) != key
    others = [run_key(CFG, "max", 1, "f" * 16), run_key(CFG, "avg", 2, "f" * 16), run_key(CFG, "avg", 1, "0" * 16)]
    assert len({key, *others}) == 4  # another variant, seed or data: another run


def test_a_model_file_whose_variant_was_edited_is_refused(tmp_path):
    """avg and max networks have the same parameter names and shapes: only the digest, which
    holds the variant, tells a model file relabelled from avg to max from a real max."""
    _model_file(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    assert weights_digest("max", payload["config"], payload["state_dict"]) != payload["weights_sha256"]
    assert load_model_file(tmp_path / "model.pt")["variant"] == "avg"
    payload["variant"] = "max"
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match=r"its variant \(max\), config or weights were changed"):
        load_model_file(tmp_path / "edited.pt")


def test_a_model_file_builds_its_network_in_eval_mode(tmp_path):
    """What evaluation and the figures get: the trained weights, in eval mode (BN on its running
    statistics, the BNNecks' classifiers off), so that the embedding of an image does not depend
    on the batch it comes in."""
    trained = _model_file(tmp_path / "model.pt").eval()
    model = build_from_checkpoint(load_model_file(tmp_path / "model.pt"))
    assert not any(m.training for m in model.modules())
    x = torch.randn(3, 3, 64, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), trained(x))
        torch.testing.assert_close(model(x[:1]), model(x)[:1])


def test_config_keys_of_a_later_version_are_ignored():
    """A model file written by a later version may hold config keys this one does not know."""
    payload = {"config": dataclasses.asdict(CFG) | {"option_of_a_later_version": 1}}
    assert train_config_of(payload) == CFG


def test_the_resume_folder_is_under_the_root_only_for_a_relative_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("REID_RESUME_ROOT", str(tmp_path / "shared"))
    assert resume_folder("results/synthetic/avg/seed1") == tmp_path / "shared" / "results/synthetic/avg/seed1"
    assert resume_folder(tmp_path / "run") == tmp_path / "run"
    monkeypatch.delenv("REID_RESUME_ROOT")
    assert str(resume_folder("results/x")) == "results/x"
