"""Acquisition of the public datasets: download (or take a local archive), verify, extract.

``fetch("market1501", root)`` leaves the dataset in ``root/market1501`` (``root/<name>`` for
the others) together with a marker file (``.reid_dataset.json``) recording the archive's
md5, the verified image counts, when and from where. The order of events makes every state a
later step can see either complete or obviously incomplete:

1. the archive comes from ``archive=PATH``, else from the drop location ``root/<archive_name>``,
   else it is downloaded into ``root/<archive_name>.part`` (resumed with HTTP Range requests)
   and renamed to ``root/<archive_name>`` only once complete (and, for strict specs, only once
   its md5 matches);
2. its md5 is compared with the catalog: a mismatch is an error for specs with
   ``strict_md5`` (Market-1501) and a warning for the others (DukeMTMC-reID, which was
   withdrawn and circulates in several repackagings), whose counts must then match exactly;
3. it is extracted into ``root/.tmp-<name>-XXXX`` refusing any member that could land outside
   it (``..``, absolute paths, drive letters, links, devices);
4. the three split folders are located (MSMT17 and CUHK03-NP are first converted into them,
   inside the temporary folder, by :mod:`reid.data.convert`) and their counts checked against
   the catalog;
5. the marker is written and the folder is renamed to ``root/<name>``.

Any failure removes the temporary folder; nothing is ever left at ``root/<name>`` without a
marker. A second call finds the marker and returns at once (``force=True`` redoes everything).

This module downloads and orchestrates; the md5 check, the safe extraction and the layout and
count checks of steps 2-4 live in :mod:`reid.data.archive`. Its public names (``FetchError``,
``ChecksumWarning``, ``verify_archive``, ``safe_extract``) are re-exported here, and ``fetch()``
calls them through this module's namespace (so patching ``reid.data.fetch.safe_extract`` works).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import http.client
import logging
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm.auto import tqdm

from reid.data.archive import ChecksumWarning, FetchError, safe_extract, verify_archive
from reid.data.catalog import CATALOG, DatasetSpec
from reid.data.convert import marker_matches, suite_tree
from reid.data.market import (
    MARKER,
    load_market_layout,  # noqa: F401 - unused since the split; tests reach it as fetch_mod.load_market_layout
    read_marker,
    write_marker,
)
from reid.utils import md5sum

__all__ = [
    "FetchError",
    "ChecksumWarning",
    "fetch",
    "download",
    "safe_extract",
    "verify_archive",
    "is_fetched",
]

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # Downloading reads this many bytes at a time.
USER_AGENT = "reid-msrp-fetch/0.1 (+python urllib)"
PART_SUFFIX = ".part"
MISMATCH_SUFFIX = ".md5-mismatch"

# Datasets whose authors took them down: no URL, and the error says so. The text is the catalog's,
# which the model cards (reid.card) show too.
WITHDRAWN = {spec.name: spec.withdrawn for spec in CATALOG.values() if spec.withdrawn}


# --------------------------------------------------------------------------------------------
# messages


def _say(message: str, progress: bool) -> None:
    log.info(message)
    if progress:
        print(message, file=sys.stderr, flush=True)


def _manual_hint(spec: DatasetSpec, root: Path) -> str:
    return (
        f"Download {spec.archive_name} yourself"
        + (f" (see {spec.homepage})" if spec.homepage else "")
        + f" and put it at {root / spec.archive_name}, or pass --archive PATH "
        f"(Python: fetch({spec.name!r}, {str(root)!r}, archive=PATH))."
    )


def _no_source_message(spec: DatasetSpec, root: Path) -> str:
    why = WITHDRAWN.get(spec.name) or spec.request or f"No download URL is known for {spec.name}."
    md5_rule = (
        "it must have exactly this md5"
        if spec.strict_md5
        else "other repackagings are accepted if their image counts match the published ones exactly"
    )
    known = (
        f"the original release has md5 {spec.md5}; {md5_rule}"
        if spec.md5
        else "any packaging whose image counts match the published ones exactly"
    )
    names = " or ".join((spec.archive_name, *spec.other_archive_names))
    return (
        f"{why} If you have a copy of {names} ({known}), put it at {root / spec.archive_name} or pass --archive PATH "
        f"(Python: fetch({spec.name!r}, {str(root)!r}, archive=PATH))."
    )


# --------------------------------------------------------------------------------------------
# download


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + PART_SUFFIX)


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """Return (first byte, total size) from a Content-Range header, with None where unknown."""
    match = _CONTENT_RANGE.match(value or "")
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return start, total


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _transfer(url: str, part: Path, offset: int, progress: bool, timeout: float, label: str) -> bool:
    """Make one request that appends to (offset > 0, server honours Range) or rewrites ``part``.

    True when ``part`` holds the whole file; False when ``part`` was deleted and the caller
    should start again from zero (a Range answer that does not fit the partial file).
    """
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return _range_not_satisfiable(err, part, offset)
        raise
    with response:
        _refuse_web_page(url, response)
        start = _where_to_write(url, response, part, offset)
        if start is None:
            return False
        mode, offset, total = start
        _write_body(response, part, mode, offset, total, progress, label)
    size = part.stat().st_size
    if total is not None and size != total:
        raise FetchError(
            f"{url}: the connection ended after {size} of {total} bytes; the partial download is kept "
            f"at {part} and will be resumed by the next attempt."
        )
    return True


def _range_not_satisfiable(err: urllib.error.HTTPError, part: Path, offset: int) -> bool:
    """Handle a refused Range request. The partial file is then either complete (True) or longer
    than the file; in that case it is deleted (False), so that the download restarts."""
    _, total = _parse_content_range(err.headers.get("Content-Range") if err.headers else None)
    err.close()
    if total == offset:
        return True
    part.unlink(missing_ok=True)
    return False


def _refuse_web_page(url: str, response) -> None:
    """Raise when the answer is a web page, since a web page is never the archive."""
    content_type = (response.headers.get("Content-Type") or "").lower()
    if content_type.startswith("text/html"):
        raise FetchError(
            f"{url}: the server returned a web page (Content-Type {content_type}), not the archive "
            "(for Google Drive this is usually the quota-exceeded or confirmation page)."
        )


def _where_to_write(url: str, response, part: Path, offset: int) -> tuple[str, int, int | None] | None:
    """Return (file mode, first byte, total size or None) for the body of ``response``, or None when a
    partial answer does not start where ``part`` ends; ``part`` is then deleted."""
    status = getattr(response, "status", None) or response.getcode()
    if offset and status == 206:
        start, total = _parse_content_range(response.headers.get("Content-Range"))
        if start != offset:
            part.unlink(missing_ok=True)
            return None
        return "ab", offset, total
    # This is a fresh download, or the server ignored the Range request (it answered 200, as
    # file:// URLs do), so the file is written again from its first byte.
    if offset:
        log.info("%s ignored the Range request; restarting the download from the beginning", url)
    return "wb", 0, _int_or_none(response.headers.get("Content-Length"))


def _write_body(response, part: Path, mode: str, offset: int, total: int | None, progress: bool, label: str) -> None:
    """Copy the body of ``response`` into ``part`` block by block, with a progress bar."""

    with (
        open(part, mode) as fh,
        tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=label,
            disable=not progress,
            leave=False,
        ) as bar,
    ):
        while True:
            block = response.read(CHUNK)
            if not block:
                break
            fh.write(block)
            bar.update(len(block))


def download(
    url: str, dest: str | os.PathLike, md5: str | None = None, progress: bool = True, timeout: float = 60
) -> Path:
    """Download ``url`` (http, https or file) to ``dest`` and return ``dest``.

    Bytes go to ``dest.part`` first; an existing ``.part`` is resumed with a Range request (a
    server that ignores Range restarts it cleanly). ``dest`` appears only once the download is
    complete and, if ``md5`` is given, matches it; a complete file with another md5 is moved
    aside to ``dest.md5-mismatch``. Errors raise FetchError naming the URL.
    """
    dest = Path(dest)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise FetchError(f"{url}: unsupported URL scheme {scheme or '(none)'!r}; use http(s):// or file://.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    try:
        for _attempt in range(3):
            offset = part.stat().st_size if part.is_file() else 0
            if _transfer(url, part, offset, progress, timeout, dest.name):
                break
        else:
            raise FetchError(f"{url}: the server's answers to resumed requests do not fit {part}; gave up.")
    except FetchError:
        raise
    except urllib.error.HTTPError as err:
        raise FetchError(f"{url}: HTTP error {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise FetchError(f"{url}: {err.reason}") from err
    except (OSError, http.client.HTTPException, ValueError) as err:
        kept = f"; the partial download is kept at {part} and will be resumed" if part.is_file() else ""
        raise FetchError(f"{url}: {type(err).__name__}: {err}{kept}") from err
    if md5 is not None:
        digest = md5sum(part)
        if digest != md5:
            aside = dest.with_name(dest.name + MISMATCH_SUFFIX)
            os.replace(part, aside)
            raise FetchError(
                f"{url}: the downloaded file has md5 {digest}, expected {md5}; it was moved aside to "
                f"{aside} (delete it once you have looked at it)."
            )
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------------------------
# fetch


def _resolve_spec(name: str | None, spec: DatasetSpec | None) -> DatasetSpec:
    if spec is not None:
        if name is not None and name != spec.name:
            raise FetchError(f"fetch: name {name!r} does not match spec.name {spec.name!r}.")
        return spec
    if name not in CATALOG:
        raise FetchError(f"unknown dataset {name!r}; known: {', '.join(sorted(CATALOG))}.")
    return CATALOG[name]


def is_fetched(folder: str | os.PathLike, spec: DatasetSpec) -> bool:
    """Return True if ``folder`` was installed by fetch for this spec (marker check only; no re-count)."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    marker = read_marker(folder)
    if not isinstance(marker, dict) or marker.get("name") != spec.name:
        return False
    if marker.get("expected_md5") != spec.md5:
        return False
    if spec.strict_md5 and marker.get("md5") != spec.md5:
        return False
    counts = marker.get("counts")
    return isinstance(counts, dict) and marker_matches(folder, counts, spec)


