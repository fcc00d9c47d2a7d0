"""Planted bugs, one at a time: does the test suite catch each of them?

    python tools/mutants.py                     # every mutant (about 15 minutes on 2 cores)
    python tools/mutants.py fuse-swap rr-2/3    # some, by name
    python tools/mutants.py --list

A mutant is one small, realistic change to one line of the package: an argument swapped, a
comparison loosened, an option not passed on. Each is written into a copy of the working tree in
a temporary folder (the working tree itself is never touched, so an interrupted run leaves no
planted bug behind), and the test files that cover its module are run there. The tests that
compare with torchreid are left out (``-m "not torchreid"``): a bug must be caught by the
suite's own tests, which run wherever the suite does. A mutant is *caught* when pytest fails
and *survives* when it passes.

The list below is the mutation pass of issue 21: the bugs that survived the suite before it,
then a pass by hand over the models, the losses, the metrics, re-ranking, the statistics, the
claims and the checkpoints. A mutant that cannot change any result (an equivalent mutant) says
why in ``harmless`` and is reported, not counted. Exits 1 when any other mutant survives.

This is a tool for a person changing the tests, not part of CI: each mutant costs one pytest
run of its test files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the project's root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  # test files (or node ids) that should catch it
    harmless: str = ""  # why the mutant cannot change a result, where it cannot


MODELS = ("tests/models/test_msrp.py",)
LOSSES = ("tests/test_losses.py", "tests/test_config.py")
METRICS = ("tests/test_metrics.py",)
RERANK = ("tests/test_rerank.py",)
STATS = ("tests/test_stats.py",)
CLAIMS = ("tests/claims",)
CHECKPOINTS = ("tests/test_train.py", "tests/test_security.py", "tests/test_evaluate.py")

MUTANTS = (
    # ------------------------------------------------------------ the survivors issue 21 found
    Mutant("fuse-swap", "reid/models/msrp.py", "p_cont = fuse(p_avg, p_max)", "p_cont = fuse(p_max, p_avg)", MODELS),
    Mutant(
        "margin-dropped",
        "reid/losses.py",
        "batch_hard_triplet(f, labels, margin) for f",
        "batch_hard_triplet(f, labels) for f",
        LOSSES,
    ),
    Mutant(
        "r1-loosened",
        "reid/claims/accuracy.py",
        "(first_hit < rank).astype",
        "(first_hit <= rank).astype",
        CLAIMS,
    ),
    Mutant(
        "c3-unpaired",
        "reid/claims/accuracy.py",
        "clusters=sa.pids[keep], paired=paired)",
        "clusters=sa.pids[keep])",
        CLAIMS,
    ),
    Mutant(
        "flip-axis", "reid/features.py", "model(batch.flip(-1))", "model(batch.flip(-2))", ("tests/test_features.py",)
    ),
    Mutant(
        "plain-smoothing-ignored",
        "reid/config.py",
        'smoothing = self.plain_label_smoothing if variant == "plain_baseline" else self.label_smoothing',
        "smoothing = self.label_smoothing",
        LOSSES + ("tests/test_train.py",),
    ),
    Mutant(
        "variant-loss-options-ignored",
        "reid/train.py",
        "cfg.loss_options(variant),\n        )",
        "cfg.loss_options(),\n        )",
        ("tests/test_train.py",),
    ),
    Mutant(
        "cmc-clamp",
        "reid/metrics.py",
        "ranks.clamp(max=max_rank)",
        "ranks.clamp(max=max_rank - 1)",
        METRICS,
    ),
    Mutant(
        "cmc-length",
        "reid/metrics.py",
        "max_rank = min(max_rank, num_g)",
        "max_rank = min(max_rank, num_g - 1)",
        METRICS,
    ),
    Mutant(
        "rr-2/3",
        "reid/rerank.py",
        "overlap.to(torch.float64) > (2.0 / 3.0)",
        "overlap.to(torch.float64) >= (2.0 / 3.0)",
        RERANK,
    ),
)


def names() -> list[str]:
    return [m.name for m in MUTANTS]


def working_copy(into: Path) -> None:
    """The tracked and untracked (not ignored) files of the working tree, copied into ``into``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        src = ROOT / os.fsdecode(raw)
        if src.is_file():
            dst = into / os.fsdecode(raw)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def run_mutant(mutant: Mutant, copy: Path) -> tuple[str, float]:
    """'caught' or 'survived' (or 'broken': the mutant's text is not in its file), and seconds."""
    path = copy / mutant.file
    original = path.read_text()
    if original.count(mutant.old) != 1:
        return f"broken: the text occurs {original.count(mutant.old)} times in {mutant.file}", 0.0
    path.write_text(original.replace(mutant.old, mutant.new))
    env = dict(os.environ, PYTHONPATH=str(copy), CI="")  # the copy's package, not the installed one
    started = time.time()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not torchreid"]
            + list(mutant.tests),
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        path.write_text(original)
    # 1: a test failed; 2 with a failure named: pytest-xdist's way of stopping at the first
    # failure (-x); anything else (5: no test ran, a wrong test path; 2: a collection error)
    # says nothing about the mutant
    if done.returncode == 0:
        outcome = "survived"
    elif done.returncode == 1 or (done.returncode == 2 and "\nFAILED " in done.stdout):
        outcome = "caught"
    else:
        outcome = f"error (pytest exit {done.returncode}: {done.stdout.strip().splitlines()[-1:]})"
    return outcome, time.time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:32} {m.file}: {m.old.strip()!r} -> {m.new.strip()!r}")
        return 0
    unknown = sorted(set(args.names) - set(names()))
    if unknown:
        parser.error(f"unknown mutant(s) {', '.join(unknown)}; see --list")
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    failed = []
    with tempfile.TemporaryDirectory(prefix="reid-mutants-") as tmp:
        copy = Path(tmp)
        working_copy(copy)
        for mutant in chosen:
            outcome, seconds = run_mutant(mutant, copy)
            shown = "harmless" if outcome == "survived" and mutant.harmless else outcome
            print(f"{shown:10} {seconds:6.1f} s  {mutant.name}" + (f"  ({mutant.harmless})" if mutant.harmless else ""))
            if outcome != "caught" and not (outcome == "survived" and mutant.harmless):
                failed.append(mutant.name)
    print(
        f"{len(chosen) - len(failed)} of {len(chosen)} caught or harmless"
        + (f"; not: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
