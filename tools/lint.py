"""The project's linters, run by .ci/run before the tests:

    python tools/lint.py

- ruff check and ruff format --check over the Python (settings in pyproject.toml);
- snakemake --lint over the workflow (with the default profile), less one piece of advice:
  "Specify a conda environment or container for each rule". Every rule runs the one installed
  package (python -m reid ...), whose environment is pyproject.toml / requirements.lock, so a
  per-rule environment would only repeat it.
Exits 1 and prints what to fix when any of them finds something.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACCEPTED = {"Specify a conda environment or container for each rule."}


def snakemake_lints(output: str) -> list[tuple[str, str]]:
    """(where, title) of each lint in snakemake --lint's text output."""
    found, where = [], None
    for line in output.splitlines():
        if line.startswith("Lints for "):
            where = line.removeprefix("Lints for ").rstrip(":")
        elif (match := re.match(r"\s{4}\* (.+?):?$", line)) and where is not None:
            found.append((where, match.group(1).rstrip(":")))
    return found


def main() -> int:
    failed = False
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        done = subprocess.run([sys.executable, "-m", *command], cwd=ROOT)
        failed |= done.returncode != 0
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    lints = snakemake_lints(output)
    unexpected = [(where, title) for where, title in lints if title not in ACCEPTED]
    if unexpected or (done.returncode != 0 and not lints):
        failed = True
        print("snakemake --lint:", *(f"  {where}: {title}" for where, title in unexpected), sep="\n")
        if not lints:
            print(output[-3000:])
    else:
        print(f"snakemake --lint: clean ({len(lints)} rules advised to use a per-rule conda environment: not needed)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
