"""Acquisition (reid.data.fetch) against local fixtures only: a miniature Market-layout archive,
file:// URLs and an HTTP server on 127.0.0.1. A socket guard makes any other connection fail."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import socket
import tarfile
import threading
import warnings
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from reid.cli import main as cli_main
from reid.data import CATALOG, SplitCount
from reid.data import fetch as fetch_mod
from reid.data.archive import ChecksumWarning, FetchError, safe_extract, verify_archive
from reid.data.fetch import download, fetch
from reid.data.market import MARKER, read_marker

MARKET_TOP = "Market-1501-v15.09.15"
DUKE_TOP = "DukeMTMC-reID"

# A miniature release: every query has a gallery match from another camera; the gallery has a
# distractor (0000) and a junk image (-1), which counts as a file but not as an image.
SPLIT_FILES = {
    "bounding_box_train": [
        "0001_c1s1_000001_00.jpg",
        "0001_c2s1_000002_00.jpg",
        "0002_c1s1_000003_00.jpg",
        "0002_c3s1_000004_00.jpg",
    ],
    "query": ["0003_c1s1_000005_00.jpg", "0004_c2s1_000006_00.jpg"],
    "bounding_box_test": [
        "0003_c2s1_000007_01.jpg",
        "0004_c1s1_000008_01.jpg",
        "0000_c3s1_000009_01.jpg",
        "-1_c1s1_000010_01.jpg",
    ],
}
COUNTS = {
    "bounding_box_train": SplitCount(images=4, ids=2),
    "query": SplitCount(images=2, ids=2),
    "bounding_box_test": SplitCount(images=3, ids=3),
}
GALLERY_FILES = 4
FIXED_DATE = (2015, 9, 15, 0, 0, 0)


# ---------------------------------------------------------------------------------------------
# guards: no test may leave the machine


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Refuse any connection or name lookup that is not the loopback interface."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and self.family != socket.AF_UNIX:
            raise AssertionError(f"test tried to connect to {address!r}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "::1", "localhost", None):
            raise AssertionError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


# ---------------------------------------------------------------------------------------------
# fixtures: archives


_JPEG_CACHE: dict[int, bytes] = {}


def jpeg(seed: int) -> bytes:
    if seed not in _JPEG_CACHE:
        img = Image.new("RGB", (8, 16), ((seed * 40) % 256, (seed * 90) % 256, (seed * 150) % 256))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        _JPEG_CACHE[seed] = buf.getvalue()
    return _JPEG_CACHE[seed]


def dataset_members(top: str = MARKET_TOP, drop_split: str | None = None, extra_gallery: int = 0) -> dict[str, bytes]:
    members, seed = {}, 0
    for split, names in SPLIT_FILES.items():
        if split == drop_split:
            continue
        names = list(names) + [f"{9000 + i:04d}_c5s1_{i:06d}_01.jpg" for i in range(extra_gallery)] * (
            split == "bounding_box_test"
        )
        for name in names:
            members[f"{top}/{split}/{name}"] = jpeg(seed)
            seed += 1
    members[f"{top}/gt_bbox/0001_c1s1_000001_00.jpg"] = jpeg(99)
    members[f"{top}/readme.txt"] = b"miniature fixture\n"
    return members


def write_zip(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        plain = [n for n in members if "/" in n and ".." not in n and not n.startswith("/") and ":" not in n]
        dirs = sorted({name.rsplit("/", 1)[0] + "/" for name in plain})  # folder entries, as zip tools write
        for d in dirs:
            zf.writestr(zipfile.ZipInfo(d, FIXED_DATE), b"")
        for name, data in members.items():
            info = zipfile.ZipInfo(name, FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name, FIXED_DATE)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return path


def write_tar(path: Path, members: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1442275200
            tf.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tf.addfile(info)
    return path


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def market_spec(archive: Path | None = None, **changes):
    fields = dict(
        md5=md5_of(archive) if archive is not None else "0" * 32,
        counts=dict(COUNTS),
        gallery_files=GALLERY_FILES,
        urls=(),
    )
    fields.update(changes)
    return dataclasses.replace(CATALOG["market1501"], **fields)


def duke_spec(**changes):
    fields = dict(counts=dict(COUNTS), gallery_files=GALLERY_FILES, urls=())
    fields.update(changes)
    return dataclasses.replace(CATALOG["dukemtmcreid"], **fields)


@pytest.fixture
def good_zip(tmp_path) -> Path:
    return write_zip(tmp_path / "src" / "Market-1501-v15.09.15.zip", dataset_members())


def leftovers(root: Path) -> list[str]:
    """Anything a failed fetch must not leave behind: temp folders, partial or final dataset dirs."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".tmp-", ".old-")) or p.is_dir())


