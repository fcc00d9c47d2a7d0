"""python -m reid export: an ONNX file (run with onnxruntime) and a torch.export program give the
features PyTorch gives, for every variant of the paper's ResNet50 at the demo size (64x32) and
at the paper's (288x144), where layer4 is 18x9 and scale 3's 2x2 max pooling has overlapping
cells; each file carries its preprocessing and identity, and a file that does not match is
never written."""

import json

import numpy as np
import pytest
import torch

from reid.checkpoints import load_model_file
from reid.cli import main
from reid.data.cache import decode_all
from reid.embed import embed, find_images
from reid.export import (
    PARITY_COSINE,
    PARITY_RELATIVE,
    ExportError,
    check_parity,
    export_facts,
    parity,
    read_facts,
    run_onnx,
    run_torch_export,
    to_onnx,
    to_torch_export,
)
from reid.models import VARIANTS, build_model

SIZES = {"demo 64x32": (64, 32), "paper 288x144": (288, 144)}


def trained_like(variant: str) -> torch.nn.Module:
    """A ResNet50 network of ``variant`` whose batch norms hold statistics and scales far from
    their initial 0 and 1, as a trained network's do: with the initial ones every BN is almost
    the identity, and a mistake in exporting them would go unseen."""
    torch.manual_seed(0)
    model = build_model(variant, 751, "resnet50")
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def images(height: int, width: int, n: int = 4) -> np.ndarray:
    return torch.randn(n, 3, height, width, generator=torch.Generator().manual_seed(1)).numpy()


def assert_parity(reference: np.ndarray, exported: np.ndarray) -> None:
    found = parity(reference, exported)
    assert found["min_cosine"] >= PARITY_COSINE and found["max_relative_difference"] <= PARITY_RELATIVE, found


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_onnx_gives_pytorchs_features_for_every_variant(variant, size):
    height, width = SIZES[size]
    model = trained_like(variant)
    data = to_onnx(model, height, width, {"variant": variant})
    for batch in (1, 5):  # The batch axis is free: neither is the trace's batch of 2.
        x = images(height, width, batch)
        with torch.no_grad():
            reference = model(torch.from_numpy(x)).numpy()
        exported = run_onnx(data, x)
        assert exported.shape == reference.shape
        assert_parity(reference, exported)


@pytest.mark.parametrize("variant", VARIANTS)
def test_torch_export_gives_pytorchs_features_for_every_variant(variant):
    height, width = SIZES["paper 288x144"]
    model = trained_like(variant)
    x = images(height, width, 3)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()
    assert_parity(reference, run_torch_export(to_torch_export(model, height, width, {}), x))


