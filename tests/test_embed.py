"""python -m reid embed: one's own images, in any layout, get exactly the features the suite's
evaluation computes for them; a bad image is named in one line, or left out with --skip-bad."""

import os
import shutil

import numpy as np
import pytest
import torch

from reid.checkpoints import build_from_checkpoint, load_model_file
from reid.cli import main
from reid.data.cache import decode_all
from reid.data.market import DatasetError
from reid.embed import embed, find_images
from reid.features import extract_features
from reid.runtime import Runtime


@pytest.fixture
def crops(tmp_path, tiny):
    """Four of the tiny set's query images in a layout of one's own: nested folders, names without
    Market's pattern, extensions in upper and mixed case, and a PNG."""
    folder = tmp_path / "crops"
    (folder / "cam a" / "day 1").mkdir(parents=True)
    (folder / "cam b").mkdir()
    sources = [s.path for s in tiny.query[:4]]
    names = [folder / "cam a" / "x.JPG", folder / "cam a" / "day 1" / "y.Jpeg", folder / "cam b" / "z.jpg"]
    for source, name in zip(sources, names):
        shutil.copy(source, name)
    from PIL import Image

    Image.open(sources[3]).save(folder / "cam b" / "w.PNG")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_features_are_the_evaluations_and_any_layout_is_found(tmp_path, crops, one_epoch_models, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = embed(one_epoch_models["residual"], "crops", tmp_path / "f.npz", device="cpu")
    saved = np.load(tmp_path / "f.npz")
    paths = list(saved["paths"])
    assert paths == sorted(find_images("crops")) and len(paths) == 4 and all(not os.path.isabs(p) for p in paths)
    assert done["images"] == 4 and done["skipped"] == [] and saved["features"].dtype == np.float32
    # what the evaluation computes: decode_all at the model's size, then extract_features
    payload = load_model_file(one_epoch_models["residual"])
    model = build_from_checkpoint(payload)
    images = torch.from_numpy(decode_all(paths, int(saved["height"]), int(saved["width"]), workers=1))
    expected = extract_features(model, images, Runtime.resolve("cpu", "auto", "auto", "off", "test"), batch_size=128)
    assert np.array_equal(saved["features"], expected.numpy())  # bit for bit, at the same batch size
    embed(one_epoch_models["residual"], "crops", tmp_path / "small.npz", batch_size=3, device="cpu")
    # in batches of 3 the CPU sums in another order: the same features to float precision
    assert np.allclose(np.load(tmp_path / "small.npz")["features"], expected.numpy(), rtol=1e-5, atol=1e-5)
    assert str(saved["variant"]) == "residual" and str(saved["weights_sha256"]) == payload["weights_sha256"]
    assert str(saved["distance"]) == "euclidean" and saved["mean"].shape == (3,) and not bool(saved["flip"])


def test_an_unreadable_image_is_named_or_left_out_with_skip_bad(tmp_path, crops, one_epoch_models, capsys):
    bad = crops / "cam b" / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    argv = ["embed", "--model", str(one_epoch_models["avg"]), "--images", str(crops), "--device", "cpu"]
    assert main([*argv, "--out", str(tmp_path / "no.npz")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "--skip-bad" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "no.npz").exists()
    assert main([*argv, "--out", str(tmp_path / "yes.npz"), "--skip-bad"]) == 0
    assert f"skipped (unreadable): {bad}" in capsys.readouterr().err
    saved = np.load(tmp_path / "yes.npz")
    assert len(saved["paths"]) == 4 and list(saved["skipped"]) == [str(bad)]


def test_a_glob_and_nothing_found(tmp_path, crops):
    assert len(find_images(str(crops / "**" / "*.jp*g"))) == 1  # the glob is the user's: case counts there
    assert len(find_images(str(crops / "**" / "*.[jJ]*"))) == 3
    with pytest.raises(DatasetError, match="no PNG or JPEG image"):
        find_images(tmp_path / "empty")
