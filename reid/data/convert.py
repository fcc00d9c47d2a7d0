"""Turn an extracted archive into the suite's own layout, once, when the dataset is fetched.

Every dataset the suite installs is read by one parser, the Market-1501 layout's
(:mod:`reid.data.market`): ``bounding_box_train/``, ``query/`` and ``bounding_box_test/``, the
identity before the first underscore of a file name and the camera after ``_c``. Market-1501 and
DukeMTMC-reID already come that way. The other two public sets are converted here, inside the
fetch's temporary folder, so that a failure leaves nothing behind and the result is installed
by one rename (reid.data.fetch):

- **MSMT17** (V1: ``train/``, ``test/``; V2, the same images with blurred faces:
  ``mask_train_v2/``, ``mask_test_v2/``; both with ``list_train.txt``, ``list_val.txt``,
  ``list_query.txt`` and ``list_gallery.txt``). The list files define the split: each line is
  an image under the training or test folder and its identity. The training split is
  list_train and list_val together (the published 32,621 images). The version is read from
  the image folders the archive holds. Each listed image is moved (renamed, not copied: there
  are 126,441 of them) to ``<pid>_c<camera>_<its own name>``. Identities start at 1, because
  the layout keeps 0 for distractors, and the test identities are numbered after the training
  ones, because in MSMT17's lists both start from 0 and name different people. The camera
  (1 to 15) is the third field of the image's own name.
- **CUHK03-NP** (``labeled/`` and ``detected/``, each already in Market-1501 layout, as Zhong
  et al. released the new protocol). Both subsets are installed, each in its own folder
  (``root/cuhk03_np/labeled``, ``root/cuhk03_np/detected``), because every copy of the
  archive holds both and they are small: the config's ``boxes`` then only chooses which folder
  is read, so switching needs neither the archive nor a second extraction.

Each converted folder's counts are checked against the catalog's, as Market-1501's are.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from reid.data.archive import FetchError, _inside, _locate_top, _member_path, _subdirs, _verify_tree
from reid.data.catalog import SPLITS, DatasetSpec, subset_spec

# These are the two versions' image folders: training images first, test images second.
MSMT17_VERSIONS = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}
# Each list file names images of the training (0) or test (1) folder, and fills one split.
MSMT17_LISTS = {
    "list_train.txt": (0, "bounding_box_train"),
    "list_val.txt": (0, "bounding_box_train"),
    "list_query.txt": (1, "query"),
    "list_gallery.txt": (1, "bounding_box_test"),
}


def suite_tree(tmp: Path, spec: DatasetSpec, archive: Path, md5_matches: bool) -> tuple[Path, dict, dict]:
    """Return the folder under ``tmp`` to install, its verified counts, and what else its marker
    records (MSMT17's version), for an archive extracted into ``tmp``."""
    if spec.layout == "msmt17":
        return _msmt17(tmp, spec, archive, md5_matches)
    if spec.layout == "cuhk03_np":
        return _cuhk03_np(tmp, spec, archive, md5_matches)
    top = _locate_top(tmp, spec, archive)
    return top, _verify_tree(top, spec, archive, md5_matches), {}


def marker_matches(folder: Path, counts: dict, spec: DatasetSpec) -> bool:
    """Return True if a marker's ``counts`` are those of ``spec`` and the folders they describe
    are in ``folder`` (one set of counts per subset for CUHK03-NP)."""
    if spec.subsets:
        return all(
            isinstance(counts.get(name), dict) and _counts_match(folder / name, counts[name], subset_spec(spec, name))
            for name in spec.subsets
        )
    return _counts_match(folder, counts, spec)


def _counts_match(folder: Path, counts: dict, spec: DatasetSpec) -> bool:
    for split in SPLITS:
        got, want = counts.get(split) or {}, spec.counts[split]
        if (got.get("images"), got.get("ids")) != (want.images, want.ids):
            return False
    if (counts.get("bounding_box_test") or {}).get("files") != spec.gallery_files:
        return False
    return all((folder / split).is_dir() for split in SPLITS)


# --------------------------------------------------------------------------------------------
# where the dataset's folder is in the extracted archive


def _candidates(tmp: Path) -> list[Path]:
    """Return the archive's top level and the folders one and two levels down, where a dataset's folder may be."""
    found = [tmp]
    for child in _subdirs(tmp):
        found.append(child)
        found.extend(_subdirs(child))
    return found


def _shown(folder: Path, tmp: Path) -> str:
    """Return a folder of the extracted archive as the archive names it ('' for its top level)."""
    return "" if folder == tmp else folder.relative_to(tmp).as_posix() + "/"


def _top_level(tmp: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in tmp.iterdir())
    return ", ".join(names[:10]) or "nothing"


def _new_folder(tmp: Path, splits: tuple[str, ...]) -> Path:
    """Make the converted dataset's folder under ``tmp`` with empty ``splits``; its name cannot be one of the archive's."""
    out = Path(tempfile.mkdtemp(prefix=".converted-", dir=tmp))
    for split in splits:
        (out / split).mkdir()
    return out


# --------------------------------------------------------------------------------------------
# MSMT17


def _msmt17(tmp: Path, spec: DatasetSpec, archive: Path, md5_matches: bool) -> tuple[Path, dict, dict]:
    folder, version = _find_msmt17(tmp, archive)
    where = _shown(folder, tmp)
    lists = {name: _read_list(folder / name, where + name, archive) for name in MSMT17_LISTS}
    out = _new_folder(tmp, SPLITS)
    _move_listed(folder, MSMT17_VERSIONS[version], lists, out, where, archive)
    return out, _verify_tree(out, spec, archive, md5_matches), {"version": version}


def _find_msmt17(tmp: Path, archive: Path) -> tuple[Path, str]:
    """Return the extracted MSMT17 folder and its version, which its image folders tell."""
    found = [
        (folder, version)
        for folder in _candidates(tmp)
        for version, image_dirs in MSMT17_VERSIONS.items()
        if all((folder / d).is_dir() for d in image_dirs)
    ]
    if len(found) == 1:
        return found[0]
    if found:
        shown = ", ".join(f"{_shown(folder, tmp) or 'the top level'} ({version})" for folder, version in found)
        raise FetchError(f"{archive} holds more than one MSMT17 folder: {shown}; expected one. Nothing was installed.")
    raise FetchError(
        f"{archive} is not an MSMT17 release: expected MSMT17_V1/ with train/ and test/, or MSMT17_V2/ with "
        f"mask_train_v2/ and mask_test_v2/, but no folder holds either pair (top level: {_top_level(tmp)}). "
        "Nothing was installed."
    )


def _read_list(path: Path, shown: str, archive: Path) -> list[tuple[int, str, int]]:
    """Return a list file's entries as (line number, image path, identity)."""
    if not path.is_file():
        raise FetchError(
            f"{archive}: {shown} is missing, and MSMT17's split is defined by its four list files "
            f"({', '.join(MSMT17_LISTS)}). Nothing was installed."
        )
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].isdigit():
            raise FetchError(
                f"{archive}: {shown} line {number} is {line.strip()!r}, not 'IMAGE IDENTITY'. Nothing was installed."
            )
        entries.append((number, fields[0], int(fields[1])))
    return entries