def test_the_paper_size_really_has_the_overlapping_cells_that_the_exporters_refuse():
    """The trap the export solves is there: at 288x144 layer4 is 18x9, which 2x2 does not divide,
    and PyTorch's own adaptive max pooling cannot be exported to ONNX."""
    model = trained_like("residual")
    f4 = model.backbone(torch.zeros(1, 3, 288, 144))[1]
    assert tuple(f4.shape[-2:]) == (18, 9)

    class OwnKernel(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.adaptive_max_pool2d(x, 2)

    with pytest.raises(Exception, match="adaptive_max_pool2d"):
        torch.onnx.export(OwnKernel().eval(), (torch.zeros(2, 4, 18, 9),), dynamo=True, verbose=False)


@pytest.fixture(scope="module")
def exported(one_epoch_models, tmp_path_factory):
    """The tiny suite's residual model, exported in both formats through the command line."""
    folder = tmp_path_factory.mktemp("exported")
    model = one_epoch_models["residual"]
    for fmt, name in (("onnx", "model.onnx"), ("torch-export", "model.pt2")):
        assert main(["export", "--model", str(model), "--format", fmt, "--out", str(folder / name)]) == 0
    return model, folder


def test_a_file_carries_its_preprocessing_and_the_models_identity(exported):
    model, folder = exported
    payload = load_model_file(model)
    for name in ("model.onnx", "model.pt2"):
        facts = read_facts(folder / name)
        assert (facts["height"], facts["width"]) == (payload["config"]["height"], payload["config"]["width"])
        assert facts["mean"] == [0.485, 0.456, 0.406] and facts["std"] == [0.229, 0.224, 0.225]
        assert facts["variant"] == "residual" and facts["weights_sha256"] == payload["weights_sha256"]
        assert facts["suite_version"] and facts["distance"] == "euclidean" and facts["seed"] == payload["seed"]
        assert facts["recipe"] == payload["config"]


def test_the_metadatas_preprocessing_reproduces_embed(exported, tmp_path, crops_of):
    """Whoever gets only the ONNX file and follows its metadata gets the features that embed writes."""
    model, folder = exported
    facts = read_facts(folder / "model.onnx")
    embed(model, crops_of, tmp_path / "f.npz", device="cpu")
    saved = np.load(tmp_path / "f.npz")
    pixels = decode_all(find_images(crops_of), facts["height"], facts["width"], workers=1) / 255.0
    mean, std = (np.array(facts[k], dtype=np.float32).reshape(1, 3, 1, 1) for k in ("mean", "std"))
    features = run_onnx(folder / "model.onnx", ((pixels - mean) / std).astype(np.float32))
    assert features.shape == saved["features"].shape == (len(saved["paths"]), facts["feature_dim"])
    assert_parity(saved["features"], features)
    assert_parity(saved["features"], run_torch_export(folder / "model.pt2", ((pixels - mean) / std).astype(np.float32)))


@pytest.fixture
def crops_of(tmp_path, tiny):
    import shutil

    folder = tmp_path / "crops"
    folder.mkdir()
    for i, sample in enumerate(tiny.query[:3]):
        shutil.copy(sample.path, folder / f"{i}.jpg")
    return str(folder)


def test_a_file_that_does_not_match_pytorch_is_not_written(one_epoch_models, tmp_path, monkeypatch, capsys):
    model = build_model("avg", 8, "resnet10").eval()

    def off_by_a_little(data, x):
        # cosine 1, but the largest component 1% off: at least 1% / sqrt(D), over 1e-4, of the norm
        return run_torch_export(data, x) * 1.01

    with pytest.raises(ExportError, match="nothing was written"):
        check_parity(model, off_by_a_little, to_torch_export(model, 64, 32, {}), 64, 32)
    real_run_onnx = run_onnx  # The features of other images: each row moved one place down.
    monkeypatch.setattr("reid.export.run_onnx", lambda data, x: np.roll(real_run_onnx(data, x), 1, axis=0))
    out = tmp_path / "no.onnx"
    assert main(["export", "--model", str(one_epoch_models["avg"]), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cosine" in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_without_the_onnx_extra_the_error_says_how_to_install_it(one_epoch_models, tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_onnxscript(name, *args, **kwargs):
        if name == "onnxscript":
            raise ImportError("No module named 'onnxscript'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxscript)
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(one_epoch_models["max"]), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert 'pip install -e ".[onnx]"' in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_an_export_carries_the_card_of_its_own_weights_only(one_epoch_models, tmp_path):
    import shutil

    from reid.card import CARD_JSON

    model = tmp_path / "run" / "model.pt"
    model.parent.mkdir()
    shutil.copy(one_epoch_models["avg"], model)
    digest = load_model_file(model)["weights_sha256"]
    card = {"model": {"variant": "avg", "weights_sha256": digest}, "intended_use": "research"}
    (model.parent / CARD_JSON).write_text(json.dumps(card))
    assert main(["export", "--model", str(model), "--format", "torch-export", "--out", str(tmp_path / "a.pt2")]) == 0
    assert read_facts(tmp_path / "a.pt2")["model_card"] == card
    card["model"]["weights_sha256"] = "0" * 64  # the card of a model.pt that was replaced since
    (model.parent / CARD_JSON).write_text(json.dumps(card))
    assert main(["export", "--model", str(model), "--format", "torch-export", "--out", str(tmp_path / "b.pt2")]) == 0
    assert "model_card" not in read_facts(tmp_path / "b.pt2")


def test_the_facts_name_the_card_when_there_is_one():
    payload = {
        "variant": "residual",
        "weights_sha256": "ab",
        "config": {"height": 64, "width": 32},
        "dataset": "synthetic",
        "seed": 1,
    }
    assert "model_card" not in export_facts(payload, 192)
    facts = export_facts(payload, 192, card={"variant": "residual"})
    assert facts["model_card"] == {"variant": "residual"} and json.dumps(facts)


def test_the_out_file_must_be_named_for_its_format(one_epoch_models, tmp_path, capsys):
    out = tmp_path / "model.pt2"
    assert main(["export", "--model", str(one_epoch_models["avg"]), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "*.onnx" in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_text_facts_come_back_as_text_even_when_they_look_like_numbers(tmp_path):
    model = build_model("avg", 8, "resnet10").eval()
    facts = {"dataset_fingerprint": "0123456789012345", "dataset": "2024", "suite_version": "1.0", "seed": 3}
    (tmp_path / "m.onnx").write_bytes(to_onnx(model, 64, 32, facts))
    assert read_facts(tmp_path / "m.onnx") == facts
