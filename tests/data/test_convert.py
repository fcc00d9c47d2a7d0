"""MSMT17 and CUHK03-NP (reid.data.convert, through reid.data.fetch): miniature archives in each
real layout, built here with tiny real images, are fetched, converted into the Market-1501
layout, verified against count-override specs and loaded; wrong archives are refused with one
line that names the difference, and leave nothing behind."""

from __future__ import annotations

import dataclasses
import io
import re
import warnings
from pathlib import Path

import pytest
from PIL import Image

from reid.cli import main as cli_main
from reid.data import CATALOG, SplitCount, load_dataset
from reid.data import fetch as fetch_mod
from reid.data.archive import FetchError
from reid.data.catalog import Subset
from reid.data.fetch import fetch
from reid.data.market import MARKER, DatasetError, read_marker
from reid.data.prepare import prepare
from tests.data.test_fetch import dataset_members, leftovers, write_tar, write_zip

MSMT17_DIRS = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}

# (identity, camera) of each listed image. Both halves count identities from 0, as MSMT17's
# lists do, and cameras 10-15 have two digits.
MSMT17_LISTED = {
    "list_train.txt": [(0, 1), (0, 12), (1, 3), (1, 15), (2, 2)],
    "list_val.txt": [(2, 11)],
    "list_query.txt": [(0, 10), (1, 14)],
    "list_gallery.txt": [(0, 3), (1, 15), (2, 7)],
}
MSMT17_COUNTS = {
    "bounding_box_train": SplitCount(images=6, ids=3),
    "query": SplitCount(images=2, ids=2),
    "bounding_box_test": SplitCount(images=3, ids=3),
}

# Per subset and split: the images' (identity, camera). The detected gallery has one image more,
# so that which subset was read shows in the counts.
CUHK03 = {
    "labeled": {
        "bounding_box_train": [(1, 1), (1, 2), (3, 1), (3, 2)],
        "query": [(2, 1), (4, 2)],
        "bounding_box_test": [(2, 2), (4, 1)],
    },
    "detected": {
        "bounding_box_train": [(1, 1), (1, 2), (3, 1), (3, 2)],
        "query": [(2, 1), (4, 2)],
        "bounding_box_test": [(2, 2), (4, 1), (4, 1)],
    },
}


def image(seed: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 16), ((seed * 40) % 256, (seed * 90) % 256, 128)).save(buf, format=fmt)
    return buf.getvalue()


def msmt17_members(version: str = "MSMT17_V1", top: str | None = None, drop_list: str | None = None) -> dict:
    """A miniature MSMT17 release: images under <pid>/ in the training and test folders, named as
    MSMT17 names them, the four list files, and one image that no list names."""
    top = version if top is None else top
    train_dir, test_dir = MSMT17_DIRS[version]
    members, seed = {}, 0
    for list_name, entries in MSMT17_LISTED.items():
        folder = train_dir if list_name in ("list_train.txt", "list_val.txt") else test_dir
        lines = []
        for pid, cam in entries:
            rel = f"{pid:04d}/{pid:04d}_{seed:03d}_{cam:02d}_0303morning_{seed:04d}_0.jpg"
            members[f"{top}/{folder}/{rel}"] = image(seed, "JPEG")
            lines.append(f"{rel} {pid}\n")
            seed += 1
        if list_name != drop_list:
            members[f"{top}/{list_name}"] = "".join(lines).encode()
    members[f"{top}/{train_dir}/0009/0009_000_04_0303noon_0001_0.jpg"] = image(99, "JPEG")  # in no list
    return members


def msmt17_spec(**changes):
    fields = dict(counts=dict(MSMT17_COUNTS), gallery_files=3)
    fields.update(changes)
    return dataclasses.replace(CATALOG["msmt17"], **fields)


def cuhk03_members(top: str = "cuhk03-np", subsets=("labeled", "detected"), drop_split: str | None = None) -> dict:
    members, seed = {}, 0
    for subset in subsets:
        for split, entries in CUHK03[subset].items():
            if (subset, split) == drop_split:
                continue
            for index, (pid, cam) in enumerate(entries):
                members[f"{top}/{subset}/{split}/{pid:04d}_c{cam}_{index + 1}.png"] = image(seed, "PNG")
                seed += 1
    return members