def _move_listed(folder: Path, image_dirs: tuple[str, str], lists: dict, out: Path, where: str, archive: Path) -> None:
    """Move every listed image into its split under ``out`` with its Market-1501-layout name."""
    train = [pid for name, (which, _) in MSMT17_LISTS.items() if which == 0 for _, _, pid in lists[name]]
    # Identities start at 1 (0 marks distractors), and the test ones follow the training ones.
    first = (1, 1 + max(train, default=-1) + 1)
    taken: set[str] = set()
    for name, (which, split) in MSMT17_LISTS.items():
        images = folder / image_dirs[which]
        for number, image, pid in lists[name]:
            line = f"{where}{name} line {number}"
            source = _listed_image(images, image, line, archive)
            target = f"{pid + first[which]:04d}_c{_camera(source.name, line, archive)}_{source.name}"
            if target in taken or not source.is_file():
                raise FetchError(
                    f"{archive}: {line} names {image_dirs[which]}/{image}, which is not in the archive or is "
                    "listed twice. Nothing was installed."
                )
            taken.add(target)
            os.rename(source, out / split / target)


def _listed_image(images: Path, image: str, line: str, archive: Path) -> Path:
    """Return where a list file's image is, refusing a name that would reach outside ``images``
    (the list files come from the archive, so they are checked as its members are)."""
    try:
        relative = _member_path(image, archive)
        path = _inside(images, relative, image, archive) if relative is not None else None
    except FetchError:
        path = None
    if path is None:
        raise FetchError(
            f"{archive}: {line} names {image!r}, which is not a path inside {images.name}/ (it is empty, "
            "absolute or has '..'). Nothing was installed."
        )
    return path