@contextlib.contextmanager
def _lock(root: Path, name: str, progress: bool) -> Iterator[None]:
    """Hold an exclusive per-dataset lock, so that two fetches never share a .part or a temp folder."""
    try:
        import fcntl  # fcntl exists on POSIX only.
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(root / f".fetch-{name}.lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(f"another fetch of {name} is running in {root}; waiting for it", progress)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _clean_stale(root: Path, name: str) -> None:
    """Remove the temp folders of a killed earlier run, which is safe because we hold the lock."""
    for prefix in (f".tmp-{name}-", f".old-{name}-"):
        for path in root.glob(prefix + "*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)


def _normalise_urls(urls: str | Iterable[str] | None, spec: DatasetSpec) -> tuple[str, ...]:
    if urls is None:
        return tuple(spec.urls)
    if isinstance(urls, str):
        return (urls,)
    return tuple(urls)


def _obtain_archive(spec: DatasetSpec, root: Path, archive, urls, progress: bool) -> tuple[Path, str]:
    """Return (archive path, source description) from --archive, the drop location or a download."""
    if archive is not None:
        path = Path(archive).expanduser()
        if not path.is_file():
            raise FetchError(
                f"archive {path} does not exist or is not a file (expected {spec.archive_name}"
                + (f", md5 {spec.md5})." if spec.md5 else ").")
            )
        return path, str(path.resolve())
    for drop in (root / name for name in (spec.archive_name, *spec.other_archive_names)):
        if drop.is_file():
            _say(f"using {drop}", progress)
            return drop, str(drop.resolve())
    url_list = _normalise_urls(urls, spec)
    if not url_list:
        raise FetchError(_no_source_message(spec, root))
    failures = []
    for url in url_list:
        _say(f"downloading {spec.archive_name} from {url}", progress)
        try:
            path = download(url, drop, md5=spec.md5 if spec.strict_md5 else None, progress=progress)
        except FetchError as err:
            _say(f"  failed: {err}", progress)
            failures.append(str(err))
            continue
        return path, url
    listed = "\n".join(f"  - {failure}" for failure in failures)
    raise FetchError(
        f"could not download {spec.name} ({spec.archive_name}) from any of {len(url_list)} URL(s):\n"
        f"{listed}\n{_manual_hint(spec, root)}"
    )


def _install(top: Path, final: Path, name: str) -> None:
    """Rename the verified folder to ``final``, replacing what is there (after moving it aside)."""
    old = None
    if final.exists() or final.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".old-{name}-", dir=final.parent))
        os.rename(final, old / "previous")
    os.rename(top, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def fetch(
    name: str | None,
    root: str | os.PathLike,
    archive: str | os.PathLike | None = None,
    urls: str | Iterable[str] | None = None,
    progress: bool = True,
    force: bool = False,
    *,
    spec: DatasetSpec | None = None,
) -> Path:
    """Obtain, verify and install dataset ``name`` into ``root/<name>``, and return that folder.

    ``archive``: a local copy of the archive (never modified or deleted). Without it the drop
    location ``root/<archive_name>`` is used if present, else ``urls`` (default: the catalog's)
    are tried in order. ``spec`` overrides the catalog entry (tests, private mirrors).
    ``force`` re-verifies and re-installs even if a marker says the work is done.
    """
    spec = _resolve_spec(name, spec)
    root = Path(root).expanduser()
    final = root / spec.name
    if not force and is_fetched(final, spec):
        return final
    if root.exists() and not root.is_dir():
        raise FetchError(f"data root {root} exists but is not a folder.")
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root, spec.name, progress):
        if not force and is_fetched(final, spec):  # A concurrent fetch finished it meanwhile.
            return final
        _clean_stale(root, spec.name)
        _check_replaceable(final, spec, root, force, progress)
        source, label = _obtain_archive(spec, root, archive, urls, progress)
        _say(f"verifying the md5 of {source}", progress)
        digest = verify_archive(source, spec)
        _extract_verify_install(source, label, digest, spec, root, final, progress)
    _say(f"{spec.name} is ready at {final}", progress)
    return final