def _subset(subset: str) -> Subset:
    counts = {
        split: SplitCount(images=len(entries), ids=len({pid for pid, _ in entries}))
        for split, entries in CUHK03[subset].items()
    }
    return Subset(counts=counts, gallery_files=len(CUHK03[subset]["bounding_box_test"]))


def cuhk03_spec(**changes):
    fields = dict(subsets={name: _subset(name) for name in CUHK03})
    fields.update(changes)
    return dataclasses.replace(CATALOG["cuhk03_np"], **fields)


@pytest.fixture
def as_catalog(monkeypatch):
    """Put a fixture's spec in the catalog, so that load_dataset, prepare and the CLI check its counts."""

    def put(spec):
        monkeypatch.setitem(CATALOG, spec.name, spec)
        return spec

    return put


def fails(tmp_path: Path, archive: Path, spec, needles) -> str:
    root = tmp_path / "data"
    with pytest.raises(FetchError) as err:
        fetch(spec.name, root, archive=archive, progress=False, spec=spec)
    message = str(err.value)
    assert "\n" not in message, message  # one line
    for needle in needles:
        assert needle in message, message
    assert leftovers(root) == [] and not (root / spec.name).exists()
    return message


# ---------------------------------------------------------------------------------------------
# MSMT17


@pytest.mark.parametrize(
    "version, top, writer, suffix",
    [
        ("MSMT17_V1", None, write_zip, ".zip"),
        ("MSMT17_V2", None, write_tar, ".tar.gz"),
        ("MSMT17_V2", "MSMT17", write_zip, ".zip"),  # a repackaging's top folder: the image folders tell the version
    ],
)
def test_msmt17_is_converted_verified_and_loaded(tmp_path, as_catalog, version, top, writer, suffix):
    archive = writer(tmp_path / "src" / f"{version}{suffix}", msmt17_members(version, top))
    spec = as_catalog(msmt17_spec())
    root = tmp_path / "data"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no md5 is published, so there is none to warn about
        path = fetch("msmt17", root, archive=archive, progress=False, spec=spec)
    assert path == root / "msmt17" and leftovers(root) == ["msmt17"]
    marker = read_marker(path)
    assert marker["version"] == version and marker["md5_matches"] is False
    assert marker["counts"]["bounding_box_train"] == {"files": 6, "images": 6, "ids": 3}
    assert sorted(p.name for p in path.iterdir()) == [MARKER, "bounding_box_test", "bounding_box_train", "query"]
    ds = load_dataset("msmt17", root=root)
    assert (len(ds.train), len(ds.query), len(ds.gallery)) == (6, 2, 3)
    # Identities start at 1 and the test ones follow the training ones (list_val's included).
    assert sorted({s.pid for s in ds.train}) == [1, 2, 3]
    assert sorted({s.pid for s in ds.query}) == [4, 5] and sorted({s.pid for s in ds.gallery}) == [4, 5, 6]
    assert sorted({s.camid for s in ds.train}) == [1, 2, 3, 11, 12, 15]
    assert sorted((s.pid, s.camid) for s in ds.query) == [(4, 10), (5, 14)]
    # Each name keeps the original after the identity and camera, so that it can be traced back.
    names = {Path(s.path).name for s in ds.train}
    assert "0001_c12_0000_001_12_0303morning_0001_0.jpg" in names, names


