import dataclasses
from pathlib import Path

import pytest

from reid.data import CATALOG, DatasetError, SplitCount, fingerprint, layout_counts, load_dataset, parse_name
from reid.data.market import load_market_layout


def make_tree(root: Path, files: dict[str, list[str]]) -> Path:
    for split, names in files.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / split / name).write_bytes(b"x" * 10)
    return root


SMALL = {
    "bounding_box_train": ["0002_c1s1_000451_03.jpg", "0002_c2s1_000551_01.jpg", "0007_c3s2_000100_01.jpg"],
    "query": ["0010_c1s1_000001_00.jpg", "0011_c2s1_000001_00.jpg"],
    "bounding_box_test": [
        "0010_c1s1_000002_01.jpg",  # same camera as its query: removed by the protocol, but kept here
        "0010_c4s1_000003_01.jpg",
        "0011_c5s1_000004_01.jpg",
        "0000_c3s1_000005_01.jpg",  # distractor: kept
        "-1_c2s1_000006_01.jpg",  # junk: dropped
        "Thumbs.db",  # not an image: ignored
    ],
}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("0002_c1s1_000451_03.jpg", (2, 1)),  # Market-1501
        ("-1_c3s2_012345_01.jpg", (-1, 3)),  # Market junk
        ("0000_c6s1_000001_01.jpg", (0, 6)),  # Market distractor
        ("0005_c2_f0046985.jpg", (5, 2)),  # DukeMTMC-reID
        ("/some/dir/1234_c8_f0000001.jpg", (1234, 8)),
        ("img_0001.jpg", None),
        ("0001c1s1.jpg", None),
    ],
)
def test_parse_name(name, expected):
    assert parse_name(name) == expected


def test_load_layout_drops_junk_keeps_distractors(tmp_path):
    ds = load_market_layout(make_tree(tmp_path / "set", SMALL))
    assert [(s.pid, s.camid) for s in ds.train] == [(2, 1), (2, 2), (7, 3)]
    assert {s.pid for s in ds.gallery} == {0, 10, 11}
    assert all(s.pid != -1 for s in ds.gallery)
    assert len(ds.gallery) == 4
    assert ds.num_train_pids == 2 and ds.train_labels == [0, 0, 1]
    assert "train" in ds.summary() and "3 images" in ds.summary()


def test_layout_counts(tmp_path):
    counts = layout_counts(make_tree(tmp_path / "set", SMALL))
    assert counts["bounding_box_test"] == {"files": 5, "images": 4, "ids": 3}
    assert counts["query"] == {"files": 2, "images": 2, "ids": 2}


def test_missing_folder_named(tmp_path):
    files = {k: v for k, v in SMALL.items() if k != "query"}
    with pytest.raises(DatasetError, match="missing folder.*query"):
        load_market_layout(make_tree(tmp_path / "set", files))


def test_missing_dataset_says_how_to_fetch(tmp_path):
    with pytest.raises(DatasetError, match="python -m reid data fetch market1501"):
        load_dataset("market1501", root=tmp_path)
    with pytest.raises(DatasetError, match="--archive"):
        load_dataset("dukemtmcreid", root=tmp_path)
    with pytest.raises(DatasetError, match="python -m reid data synth"):
        load_dataset("synthetic", root=tmp_path)


def test_bad_names_are_listed(tmp_path):
    files = dict(SMALL, query=SMALL["query"] + ["person12.jpg"])
    with pytest.raises(DatasetError, match="person12.jpg"):
        load_market_layout(make_tree(tmp_path / "set", files))


def test_empty_split(tmp_path):
    files = dict(SMALL, bounding_box_train=[])
    with pytest.raises(DatasetError, match="no images in bounding_box_train"):
        load_market_layout(make_tree(tmp_path / "set", files))


def test_no_cross_camera_match(tmp_path):
    files = dict(SMALL, bounding_box_test=["0010_c1s1_000002_01.jpg", "0011_c2s1_000004_01.jpg"])
    with pytest.raises(DatasetError, match="another camera"):
        load_market_layout(make_tree(tmp_path / "set", files))


def test_counts_checked_against_spec(tmp_path):
    root = make_tree(tmp_path / "market1501", SMALL)
    good = dataclasses.replace(
        CATALOG["market1501"],
        counts={
            "bounding_box_train": SplitCount(3, 2),
            "query": SplitCount(2, 2),
            "bounding_box_test": SplitCount(4, 3),
        },
        gallery_files=5,
    )
    assert len(load_market_layout(root, spec=good).query) == 2
    bad = dataclasses.replace(good, counts=dict(good.counts, query=SplitCount(3368, 750)))
    with pytest.raises(DatasetError, match="query: expected 3368 images / 750 ids, found 2 / 2"):
        load_market_layout(root, spec=bad)
    # the real release's counts: our tiny tree is not Market-1501
    with pytest.raises(DatasetError, match="12936"):
        load_dataset("market1501", root=tmp_path)


def test_custom_dataset_by_path(tmp_path):
    root = make_tree(tmp_path / "mine", SMALL)
    ds = load_dataset("mine", path=root)
    assert ds.name == "mine" and len(ds.train) == 3


def test_fingerprint_changes_with_content(tmp_path):
    root = make_tree(tmp_path / "set", SMALL)
    before = fingerprint(load_market_layout(root))
    assert before == fingerprint(load_market_layout(root))
    (root / "bounding_box_train" / "0007_c3s2_000100_01.jpg").write_bytes(b"longer content")
    assert fingerprint(load_market_layout(root)) != before
