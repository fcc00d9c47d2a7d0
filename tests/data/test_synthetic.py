"""The synthetic re-ID set: Market-1501 layout, determinism, atomic and idempotent writing."""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image

from reid.data import synthetic

SPLITS = ("bounding_box_train", "query", "bounding_box_test")
# Market-1501 file names: pid (4 digits, or -1 for junk), camera, sequence, frame, box
MARKET_NAME = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})\.jpg$")


def _build(root: Path, seed: int = 0, workers: int = 1, **kw) -> Path:
    return synthetic.generate(root, size="tiny", seed=seed, workers=workers, progress=False, **kw)


def _parsed(root: Path) -> dict[str, list[tuple[int, int, str]]]:
    out = {}
    for split in SPLITS:
        rows = []
        for name in sorted(os.listdir(root / split)):
            m = MARKET_NAME.match(name)
            assert m is not None, f"{split}/{name} is not a Market-1501 name"
            rows.append((int(m.group(1)), int(m.group(2)), name))
        out[split] = rows
    return out


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _leftovers(parent: Path, name: str) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith((".tmp-", ".old-")) and name in p.name]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("synth") / "tiny")


def test_layout_and_names(tiny):
    params = synthetic.SIZES["tiny"]
    parsed = _parsed(tiny)
    for split, rows in parsed.items():
        assert rows, f"{split} is empty"
        for pid, cam, name in rows:
            assert 1 <= cam <= params.cameras, name
            assert pid == -1 or 0 <= pid <= 9999, name
            with Image.open(tiny / split / name) as im:
                assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (64, 128)), name

    train = {pid for pid, _, _ in parsed["bounding_box_train"]}
    query = {pid for pid, _, _ in parsed["query"]}
    gallery = {pid for pid, _, _ in parsed["bounding_box_test"]}
    assert len(train) == params.train_ids and len(query) == params.test_ids
    assert not train & (query | gallery), "train and test identities overlap"
    # junk (-1) and distractors (0) only in the gallery, and both present there
    assert not {-1, 0} & (train | query)
    assert {-1, 0} <= gallery
    assert query <= gallery

    gallery_cams = defaultdict(set)
    for pid, cam, _ in parsed["bounding_box_test"]:
        gallery_cams[pid].add(cam)
    for pid, cam, name in parsed["query"]:
        assert gallery_cams[pid] - {cam}, f"query {name} has no gallery image from another camera"


def test_marker_counts_match_files(tiny):
    marker = json.loads((tiny / ".reid_dataset.json").read_text())
    assert {k: marker[k] for k in ("name", "size", "seed", "generator_version")} == {
        "name": "synthetic",
        "size": "tiny",
        "seed": 0,
        "generator_version": synthetic.GENERATOR_VERSION,
    }
    for split, rows in _parsed(tiny).items():
        kept = [pid for pid, _, _ in rows if pid != -1]
        assert marker["counts"][split]["images"] == len(kept), split
        assert marker["counts"][split]["ids"] == len(set(kept)), split
    assert marker["counts"]["bounding_box_test"]["files"] == len(os.listdir(tiny / "bounding_box_test"))
    assert marker["counts"]["bounding_box_test"]["files"] > marker["counts"]["bounding_box_test"]["images"]


def test_contact_sheet_is_a_png(tiny):
    cams = synthetic.SIZES["tiny"].cameras
    with Image.open(tiny / "contact_sheet.png") as im:
        im.load()
        assert im.format == "PNG"
        width, height = im.size
    assert width >= cams * 64 * 2 and height >= 2 * 128 * 2  # upscaled tiles, several rows
    assert width < 10_000 and height < 20_000


def test_same_seed_is_byte_identical_and_independent_of_workers(tmp_path, tiny):
    again = _build(tmp_path / "again", workers=2)
    assert _tree_bytes(again) == _tree_bytes(tiny)


def test_different_seed_differs(tmp_path, tiny):
    other = _tree_bytes(_build(tmp_path / "other", seed=1))
    base = _tree_bytes(tiny)
    jpegs = lambda tree: {v for k, v in tree.items() if k.endswith(".jpg")}  # noqa: E731
    assert len(jpegs(base)) > 50 and not jpegs(other) & jpegs(base), "a different seed repeated images"


def test_failure_mid_generation_leaves_nothing(tmp_path, monkeypatch):
    real, calls = synthetic.render_image, []

    def flaky(job):
        calls.append(job.name)
        if len(calls) > 10:
            raise RuntimeError("boom")
        return real(job)

    monkeypatch.setattr(synthetic, "render_image", flaky)
    root = tmp_path / "ds"
    with pytest.raises(RuntimeError, match="boom"):
        _build(root)
    assert len(calls) == 11
    assert not root.exists()
    assert _leftovers(tmp_path, "ds") == []
    assert list(tmp_path.iterdir()) == []


def test_rerun_is_a_noop_and_other_dataset_is_refused(tmp_path, monkeypatch):
    root = _build(tmp_path / "ds")
    before = _tree_bytes(root)
    stamp = (root / ".reid_dataset.json").stat().st_mtime_ns

    def must_not_render(job):
        raise AssertionError("an up-to-date dataset was rendered again")

    monkeypatch.setattr(synthetic, "render_image", must_not_render)
    assert _build(root) == root
    assert (root / ".reid_dataset.json").stat().st_mtime_ns == stamp

    with pytest.raises(FileExistsError, match="overwrite"):
        _build(root, seed=5)
    with pytest.raises(FileExistsError):
        synthetic.generate(root, size="default", seed=0, progress=False)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("not a dataset")
    with pytest.raises(FileExistsError):
        _build(stranger)
    assert _tree_bytes(root) == before and (stranger / "notes.txt").exists()

    monkeypatch.undo()
    replaced = _build(root, seed=5, overwrite=True)
    assert json.loads((replaced / ".reid_dataset.json").read_text())["seed"] == 5
    assert _tree_bytes(replaced) != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "stranger"]


def test_unknown_size_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="tiny"):
        synthetic.generate(tmp_path / "x", size="huge", progress=False)
    assert not (tmp_path / "x").exists()


def test_empty_folder_is_taken_as_absent(tmp_path):
    # Snakemake creates the folder of a rule's output (the marker) before the job runs
    (tmp_path / "ds").mkdir()
    root = _build(tmp_path / "ds")
    assert (root / ".reid_dataset.json").is_file() and (root / "bounding_box_train").is_dir()