def test_msmt17_second_fetch_returns_at_once_and_drop_location_takes_either_version(tmp_path, monkeypatch):
    spec = msmt17_spec()
    root = tmp_path / "data"
    write_zip(root / "MSMT17_V1.zip", msmt17_members("MSMT17_V1"))  # the drop location, under V1's name
    path = fetch("msmt17", root, progress=False, spec=spec)
    assert read_marker(path)["source"] == str((root / "MSMT17_V1.zip").resolve())

    def boom(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(fetch_mod, "safe_extract", boom)
    monkeypatch.setattr(fetch_mod, "verify_archive", boom)
    assert fetch("msmt17", root, progress=False, spec=spec) == path


def test_market_given_as_msmt17_is_refused(tmp_path):
    archive = write_zip(tmp_path / "src" / "MSMT17_V1.zip", dataset_members())
    fails(
        tmp_path,
        archive,
        msmt17_spec(),
        ["is not an MSMT17 release", "MSMT17_V1/ with train/ and test/", "top level: Market-1501-v15.09.15/"],
    )


def test_msmt17_missing_list_file_is_named(tmp_path):
    archive = write_zip(tmp_path / "src" / "MSMT17_V2.zip", msmt17_members("MSMT17_V2", drop_list="list_val.txt"))
    fails(tmp_path, archive, msmt17_spec(), ["MSMT17_V2/list_val.txt is missing", "list_train.txt"])


def test_msmt17_count_mismatch_names_the_split(tmp_path):
    spec = msmt17_spec(counts={**MSMT17_COUNTS, "query": SplitCount(images=3, ids=2)})
    archive = write_zip(tmp_path / "src" / "MSMT17_V1.zip", msmt17_members())
    message = fails(tmp_path, archive, spec, ["query: expected 3 images / 2 ids, found 2 / 2", "Nothing was installed"])
    assert "bounding_box_train" not in message  # only the split that differs


@pytest.mark.parametrize(
    "line, needles",
    [
        ("0005/0005_000_01_0303morning_0001_0.jpg 5", ["list_query.txt line 3", "not in the archive"]),
        ("../../outside.jpg 0", ["list_query.txt line 3", "'../../outside.jpg'", "not a path inside test/"]),
        ("0000/0000_000_01_0303morning_0001_0.jpg", ["list_query.txt line 3", "not 'IMAGE IDENTITY'"]),
        ("0000/IMG_0001.jpg 0", ["list_query.txt line 3", "IMG_0001.jpg", "not a camera number"]),
    ],
    ids=["missing-image", "traversal", "no-identity", "no-camera"],
)
def test_msmt17_bad_list_line_is_named(tmp_path, line, needles):
    members = msmt17_members()
    members["MSMT17_V1/list_query.txt"] += f"{line}\n".encode()
    archive = write_zip(tmp_path / "src" / "MSMT17_V1.zip", members)
    (tmp_path / "outside.jpg").write_bytes(b"not to be moved")
    fails(tmp_path, archive, msmt17_spec(), needles)
    assert (tmp_path / "outside.jpg").read_bytes() == b"not to be moved"


def test_msmt17_without_archive_says_where_to_request_it(tmp_path, capsys):
    assert cli_main(["data", "fetch", "msmt17", "--root", str(tmp_path / "data"), "--quiet"]) == 2
    err = capsys.readouterr().err
    for needle in ["on request", "pkuvmc.com", "MSMT17_V2.zip or MSMT17_V1.zip", "--archive", "counts"]:
        assert needle in err, err
    assert leftovers(tmp_path / "data") == []


# ---------------------------------------------------------------------------------------------
# CUHK03-NP


def test_cuhk03_np_installs_both_subsets_and_boxes_picks_one(tmp_path, as_catalog, capsys):
    spec = as_catalog(cuhk03_spec())
    archive = write_zip(tmp_path / "src" / "cuhk03-np.zip", cuhk03_members())
    root = tmp_path / "data"
    path = fetch("cuhk03_np", root, archive=archive, progress=False, spec=spec)
    assert sorted(p.name for p in path.iterdir()) == [MARKER, "detected", "labeled"]
    counts = read_marker(path)["counts"]
    assert counts["detected"]["bounding_box_test"] == {"files": 3, "images": 3, "ids": 2}
    labeled = load_dataset("cuhk03_np", root=root)  # the schema's default: labeled
    detected = load_dataset("cuhk03_np", root=root, boxes="detected")
    assert (labeled.root, len(labeled.gallery)) == (path / "labeled", 2)
    assert (detected.root, len(detected.gallery)) == (path / "detected", 3)
    assert sorted({s.camid for s in detected.train}) == [1, 2] and detected.num_train_pids == 2
    # A subset's own folder, as the workflow's status records it, is read as that subset.
    assert len(load_dataset("cuhk03_np", path=path / "detected").gallery) == 3
    # The workflow's step: the config's boxes (completed with the schema's default) picks the folder.
    status = prepare("cuhk03_np", {"boxes": "detected", "archive": str(archive)}, root)
    assert status["ok"] and status["path"] == str(path / "detected"), status
    assert status["counts"]["gallery"] == {"images": 3, "ids": 2} and status["marker"]["name"] == "cuhk03_np"
    assert cli_main(["data", "verify", "cuhk03_np", "--root", str(root), "--boxes", "detected"]) == 0
    assert "gallery        3 images" in capsys.readouterr().out


def test_a_missing_subset_folder_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        DatasetError, match=r"detected does not exist\. Run: python -m reid data fetch cuhk03_np --root \. "
    ):
        load_dataset("cuhk03_np", path="detected")  # a relative subset folder: its data root is two levels up
    with pytest.raises(
        DatasetError, match=re.escape(f"fetch cuhk03_np --root {tmp_path} --archive /path/to/cuhk03-np.zip")
    ):
        load_dataset("cuhk03_np", root=tmp_path, boxes="detected")


