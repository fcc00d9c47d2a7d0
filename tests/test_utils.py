import errno
import os

import pytest

import reid.utils
from reid.utils import DiskFullError, atomic_path, atomic_write_bytes, atomic_write_text


def test_atomic_write_gives_a_normal_file_mode(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_text(tmp_path / "result.json", "{}")
    assert (tmp_path / "result.json").stat().st_mode & 0o777 == 0o666 & ~mask  # readable by others, as open() makes it


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    (tmp_path / "metrics.json").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "metrics.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "metrics.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_full_disk_is_one_error_naming_the_file_and_the_space_and_leaves_nothing(tmp_path, monkeypatch):
    def full(fd):  # where a full disk shows up on a buffered write: the flush and fsync
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reid.utils.os, "fsync", full)
    target = tmp_path / "results" / "run" / "checkpoint.pt"
    with pytest.raises(DiskFullError) as raised:
        atomic_write_bytes(target, b"x" * 3_000_000)
    message = str(raised.value)
    assert "\n" not in message and str(target) in message and "it needed 3.0 MB" in message and "free" in message
    assert raised.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # neither the file, its temporary, nor the folders made for it

    (tmp_path / "kept").mkdir()  # a folder that was there stays, with what it held
    (tmp_path / "kept" / "checkpoint.prev.pt").write_bytes(b"old")
    with pytest.raises(DiskFullError, match="more than the 0.0 MB written"):
        with atomic_path(tmp_path / "kept" / "log.csv") as tmp:
            tmp.write_text("a,b")
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["checkpoint.prev.pt"]
