"""Safe extraction and md5 verification of dataset archives (.zip, .tar, .tar.gz/.bz2/.xz).

Archives come from the internet or from whoever hands one over, so extraction trusts nothing in
them: :func:`safe_extract` checks every member before it writes anything, and refuses names
with ``..``, absolute paths, Windows drive letters or NUL bytes, names that would resolve
outside the target, symbolic and hard links, devices and anything else that is not a regular
file or folder. Only regular files and folders are created, with default permissions.
:func:`verify_archive` compares an archive's md5 with the catalog (an error for strict specs, a
:class:`ChecksumWarning` for the others). After extraction, ``_locate_top`` finds the one folder
holding the three splits and ``_verify_tree`` checks its layout and image counts against the
catalog; their errors name the archive.

Downloading and the ``fetch()`` orchestration (steps 1-5 of the dataset acquisition) live in
:mod:`reid.data.fetch`, which re-exports the public names; this module must not import it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tarfile
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from reid.data.catalog import SPLITS, DatasetSpec
from reid.data.market import DatasetError, count_problems, layout_counts, load_market_layout
from reid.utils import md5sum

__all__ = ["FetchError", "ChecksumWarning", "safe_extract", "verify_archive"]

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # Extraction copies this many bytes at a time.
IGNORED_TOP_LEVEL = {"__MACOSX"}  # Archivers add these top-level folders (macOS zip metadata).


# Raised by downloading (reid.data.fetch) as well; it lives here so that this module needs nothing
# from reid.data.fetch.
class FetchError(Exception):
    """Signal that a dataset could not be obtained or verified; the message says what failed and what to do."""


class ChecksumWarning(UserWarning):
    """Warn that an archive's md5 differs from the catalog for a dataset that accepts repackagings."""


# --------------------------------------------------------------------------------------------
# checksum


def verify_archive(path: str | os.PathLike, spec: DatasetSpec) -> str:
    """Return the md5 of ``path``; a mismatch with ``spec.md5`` raises (strict specs) or warns."""
    path = Path(path)
    if not path.is_file():
        raise FetchError(f"archive {path} does not exist or is not a file.")
    digest = md5sum(path)
    if digest == spec.md5 or not spec.md5:  # With no published md5 (MSMT17, CUHK03-NP) the counts decide.
        return digest
    if spec.strict_md5:
        raise FetchError(
            f"{path} has md5 {digest}, but {spec.archive_name} (the published {spec.name} release) "
            f"has md5 {spec.md5}: the file is damaged, truncated or a different release. Nothing was "
            f"extracted and the file was left as it is. Obtain the archive again (or check you passed "
            f"the right file)."
        )
    message = (
        f"{path} has md5 {digest}, not the original {spec.archive_name} md5 {spec.md5}. "
        f"{spec.name} circulates in several repackagings, so the archive is accepted only if its "
        f"image counts match the published release exactly."
    )
    log.warning(message)
    warnings.warn(message, ChecksumWarning, stacklevel=2)
    return digest


# --------------------------------------------------------------------------------------------
# extraction


_DRIVE = re.compile(r"^[A-Za-z]:")

try:
    from lzma import LZMAError as _LZMAError
except ImportError:  # pragma: no cover - Python built without lzma
    _LZMAError = OSError
# A damaged or truncated archive raises one of these while being read (bz2 raises OSError).
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    _LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


