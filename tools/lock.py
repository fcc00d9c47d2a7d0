"""Write requirements.lock: the exact versions of the whole test environment.

    python -m pip install -e ".[test]" && python -m pytest && python tools/lock.py

pyproject.toml keeps ranges (a library's promise); the lock pins the environment the tests
passed in, so that CI and a user reproducing a published report install the same packages:
    python -m pip install -r requirements.lock -e ".[test]"
It walks the installed dependency tree of this project with its test extra (markers evaluated
for this machine) and writes each package's installed version: what ran, not what a resolver
would pick today. The header names the Python version and platform it was written on.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PROJECT = "reid-msrp"


def dependency_closure(project: str = PROJECT, extras: tuple[str, ...] = ("test",)) -> dict[str, str]:
    """{name: installed version} of every package ``project[extras]`` needs here, itself excluded."""
    wanted: dict[str, set[str]] = {}
    todo = [(project, set(extras))]
    while todo:
        name, asked = todo.pop()
        key = canonicalize_name(name)
        if key in wanted and asked <= wanted[key]:
            continue
        wanted.setdefault(key, set()).update(asked)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(
                f"{name} is required but not installed: python -m pip install -e '.[test]' first"
            ) from None
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in asked | {""}):
                continue
            todo.append((req.name, set(req.extras)))
    wanted.pop(canonicalize_name(project))
    return {name: str(Version(metadata.version(name))) for name in sorted(wanted)}


def main() -> int:
    pins = dependency_closure()
    header = [
        "# The exact versions of the whole test environment (pyproject.toml keeps the ranges).",
        f"# Written by python tools/lock.py from a passing environment: Python {platform.python_version()}, "
        f"{sys.platform} {platform.machine()}.",
        '# Install: python -m pip install -r requirements.lock -e ".[test]"',
    ]
    LOCK.write_text("\n".join(header + [f"{name}=={version}" for name, version in pins.items()]) + "\n")
    print(f"{LOCK.name}: {len(pins)} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