def test_cuhk03_np_second_fetch_returns_at_once(tmp_path, monkeypatch):
    spec = cuhk03_spec()
    root = tmp_path / "data"
    write_tar(root / "cuhk03-np.zip", cuhk03_members())  # a tar under the zip's name is read as a tar
    path = fetch("cuhk03_np", root, progress=False, spec=spec)
    monkeypatch.setattr(fetch_mod, "safe_extract", lambda *a, **k: pytest.fail("extracted again"))
    assert fetch("cuhk03_np", root, progress=False, spec=spec) == path
    # A spec whose detected counts differ is not taken as done.
    other = cuhk03_spec(subsets={**spec.subsets, "detected": _subset("labeled")})
    assert not fetch_mod.is_fetched(path, other)


def test_market_given_as_cuhk03_np_is_refused(tmp_path):
    archive = write_zip(tmp_path / "src" / "cuhk03-np.zip", dataset_members())
    fails(
        tmp_path,
        archive,
        cuhk03_spec(),
        ["is not a cuhk03_np release", "cuhk03-np/ with labeled/ and detected/", "Market-1501-v15.09.15/"],
    )


def test_cuhk03_np_without_detected_is_refused(tmp_path):
    archive = write_zip(tmp_path / "src" / "cuhk03-np.zip", cuhk03_members(subsets=("labeled",)))
    fails(tmp_path, archive, cuhk03_spec(), ["not a complete cuhk03_np release", "cuhk03-np/ lacks detected/"])


def test_cuhk03_np_subset_without_query_is_refused(tmp_path):
    archive = write_zip(tmp_path / "src" / "cuhk03-np.zip", cuhk03_members(drop_split=("detected", "query")))
    fails(tmp_path, archive, cuhk03_spec(), ["cuhk03-np/detected/ is missing query/"])


def test_cuhk03_np_count_mismatch_names_the_subset(tmp_path):
    spec = cuhk03_spec(subsets={name: _subset("labeled") for name in CUHK03})  # detected's gallery differs
    archive = write_zip(tmp_path / "src" / "cuhk03-np.zip", cuhk03_members())
    message = fails(tmp_path, archive, spec, ["detected/bounding_box_test: expected 2 images / 2 ids, found 3 / 2"])
    assert "labeled/" not in message


def test_cuhk03_np_without_archive_says_where_to_request_it(tmp_path):
    with pytest.raises(FetchError) as err:
        fetch("cuhk03_np", tmp_path / "data", progress=False)  # the real catalog entry: no URL
    for needle in ["on request", "CUHK_identification.html", "CUHK03-NP", str(tmp_path / "data" / "cuhk03-np.zip")]:
        assert needle in str(err.value), str(err.value)


def test_boxes_is_a_checked_config_option_with_its_default_in_the_schema():
    from reid.config import ConfigError, complete

    assert complete({"datasets": {"cuhk03_np": {}}})["datasets"]["cuhk03_np"] == {"boxes": "labeled"}
    with pytest.raises(ConfigError, match="datasets.cuhk03_np.boxes"):
        complete({"datasets": {"cuhk03_np": {"boxes": "both"}}})
    assert complete({"datasets": {"msmt17": {}}})["datasets"]["msmt17"] == {}  # no boxes for other sets


def test_a_cuhk03_np_path_that_names_the_other_subset_than_boxes_is_refused():
    """The schema fills in boxes: labeled, so a config's path to the detected folder must say boxes: detected."""
    from reid.data import subset_name
    from reid.data.market import DatasetError

    assert subset_name("cuhk03_np", None, "data/cuhk03_np/detected") == "detected"
    assert subset_name("cuhk03_np", "detected", "data/cuhk03_np/detected") == "detected"
    with pytest.raises(DatasetError, match="set boxes: detected"):
        subset_name("cuhk03_np", "labeled", "data/cuhk03_np/detected")