def _camera(name: str, line: str, archive: Path) -> int:
    """Return the camera of an MSMT17 image from its name's third field (0000_000_01_...: camera 1)."""
    fields = PurePosixPath(name).stem.split("_")
    if len(fields) < 3 or not fields[2].isdigit() or int(fields[2]) < 1:
        raise FetchError(
            f"{archive}: {line} names {name}, whose third field is not a camera number (as in "
            "0000_000_01_0303morning_0015_0.jpg). Nothing was installed."
        )
    return int(fields[2])


# --------------------------------------------------------------------------------------------
# CUHK03-NP


def _cuhk03_np(tmp: Path, spec: DatasetSpec, archive: Path, md5_matches: bool) -> tuple[Path, dict, dict]:
    folder = _find_subsets(tmp, spec, archive)
    out = _new_folder(tmp, ())
    counts = {}
    for name in spec.subsets:
        missing = [split + "/" for split in SPLITS if not (folder / name / split).is_dir()]
        if missing:
            raise FetchError(
                f"{archive}: {_shown(folder / name, tmp)} is missing {', '.join(missing)} (expected "
                f"{', '.join(s + '/' for s in SPLITS)} in each of {', '.join(n + '/' for n in spec.subsets)}). "
                "Nothing was installed."
            )
        os.rename(folder / name, out / name)
        counts[name] = _verify_tree(out / name, subset_spec(spec, name), archive, md5_matches, where=f"{name}/")
    return out, counts, {}


def _find_subsets(tmp: Path, spec: DatasetSpec, archive: Path) -> Path:
    """Return the extracted folder that holds every subset's folder (labeled/ and detected/)."""
    expected = " and ".join(name + "/" for name in spec.subsets)
    found = [folder for folder in _candidates(tmp) if any((folder / name).is_dir() for name in spec.subsets)]
    complete = [folder for folder in found if all((folder / name).is_dir() for name in spec.subsets)]
    if len(complete) == 1:
        return complete[0]
    if complete:
        shown = ", ".join(_shown(folder, tmp) or "the top level" for folder in complete)
        raise FetchError(f"{archive} holds {expected} in more than one folder: {shown}. Nothing was installed.")
    if found:
        folder = found[0]
        missing = [name + "/" for name in spec.subsets if not (folder / name).is_dir()]
        raise FetchError(
            f"{archive} is not a complete {spec.name} release: {_shown(folder, tmp) or 'its top level'} lacks "
            f"{', '.join(missing)} (expected {expected} in {spec.top_dir}/). Nothing was installed."
        )
    raise FetchError(
        f"{archive} is not a {spec.name} release: expected {spec.top_dir}/ with {expected}, each in Market-1501 "
        f"layout, but no folder holds them (top level: {_top_level(tmp)}). Nothing was installed."
    )