def _member_path(name: str, archive: Path) -> PurePosixPath | None:
    """Return the safe relative path of an archive member, or None for entries naming the root itself.

    Raises FetchError for names that could escape the extraction folder.
    """
    if "\x00" in name:
        raise FetchError(f"{archive}: refusing member {name!r}: its name contains a NUL byte.")
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or _DRIVE.match(normalised):
        raise FetchError(
            f"{archive}: refusing member {name!r}: absolute path (it would be written outside the target)."
        )
    parts = [p for p in normalised.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise FetchError(f"{archive}: refusing member {name!r}: it contains '..' (path traversal).")
    if not parts:
        return None
    return PurePosixPath(*parts)


def _inside(dest: Path, rel: PurePosixPath, name: str, archive: Path) -> Path:
    target = dest.joinpath(*rel.parts)
    root = os.path.realpath(dest)
    resolved = os.path.realpath(target)
    if os.path.commonpath([root, resolved]) != root:
        raise FetchError(f"{archive}: refusing member {name!r}: it resolves outside the target ({resolved}).")
    return target


def _zip_plan(zf: zipfile.ZipFile, archive: Path) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    plan = []
    for info in zf.infolist():
        rel = _member_path(info.filename, archive)
        mode = info.external_attr >> 16
        if mode and stat.S_ISLNK(mode):
            raise FetchError(f"{archive}: refusing member {info.filename!r}: it is a symbolic link.")
        if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and stat.S_IFMT(mode):
            raise FetchError(f"{archive}: refusing member {info.filename!r}: not a regular file or folder.")
        if rel is not None:
            plan.append((info, rel))
    return plan


def _tar_plan(tf: tarfile.TarFile, archive: Path) -> list[tuple[tarfile.TarInfo, PurePosixPath]]:
    plan = []
    for member in tf.getmembers():
        rel = _member_path(member.name, archive)
        if member.issym() or member.islnk():
            kind = "symbolic" if member.issym() else "hard"
            raise FetchError(
                f"{archive}: refusing member {member.name!r}: it is a {kind} link (to {member.linkname!r})."
            )
        if not (member.isfile() or member.isdir()):
            raise FetchError(f"{archive}: refusing member {member.name!r}: not a regular file or folder.")
        if rel is not None:
            plan.append((member, rel))
    return plan


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Extract a .zip or .tar(.gz/.bz2/.xz) archive into ``dest``.

    Every member is checked before anything is written: ``..``, absolute paths, drive letters,
    symbolic and hard links and device files raise FetchError naming the member. Only regular
    files and folders are created (archive permissions are not applied). A damaged archive
    raises FetchError; what was extracted so far stays in ``dest`` for the caller to remove.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FetchError(f"archive {archive} does not exist or is not a file.")
    dest.mkdir(parents=True, exist_ok=True)
    current = "(archive index)"
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                plan = _zip_plan(zf, archive)
                targets = [(_inside(dest, rel, info.filename, archive), info) for info, rel in plan]
                for target, info in targets:
                    current = info.filename
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as dst:  # zf.open checks the CRC.
                        shutil.copyfileobj(src, dst, CHUNK)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as tf:
                plan = _tar_plan(tf, archive)
                targets = [(_inside(dest, rel, m.name, archive), m) for m, rel in plan]
                for target, member in targets:
                    current = member.name
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tf.extractfile(member)
                    if src is None:  # pragma: no cover - isfile() members always have data
                        raise FetchError(f"{archive}: member {member.name!r} has no data.")
                    with src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
        else:
            raise FetchError(
                f"{archive} is neither a zip nor a tar archive (it may be truncated or damaged, "
                "or a web page saved under the archive's name)."
            )
    except FetchError:
        raise
    except _ARCHIVE_ERRORS as err:
        raise FetchError(
            f"{archive}: extraction failed at member {current!r}: {type(err).__name__}: {err}. The archive "
            "is damaged or truncated (or the disk is full); obtain it again."
        ) from err


# --------------------------------------------------------------------------------------------
# contents: the dataset folder inside the extracted archive, checked against the catalog


def _splits_in(folder: Path) -> list[str]:
    return [s for s in SPLITS if (folder / s).is_dir()]


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in IGNORED_TOP_LEVEL)


def _locate_top(tmp: Path, spec: DatasetSpec, archive: Path) -> Path:
    """Return the extracted folder holding the three splits: spec.top_dir, the archive root, or the
    single folder (at most two levels down) that has them."""
    preferred = tmp / spec.top_dir
    if len(_splits_in(preferred)) == len(SPLITS):
        return preferred
    candidates = [tmp]
    for child in _subdirs(tmp):
        candidates.append(child)
        candidates.extend(_subdirs(child))
    complete = [c for c in candidates if len(_splits_in(c)) == len(SPLITS)]
    if len(complete) == 1:
        return complete[0]
    if len(complete) > 1:
        shown = ", ".join(str(c.relative_to(tmp)) + "/" for c in complete)
        raise FetchError(
            f"{archive} holds more than one folder with {', '.join(SPLITS)}: {shown}; expected one "
            f"({spec.top_dir}/). Repackage it with a single dataset folder."
        )
    partial = max(candidates, key=lambda c: len(_splits_in(c)))
    found = _splits_in(partial)
    expected = "/, ".join(SPLITS) + "/"
    if found:
        missing = [s + "/" for s in SPLITS if s not in found]
        where = str(partial.relative_to(tmp)) if partial != tmp else "the archive's top level"
        raise FetchError(
            f"{archive} is not in Market-1501 layout: {where} holds {', '.join(s + '/' for s in found)} "
            f"but is missing {', '.join(missing)} (expected {expected} in {spec.top_dir}/). "
            "The archive is incomplete or a different dataset; nothing was installed."
        )
    top_level = sorted(p.name + ("/" if p.is_dir() else "") for p in tmp.iterdir())
    raise FetchError(
        f"{archive} is not in Market-1501 layout: no folder holds {expected} (top level: "
        f"{', '.join(top_level[:10]) or 'nothing'}). Expected {spec.top_dir}/ with those folders; "
        "nothing was installed."
    )


def _verify_tree(top: Path, spec: DatasetSpec, archive: Path, md5_matches: bool, where: str = "") -> dict:
    """Return the counts of the Market-1501-layout folder ``top`` once they equal the spec's.
    ``where`` (a subset's folder, ``detected/``) prefixes each difference, so that it names the folder."""
    try:
        counts = layout_counts(top)
    except DatasetError as err:
        raise FetchError(f"{archive}: the extracted files are not a {spec.name} release: {err}") from err
    problems = [where + problem for problem in count_problems(counts, spec)]
    if problems:
        why = (
            "This repackaging differs from the published release, which is the only one accepted."
            if not md5_matches
            else "The archive's md5 matches, so the catalog or this code is wrong: please report it."
        )
        raise FetchError(
            f"{archive} does not hold the {spec.name} release the papers report on: "
            + "; ".join(problems)
            + f". {why} Nothing was installed."
        )
    try:
        load_market_layout(top, name=spec.name, spec=spec)
    except DatasetError as err:
        raise FetchError(f"{archive}: the extracted dataset failed verification: {err}") from err
    return counts
