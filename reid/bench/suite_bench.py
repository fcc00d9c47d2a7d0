"""Time the whole default suite: ``python -m reid.bench suite``.

It runs the README's first command (``snakemake --cores 8 --resources gpu=1`` on
configs/config.yaml) in a fresh folder, so that nothing of yours is reused or overwritten, and
prints:
- this machine's model-alone figure (``python -m reid.bench train --backbone resnet18 --height
  64 --width 32``), which says how fast the machine is;
- the wall time of the run, and that time normalised to the reference machine of issue 12 (the
  2-core AMD EPYC of the README's "Time" section, whose model-alone figure is
  ``REFERENCE_IMAGES_PER_S``): wall x (img/s / REFERENCE_IMAGES_PER_S);
- the time per stage (per rule) from the jobs' ``benchmark:`` files: jobs, seconds in all, the
  longest job.
``--json`` writes the figures, and ``--against`` an earlier JSON prints the two side by side, so
that a change is compared with the previous version.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reid.provenance import cpu_model

# This is the model-alone img/s of issue 12's 2-core AMD EPYC (Zen 3), the machine that times are normalised to.
REFERENCE_IMAGES_PER_S = 62.0
ROOT = Path(__file__).resolve().parents[2]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configfile", type=Path, default=ROOT / "configs" / "config.yaml")
    p.add_argument("--workdir", type=Path, default=None, help="run here (default: a new temporary folder)")
    p.add_argument("--cores", default="8", help="snakemake --cores, as the README's command")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--against", type=Path, default=None, help="an earlier --json to compare with")
    p.add_argument("--skip-machine", action="store_true", help="do not measure the model-alone figure")
    p.set_defaults(func=run)


def machine_figure() -> dict:
    """Return the model-alone training figure of this machine, from the same command the README cites."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "train.json")
        cmd = [sys.executable, "-m", "reid.bench", "train", "--backbone", "resnet18", "--height", "64", "--width", "32"]
        subprocess.run([*cmd, "--json", str(out)], check=True, stdout=subprocess.DEVNULL)
        figures = json.loads(out.read_text())
    return {
        "model_alone_images_per_s": figures["model_alone_images_per_s"],
        "pipeline_ratio": figures.get("ratio"),
        "command": " ".join(cmd[1:]),
    }


def stage_times(benchmarks: Path) -> dict[str, dict]:
    """Return per rule (the first folder under benchmarks/) the jobs, the seconds in all and the longest job."""
    stages: dict[str, list[float]] = {}
    for path in sorted(benchmarks.rglob("*.tsv")):
        try:
            with open(path, newline="") as f:
                seconds = float(next(csv.DictReader(f, delimiter="\t"))["s"])
        except (StopIteration, KeyError, ValueError, OSError):
            continue
        stages.setdefault(path.relative_to(benchmarks).parts[0].removesuffix(".tsv"), []).append(seconds)
    return {
        rule: {"jobs": len(v), "seconds": round(sum(v), 1), "longest": round(max(v), 1)}
        for rule, v in sorted(stages.items())
    }


def run_suite(configfile: Path, workdir: Path, cores: str) -> float:
    """Run the README's first command in ``workdir`` and return its wall time in seconds."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = ["snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", str(configfile)]
    cmd += ["--cores", cores, "--resources", "gpu=1"]
    started = time.perf_counter()
    with open(workdir / "snakemake.log", "w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the suite failed (exit {done.returncode}): see {workdir / 'snakemake.log'}")
    return wall


def learning(workdir: Path) -> dict[str, float]:
    """Return each run's final mAP over its untrained mAP, which the learning check wants to be at least 5."""
    ratios = {}
    for path in sorted(workdir.glob("results/*/*/seed*/train.json")):
        summary = json.loads(path.read_text())
        final, untrained = (summary.get("final") or {}).get("mAP"), (summary.get("untrained") or {}).get("mAP")
        if final and untrained:
            ratios[str(path.parent.relative_to(workdir / "results"))] = round(final / untrained, 2)
    return ratios


def report(figures: dict, against: dict | None) -> str:
    lines = [
        f"machine: {figures['cpu']}, {figures['cores']} cores; model-alone "
        f"{figures['model_alone_images_per_s']} img/s, the mean of before and after the run "
        f"{figures.get('model_alone_before_after')} ({figures['machine_command']})",
        f"wall: {figures['wall_s']:.0f} s; normalised to {REFERENCE_IMAGES_PER_S:.0f} img/s: "
        + (
            f"{figures['normalised_wall_s']:.0f} s (goal: at most 600)"
            if figures["normalised_wall_s"]
            else "not measured"
        ),
    ]
    head = f"{'stage':<16}{'jobs':>6}{'seconds':>10}{'longest':>10}"
    if against:
        head += f"{'before':>10}{'after/before':>14}"
    lines.append(head)
    stages = figures["stages"]
    for rule in sorted(set(stages) | set((against or {}).get("stages", {}))):
        s = stages.get(rule, {"jobs": 0, "seconds": 0.0, "longest": 0.0})
        line = f"{rule:<16}{s['jobs']:>6}{s['seconds']:>10.1f}{s['longest']:>10.1f}"
        if against:
            before = against.get("stages", {}).get(rule, {}).get("seconds")
            line += f"{before or 0:>10.1f}" + (f"{s['seconds'] / before:>14.2f}" if before else f"{'':>14}")
        lines.append(line)
    if against:
        scale = against["model_alone_images_per_s"] / figures["model_alone_images_per_s"]
        lines.append(
            f"before: wall {against['wall_s']:.0f} s, normalised {against['normalised_wall_s']:.0f} s "
            f"(its machine {against['model_alone_images_per_s']} img/s; this one is {1 / scale:.2f}x as fast)"
        )
    worst = min(figures["learning"].values(), default=None)
    if worst is not None:
        lines.append(f"learning: the weakest run's final mAP is {worst:.1f}x its untrained mAP (check: at least 5)")
    return "\n".join(lines)


def run(args) -> int:
    # The machine's speed drifts on shared hosts, so it is measured before and after, and the mean counts.
    before = {} if args.skip_machine else machine_figure()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="reid-suite-"))
    wall = run_suite(args.configfile.resolve(), workdir.resolve(), args.cores)
    after = {} if args.skip_machine else machine_figure()
    rates = [m["model_alone_images_per_s"] for m in (before, after) if m]
    rate = round(sum(rates) / len(rates), 2) if rates else None
    figures = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "model_alone_images_per_s": rate,
        "model_alone_before_after": rates,
        "machine_command": before.get("command", "not measured"),
        "configfile": str(args.configfile),
        "wall_s": round(wall, 1),
        "normalised_wall_s": round(wall * rate / REFERENCE_IMAGES_PER_S, 1) if rate else None,
        "stages": stage_times(workdir / "benchmarks"),
        "learning": learning(workdir),
        "workdir": str(workdir),
    }
    against = json.loads(args.against.read_text()) if args.against else None
    print(report(figures, against))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