def assert_installed(path: Path, root: Path, spec) -> dict:
    assert path == root / spec.name
    for split in SPLIT_FILES:
        assert (path / split).is_dir()
    assert (path / "gt_bbox").is_dir() and (path / "readme.txt").is_file()  # the rest of the archive comes along
    marker = read_marker(path)
    assert marker is not None
    assert marker["name"] == spec.name
    assert marker["counts"]["bounding_box_test"] == {"files": 4, "images": 3, "ids": 3}
    assert marker["counts"]["bounding_box_train"] == {"files": 4, "images": 4, "ids": 2}
    assert marker["verified_at"] and marker["source"]
    assert not [p for p in root.iterdir() if p.name.startswith((".tmp-", ".old-"))]
    return marker


# ---------------------------------------------------------------------------------------------
# a local HTTP server


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.requests.append({"path": self.path, "range": self.headers.get("Range")})
        data = srv.files.get(self.path)
        if data is None:
            body = b"not found"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        rng = self.headers.get("Range")
        if rng and srv.honour_range:
            start = int(rng.split("=", 1)[1].split("-", 1)[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Type", srv.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_after is not None:
            # announce everything, send only part, then hang up (a dropped connection)
            self.wfile.write(body[: srv.cut_after])
            srv.cut_after = None
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.files, httpd.requests = {}, []
    httpd.honour_range, httpd.cut_after, httpd.content_type = True, None, "application/zip"
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


def refused_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}/Market-1501-v15.09.15.zip"


# ---------------------------------------------------------------------------------------------
# success paths


def test_fetch_from_local_archive(tmp_path, good_zip):
    spec = market_spec(good_zip)
    root = tmp_path / "data"
    before = good_zip.read_bytes()
    path = fetch("market1501", root, archive=good_zip, progress=False, spec=spec)
    marker = assert_installed(path, root, spec)
    assert marker["md5"] == spec.md5 and marker["md5_matches"] is True
    assert marker["source"] == str(good_zip.resolve())
    assert good_zip.read_bytes() == before  # the user's file is untouched
    # the rest of the suite can load it with the same spec (junk dropped, distractor kept)
    ds = fetch_mod.load_market_layout(path, name="market1501", spec=spec)
    assert (len(ds.train), len(ds.query), len(ds.gallery)) == (4, 2, 3)


def test_fetch_from_drop_location(tmp_path, good_zip):
    spec = market_spec(good_zip)
    root = tmp_path / "data"
    root.mkdir()
    drop = root / spec.archive_name
    drop.write_bytes(good_zip.read_bytes())
    path = fetch(None, root, progress=False, spec=spec)  # no archive, no URL: the drop file is used
    assert_installed(path, root, spec)
    assert drop.is_file()


def test_fetch_from_file_url(tmp_path, good_zip):
    spec = market_spec(good_zip, urls=(good_zip.as_uri(),))
    root = tmp_path / "data"
    path = fetch("market1501", root, progress=False, spec=spec)
    marker = assert_installed(path, root, spec)
    assert marker["source"] == good_zip.as_uri()
    assert md5_of(root / spec.archive_name) == spec.md5  # the completed download, renamed from .part
    assert not (root / (spec.archive_name + ".part")).exists()


def test_fetch_from_tar_gz(tmp_path):
    archive = write_tar(tmp_path / "src" / "market.tar.gz", dataset_members())
    spec = market_spec(archive)
    path = fetch("market1501", tmp_path / "data", archive=archive, progress=False, spec=spec)
    assert_installed(path, tmp_path / "data", spec)


def test_fetch_archive_without_top_dir_or_with_other_name(tmp_path):
    # the split folders directly at the archive's top level
    flat = {k.split("/", 1)[1]: v for k, v in dataset_members().items()}
    archive = write_zip(tmp_path / "flat.zip", flat)
    spec = market_spec(archive)
    assert_installed(fetch(None, tmp_path / "a", archive=archive, progress=False, spec=spec), tmp_path / "a", spec)
    # a repackaging with another top folder name (and macOS litter beside it)
    members = dataset_members(top="Market")
    members["__MACOSX/Market/._readme.txt"] = b"junk"
    archive = write_zip(tmp_path / "renamed.zip", members)
    spec = market_spec(archive)
    assert_installed(fetch(None, tmp_path / "b", archive=archive, progress=False, spec=spec), tmp_path / "b", spec)


def test_fetch_over_http(tmp_path, good_zip, server):
    server.files["/Market-1501-v15.09.15.zip"] = good_zip.read_bytes()
    spec = market_spec(good_zip, urls=(server.url + "/Market-1501-v15.09.15.zip",))
    root = tmp_path / "data"
    path = fetch("market1501", root, progress=False, spec=spec)
    assert_installed(path, root, spec)
    assert [r["range"] for r in server.requests] == [None]


def test_http_download_resumes_with_range(tmp_path, good_zip, server):
    data = good_zip.read_bytes()
    server.files["/m.zip"] = data
    spec = market_spec(good_zip, urls=(server.url + "/m.zip",))
    root = tmp_path / "data"
    root.mkdir()
    half = len(data) // 2
    (root / (spec.archive_name + ".part")).write_bytes(data[:half])
    path = fetch("market1501", root, progress=False, spec=spec)
    assert_installed(path, root, spec)
    assert [r["range"] for r in server.requests] == [f"bytes={half}-"]
    assert md5_of(root / spec.archive_name) == spec.md5


def test_http_download_restarts_when_server_ignores_range(tmp_path, good_zip, server):
    data = good_zip.read_bytes()
    server.files["/m.zip"] = data
    server.honour_range = False
    dest = tmp_path / "m.zip"
    dest.with_name("m.zip.part").write_bytes(b"garbage that must not be kept" * 10)
    download(server.url + "/m.zip", dest, md5=md5_of(good_zip), progress=False)
    assert server.requests[0]["range"] is not None  # it asked ...
    assert dest.read_bytes() == data  # ... and, answered with 200, started again from byte 0


def test_http_download_dropped_connection_then_resume(tmp_path, good_zip, server):
    data = good_zip.read_bytes()
    server.files["/m.zip"] = data
    server.cut_after = len(data) // 3
    dest = tmp_path / "m.zip"
    with pytest.raises(FetchError) as err:
        download(server.url + "/m.zip", dest, md5=md5_of(good_zip), progress=False, timeout=5)
    assert "/m.zip" in str(err.value) and "resumed" in str(err.value)
    assert not dest.exists()  # nothing at the final name until complete
    assert dest.with_name("m.zip.part").stat().st_size == len(data) // 3
    download(server.url + "/m.zip", dest, md5=md5_of(good_zip), progress=False, timeout=5)
    assert server.requests[-1]["range"] == f"bytes={len(data) // 3}-"
    assert dest.read_bytes() == data and not dest.with_name("m.zip.part").exists()


def test_http_download_complete_part_answered_416(tmp_path, good_zip, server):
    data = good_zip.read_bytes()
    server.files["/m.zip"] = data
    dest = tmp_path / "m.zip"
    dest.with_name("m.zip.part").write_bytes(data)  # complete, but never renamed (killed run)
    download(server.url + "/m.zip", dest, md5=md5_of(good_zip), progress=False)
    assert dest.read_bytes() == data
    assert [r["range"] for r in server.requests] == [f"bytes={len(data)}-"]  # nothing downloaded again


def test_second_fetch_skips_verification(tmp_path, good_zip, monkeypatch):
    spec = market_spec(good_zip)
    root = tmp_path / "data"
    path = fetch("market1501", root, archive=good_zip, progress=False, spec=spec)
    marker_text = (path / MARKER).read_text()

    def boom(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(fetch_mod, "safe_extract", boom)
    monkeypatch.setattr(fetch_mod, "verify_archive", boom)
    assert fetch("market1501", root, archive=good_zip, progress=False, spec=spec) == path
    assert fetch("market1501", root, progress=False, spec=spec) == path  # no archive needed either
    assert (path / MARKER).read_text() == marker_text
    # force re-does it
    with pytest.raises(AssertionError, match="extracted again"):
        fetch("market1501", root, archive=good_zip, progress=False, spec=spec, force=True)
    # a spec that no longer matches the marker (other counts) is not taken as done
    with pytest.raises(AssertionError, match="extracted again"):
        other = dataclasses.replace(spec, gallery_files=5)
        fetch("market1501", root, archive=good_zip, progress=False, spec=other)
    assert (path / MARKER).read_text() == marker_text  # the failed redo left the old install alone


def test_force_replaces_installed_copy(tmp_path, good_zip):
    spec = market_spec(good_zip)
    root = tmp_path / "data"
    path = fetch("market1501", root, archive=good_zip, progress=False, spec=spec)
    (path / "stale.txt").write_text("old")
    path2 = fetch("market1501", root, archive=good_zip, progress=False, spec=spec, force=True)
    assert path2 == path and not (path / "stale.txt").exists()
    assert_installed(path, root, spec)


# ---------------------------------------------------------------------------------------------
# failures: each leaves neither root/<name> nor a temp folder


def _fails(tmp_path, archive, spec, match, exc=FetchError):
    root = tmp_path / "data"
    with pytest.raises(exc) as err:
        fetch(spec.name, root, archive=archive, progress=False, spec=spec)
    assert leftovers(root) == []
    assert not (root / spec.name).exists()
    for needle in [match] if isinstance(match, str) else match:
        assert needle in str(err.value), str(err.value)
    return str(err.value)


def test_wrong_checksum(tmp_path, good_zip):
    spec = market_spec(good_zip, md5="0123456789abcdef0123456789abcdef")
    _fails(tmp_path, good_zip, spec, ["0123456789abcdef0123456789abcdef", md5_of(good_zip), str(good_zip)])
    assert good_zip.is_file()  # the user's file is never deleted


def test_truncated_archive(tmp_path, good_zip):
    bad = tmp_path / "truncated.zip"
    bad.write_bytes(good_zip.read_bytes()[: good_zip.stat().st_size // 2])
    _fails(tmp_path, bad, market_spec(bad), ["truncated", str(bad)])
    assert bad.is_file()


def test_flipped_bytes_caught_by_crc(tmp_path, good_zip):
    # md5 made to match, so that the extractor's own CRC check is what fails
    data = bytearray(good_zip.read_bytes())
    info = zipfile.ZipFile(good_zip).getinfo(f"{MARKET_TOP}/query/0003_c1s1_000005_00.jpg")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 5, start + 15):
        data[i] ^= 0xFF
    bad = tmp_path / "flipped.zip"
    bad.write_bytes(bytes(data))
    _fails(tmp_path, bad, market_spec(bad), ["extraction failed", "0003_c1s1_000005_00.jpg", "damaged"])


def test_flipped_bytes_caught_by_md5(tmp_path, good_zip):
    data = bytearray(good_zip.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "flipped.zip"
    bad.write_bytes(bytes(data))
    _fails(tmp_path, bad, market_spec(good_zip), ["md5", md5_of(bad)])


@pytest.mark.parametrize(
    "evil, reason",
    [
        ("../evil.jpg", "path traversal"),
        (f"{MARKET_TOP}/../../evil.jpg", "path traversal"),
        ("..\\evil.jpg", "path traversal"),  # a Windows separator
        ("/tmp/evil_abs.jpg", "absolute path"),
        ("C:/evil.jpg", "absolute path"),  # a drive letter
    ],
)
def test_traversal_member_refused(tmp_path, evil, reason):
    members = dataset_members()
    members[evil] = b"evil"
    archive = write_zip(tmp_path / "src" / "evil.zip", members)
    _fails(tmp_path, archive, market_spec(archive), ["refusing member", repr(evil), reason])
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "src" / "evil.jpg").exists()
    assert not Path("/tmp/evil_abs.jpg").exists()


def test_traversal_through_existing_symlink_refused(tmp_path):
    # the second line of defence: a member whose resolved path leaves the target folder
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "link").symlink_to(outside, target_is_directory=True)
    archive = write_zip(tmp_path / "a.zip", {"link/x.jpg": b"x"})
    with pytest.raises(FetchError, match="resolves outside"):
        safe_extract(archive, dest)
    assert list(outside.iterdir()) == []


def test_safe_extract_writes_nothing_before_checking_all_members(tmp_path):
    members = dataset_members()
    members["zzz/../../late_evil.jpg"] = b"evil"  # the last member is the bad one
    archive = write_zip(tmp_path / "a.zip", members)
    dest = tmp_path / "dest"
    with pytest.raises(FetchError, match="late_evil"):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []


def test_zip_symlink_member_refused(tmp_path):
    link = f"{MARKET_TOP}/query/0005_c1s1_000011_00.jpg"
    archive = write_zip(tmp_path / "src" / "link.zip", dataset_members(), symlinks={link: "/etc/passwd"})
    _fails(tmp_path, archive, market_spec(archive), ["refusing member", link, "symbolic link"])


@pytest.mark.parametrize("kind, word", [(tarfile.SYMTYPE, "symbolic"), (tarfile.LNKTYPE, "hard")])
def test_tar_link_member_refused(tmp_path, kind, word):
    link = f"{MARKET_TOP}/query/0005_c1s1_000011_00.jpg"
    archive = write_tar(tmp_path / "src" / "link.tar.gz", dataset_members(), links={link: (kind, "/etc/passwd")})
    _fails(tmp_path, archive, market_spec(archive), ["refusing member", link, f"{word} link"])


def test_missing_query_folder(tmp_path):
    archive = write_zip(tmp_path / "src" / "noquery.zip", dataset_members(drop_split="query"))
    _fails(tmp_path, archive, market_spec(archive), ["missing query/", MARKET_TOP])


def test_not_a_dataset_at_all(tmp_path):
    archive = write_zip(tmp_path / "src" / "other.zip", {"photos/a.jpg": jpeg(1)})
    _fails(tmp_path, archive, market_spec(archive), ["not in Market-1501 layout", "photos/"])


def test_wrong_counts(tmp_path):
    archive = write_zip(tmp_path / "src" / "more.zip", dataset_members(extra_gallery=2))
    msg = _fails(
        tmp_path,
        archive,
        market_spec(archive),
        [
            "bounding_box_test: expected 3 images / 3 ids, found 5 / 5",
            "expected 4 files",
            "found 6",
            "md5 matches, so the catalog or this code is wrong",
            "Nothing was installed",
        ],
    )
    assert "bounding_box_train" not in msg  # only the split that differs is named


def test_badly_named_images(tmp_path):
    members = dataset_members()
    members[f"{MARKET_TOP}/query/IMG_0001.jpg"] = jpeg(7)
    archive = write_zip(tmp_path / "src" / "names.zip", members)
    _fails(tmp_path, archive, market_spec(archive), ["IMG_0001.jpg", "not named like Market-1501"])


def test_unrelated_existing_folder_is_not_overwritten(tmp_path, good_zip):
    spec = market_spec(good_zip)
    root = tmp_path / "data"
    (root / "market1501").mkdir(parents=True)
    (root / "market1501" / "mine.txt").write_text("user data")
    with pytest.raises(FetchError, match="not installed by"):
        fetch("market1501", root, archive=good_zip, progress=False, spec=spec)
    assert (root / "market1501" / "mine.txt").read_text() == "user data"
    # --force replaces it, but only with a verified copy
    path = fetch("market1501", root, archive=good_zip, progress=False, spec=spec, force=True)
    assert_installed(path, root, spec)
    assert not (path / "mine.txt").exists()


def test_empty_target_folder_is_taken_as_absent(tmp_path, good_zip):
    # Snakemake creates the folder of a rule's output (the marker) before the job runs
    spec = market_spec(good_zip)
    root = tmp_path / "data"
    (root / "market1501").mkdir(parents=True)
    path = fetch("market1501", root, archive=good_zip, progress=False, spec=spec)
    assert_installed(path, root, spec)


def test_failed_force_keeps_previous_install(tmp_path, good_zip):
    spec = market_spec(good_zip)
    root = tmp_path / "data"
    path = fetch("market1501", root, archive=good_zip, progress=False, spec=spec)
    bad = write_zip(tmp_path / "noquery.zip", dataset_members(drop_split="query"))
    with pytest.raises(FetchError, match="missing query/"):
        fetch("market1501", root, archive=bad, progress=False, spec=market_spec(bad), force=True)
    assert_installed(path, root, spec)  # still the verified copy


def test_stale_temp_dirs_of_a_killed_run_are_removed(tmp_path, good_zip):
    spec = market_spec(good_zip)
    root = tmp_path / "data"
    stale = root / ".tmp-market1501-abc123" / MARKET_TOP / "query"
    stale.mkdir(parents=True)
    path = fetch("market1501", root, archive=good_zip, progress=False, spec=spec)
    assert_installed(path, root, spec)
    assert not (root / ".tmp-market1501-abc123").exists()


# ---------------------------------------------------------------------------------------------
# DukeMTMC-reID: md5 mismatch only warns, counts decide


def test_duke_repackaging_with_exact_counts_is_accepted(tmp_path):
    archive = write_zip(tmp_path / "src" / "DukeMTMC-reID.zip", dataset_members(top=DUKE_TOP))
    spec = duke_spec()  # the real (original) md5, which this fixture does not have
    root = tmp_path / "data"
    with pytest.warns(ChecksumWarning, match=spec.md5):
        path = fetch("dukemtmcreid", root, archive=archive, progress=False, spec=spec)
    marker = assert_installed(path, root, spec)
    assert marker["md5"] == md5_of(archive) and marker["md5_matches"] is False
    assert marker["expected_md5"] == spec.md5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call neither re-verifies nor warns again
        assert fetch("dukemtmcreid", root, progress=False, spec=spec) == path


def test_duke_repackaging_with_wrong_counts_is_refused(tmp_path):
    archive = write_zip(tmp_path / "src" / "DukeMTMC-reID.zip", dataset_members(top=DUKE_TOP, extra_gallery=1))
    spec = duke_spec()
    with pytest.warns(ChecksumWarning):
        msg = _fails(
            tmp_path,
            archive,
            spec,
            ["does not hold the dukemtmcreid release", "This repackaging differs", "Nothing was installed"],
        )
    assert "found 4 / 4" in msg


def test_market_md5_is_strict_and_duke_is_not():
    assert CATALOG["market1501"].strict_md5 is True
    assert CATALOG["dukemtmcreid"].strict_md5 is False


def test_verify_archive(tmp_path, good_zip):
    assert verify_archive(good_zip, market_spec(good_zip)) == md5_of(good_zip)
    with pytest.raises(FetchError, match="has md5"):
        verify_archive(good_zip, market_spec())
    with pytest.warns(ChecksumWarning):
        assert verify_archive(good_zip, duke_spec()) == md5_of(good_zip)


def test_duke_without_archive_explains_withdrawal(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(FetchError) as err:
        fetch("dukemtmcreid", root, progress=False)  # the real catalog entry: no URL
    msg = str(err.value)
    for needle in ["withdrawn", "2019", CATALOG["dukemtmcreid"].md5, str(root / "DukeMTMC-reID.zip"), "--archive"]:
        assert needle in msg, msg
    assert leftovers(root) == []


def test_cli_reports_duke_withdrawal_and_exits_2(tmp_path, capsys):
    assert cli_main(["data", "fetch", "dukemtmcreid", "--root", str(tmp_path / "d"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "withdrawn" in err and "DukeMTMC-reID.zip" in err


def test_cli_fetches_from_archive(tmp_path, good_zip, monkeypatch, capsys):
    monkeypatch.setitem(fetch_mod.CATALOG, "market1501", market_spec(good_zip))
    root = tmp_path / "data"
    assert cli_main(["data", "fetch", "market1501", "--root", str(root), "--archive", str(good_zip), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(root / "market1501")
    assert read_marker(root / "market1501")["md5"] == md5_of(good_zip)


# ---------------------------------------------------------------------------------------------
# download failures name the URL and the manual drop location


def test_http_404_and_refused_connection(tmp_path, server):
    missing = server.url + "/nope/Market-1501-v15.09.15.zip"
    refused = refused_url()
    spec = market_spec(urls=(missing, refused))
    root = tmp_path / "data"
    with pytest.raises(FetchError) as err:
        fetch("market1501", root, progress=False, spec=spec)
    msg = str(err.value)
    for needle in [
        missing,
        "404",
        refused,
        "refused",
        str(root / "Market-1501-v15.09.15.zip"),
        "--archive PATH",
        "Download Market-1501-v15.09.15.zip yourself",
    ]:
        assert needle in msg, msg
    assert [r["path"] for r in server.requests] == ["/nope/Market-1501-v15.09.15.zip"]
    assert leftovers(root) == []
    assert not (root / "Market-1501-v15.09.15.zip").exists()


def test_missing_file_url(tmp_path):
    url = (tmp_path / "absent.zip").as_uri()
    with pytest.raises(FetchError) as err:
        fetch("market1501", tmp_path / "data", urls=[url], progress=False, spec=market_spec())
    assert url in str(err.value) and str(tmp_path / "data" / "Market-1501-v15.09.15.zip") in str(err.value)


def test_corrupt_download_is_moved_aside_and_next_url_tried(tmp_path, good_zip, server):
    server.files["/bad.zip"] = b"not the archive" * 100
    server.files["/good.zip"] = good_zip.read_bytes()
    spec = market_spec(good_zip, urls=(server.url + "/bad.zip", server.url + "/good.zip"))
    root = tmp_path / "data"
    path = fetch("market1501", root, progress=False, spec=spec)
    assert_installed(path, root, spec)
    aside = root / (spec.archive_name + ".md5-mismatch")
    assert aside.read_bytes() == b"not the archive" * 100
    assert md5_of(root / spec.archive_name) == spec.md5


def test_html_page_instead_of_archive(tmp_path, server):
    server.files["/m.zip"] = b"<html>quota exceeded</html>"
    server.content_type = "text/html; charset=utf-8"
    with pytest.raises(FetchError, match="web page"):
        download(server.url + "/m.zip", tmp_path / "m.zip", progress=False)
    assert not (tmp_path / "m.zip").exists() and not (tmp_path / "m.zip.part").exists()


def test_unsupported_scheme(tmp_path):
    with pytest.raises(FetchError, match="unsupported URL scheme"):
        download("ftp://127.0.0.1/m.zip", tmp_path / "m.zip", progress=False)


def test_safe_extract_rejects_non_archive(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"<html>this is not an archive</html>\n" * 50)
    with pytest.raises(FetchError, match="neither a zip nor a tar"):
        safe_extract(junk, tmp_path / "out")


def test_unknown_name():
    with pytest.raises(FetchError, match="unknown dataset"):
        fetch("cuhk03", "/nonexistent-root", progress=False)
