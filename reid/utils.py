"""Small helpers shared by every stage: atomic writes and checksums.

Everything the suite writes (datasets, markers, metrics, checkpoints, tables) goes through
a temporary file in the same directory followed by ``os.replace``, so that a killed job
never leaves a half-written result that a later step could take for a complete one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def md5sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Results get the mode that open() would give, because mkstemp's 0600 would hide them from colleagues.
_FILE_MODE = 0o666 & ~_umask()


class DiskFullError(OSError):
    """Signal that no space (or quota) is left for a result; it is said in one line, and nothing is left behind."""

    # The message stands alone, without OSError's "[Errno 28]", so that the one line reads plainly.
    def __str__(self) -> str:
        return self.strerror


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def disk_full(path: Path, needed: int | None, written: int) -> DiskFullError:
    try:
        free = _megabytes(shutil.disk_usage(path.parent if path.parent.exists() else Path.cwd()).free)
    except OSError:
        free = "unknown"
    size = _megabytes(needed) if needed is not None else f"more than the {_megabytes(written)} written"
    return DiskFullError(
        errno.ENOSPC,
        f"no space left on the device to write {path} (it needed {size}; {free} free): "
        "free some space there, or move the working directory or data_root to a larger disk, "
        "and run the same command again",
    )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, needed: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    On a failure nothing is left behind: neither the temporary file, nor the folders made for
    it. A full disk or quota (``needed`` is the number of bytes to write, if known) becomes one
    ``DiskFullError`` that names the file and the space.
    """
    path = Path(path)
    # These are the folders that this call creates, innermost first, so that a failure can remove them.
    made = []
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            break
        made.append(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
        tmp = Path(name)
        os.fchmod(fd, _FILE_MODE)
        os.close(fd)
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(err, DiskFullError):
            written = tmp.stat().st_size if tmp is not None and tmp.exists() else 0
            raise disk_full(path, needed, written) from err
        raise
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
        if not path.exists():
            # Only the empty folders are removed, because rmdir refuses the others.
            for folder in made:
                with contextlib.suppress(OSError):
                    folder.rmdir()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path, needed=len(data)) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