def _check_replaceable(final: Path, spec: DatasetSpec, root: Path, force: bool, progress: bool) -> None:
    """Raise unless what is at ``final`` may be replaced: nothing, an empty folder, an earlier
    fetch of this dataset, or anything with ``force``. An empty folder is removed, since Snakemake
    makes its outputs' folders first and an empty folder is no dataset."""
    if final.is_dir() and not final.is_symlink() and not any(final.iterdir()):
        final.rmdir()
    if final.exists() or final.is_symlink():
        marker = read_marker(final) if final.is_dir() else None
        ours = isinstance(marker, dict) and marker.get("name") == spec.name
        if not ours and not force:
            raise FetchError(
                f"{final} already exists but was not installed by `reid data fetch` (no valid "
                f"{MARKER}). If it is a copy you extracted yourself, check it with "
                f"`python -m reid data verify {spec.name} --root {root}`; otherwise move it away, "
                f"or re-run with --force to replace it (it is only replaced after the new copy is verified)."
            )
        _say(f"{final} is outdated or incomplete; it will be replaced once the new copy is verified", progress)


def _extract_verify_install(
    source: Path, label: str, digest: str, spec: DatasetSpec, root: Path, final: Path, progress: bool
) -> None:
    """Extract the archive into a temporary folder under ``root``, check its layout and counts,
    write the marker and move it to ``final``. The temporary folder is removed in any case, so
    that a failure leaves nothing behind."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{spec.name}-", dir=root))
    try:
        _say(f"extracting {source.name}", progress)
        safe_extract(source, tmp)
        _say("checking the layout and image counts", progress)
        top, counts, extra = suite_tree(tmp, spec, source, digest == spec.md5)
        write_marker(
            top,
            {
                "name": spec.name,
                "archive": spec.archive_name,
                "md5": digest,
                "expected_md5": spec.md5,
                "md5_matches": digest == spec.md5,
                "counts": counts,
                "verified_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "source": label,
            }
            | extra,
        )
        _install(top, final, spec.name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
