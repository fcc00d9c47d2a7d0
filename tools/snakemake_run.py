"""How the tests and the development tools start Snakemake: with the interpreter that runs
them, never a ``snakemake`` looked up on ``PATH``.

Run as ``python -m pytest`` from an environment that is not activated, a ``PATH`` lookup finds no
snakemake (the tests that need it used to skip quietly) or another installation's. The same
holds for the rules: each runs ``python -m reid ...`` through the shell, so ``env()`` puts this
interpreter's folder first on ``PATH`` for them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def env(base: dict | None = None) -> dict:
    """``base`` (default: this process's environment) with this interpreter's folder first on PATH."""
    base = dict(os.environ if base is None else base)
    here = str(Path(sys.executable).parent)
    base["PATH"] = os.pathsep.join([here, *(p for p in base.get("PATH", "").split(os.pathsep) if p and p != here)])
    return base
