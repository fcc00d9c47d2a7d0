"""Fault trials: kill -9 a training job at random moments, rerun the workflow, compare.

    python tools/faults.py --trials 10 [--seed 0] [--workdir DIR] [--keep]

Runs the workflow once without interruption on a tiny CPU config (the reference), then, per
trial, in a fresh folder: starts the same target, sends SIGKILL to the training process at a
random moment of its run (startup, an epoch, an evaluation or a checkpoint write), reruns the
workflow, and checks that the rerun succeeded, that it resumed from the last checkpoint the
killed job had completed (if any), and that its metrics and weights equal the reference's
exactly (CPU training is deterministic for a seed). Prints one line per trial and exits 1 if
any trial fails. ``tests/test_faults.py`` runs two trials; the issue's ten are this command.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if ROOT.as_posix() not in sys.path:  # run as python tools/faults.py: tools.snakemake_run is found from the root
    sys.path.insert(0, ROOT.as_posix())
from reid.config import SMOKE_RECIPE  # noqa: E402 - after the path it needs
from tools.snakemake_run import SNAKEMAKE  # noqa: E402
from tools.snakemake_run import env as snakemake_env  # noqa: E402

TARGET = "results/synthetic/residual/seed1/metrics.json"
RUN = "results/synthetic/residual/seed1"
# what an uninterrupted run computes: the trials' target, and its re-ranked evaluation for the
# cluster tests (tests/test_slurm.py), which compare with the same run
REFERENCE_TARGETS = (TARGET, "results/synthetic/residual+rerank/seed1/metrics.json")
# metrics that must be equal to the reference's (timings and provenance differ by nature)
COMPARED = ("R1", "R5", "R10", "mAP", "mAP_official", "mINP", "num_query", "num_skipped", "cmc")


def trial_config(data_root: Path, cache_dir: Path) -> dict:
    """A tiny config whose training lasts long enough (many short epochs) to be killed inside."""
    return {
        "data_root": str(data_root),
        "datasets": {"synthetic": {"size": "tiny", "seed": 0}},
        "variants": ["residual"],
        "seeds": [1],
        "train": {
            **SMOKE_RECIPE,  # the one tiny recipe
            # many short epochs, so that kills land in the start-up, an epoch, an evaluation
            # (epochs 0, 4, 8) or a checkpoint write
            "epochs": 8,
            "eval_every": 4,
            "milestones": [6],
            "cache_dir": str(cache_dir),
            "device": "cpu",
        },
    }


def snakemake(workdir: Path, config: Path, targets: tuple[str, ...] = (TARGET,)) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *SNAKEMAKE,
            "-s",
            str(ROOT / "Snakefile"),
            "--directory",
            str(workdir),
            *targets,
            "--cores",
            "2",
            "--resources",
            "gpu=1",
            "--configfile",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=snakemake_env(),
    )


def training_process(workdir: Path) -> int | None:
    """The pid of the ``python -m reid train`` process running in ``workdir``, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"reid" in argv and b"train" in argv and Path(os.readlink(entry / "cwd")) == workdir:
                return int(entry.name)
        except OSError:  # gone meanwhile, or not ours
            continue
    return None


def comparable(metrics_file: Path) -> dict:
    metrics = json.loads(metrics_file.read_text())
    return {k: metrics.get(k) for k in COMPARED}


def weights(model_file: Path) -> dict:
    import torch

    return torch.load(model_file, map_location="cpu", weights_only=True)["state_dict"]


def same_weights(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@dataclass
class Trial:
    number: int
    delay: float  # seconds after the training process appeared
    killed: bool  # False: the job ended before the kill
    checkpoint_epoch: int | None  # epochs the killed job had saved
    resumed_from: int | None  # epoch the rerun said it resumed after
    rerun_ok: bool
    metrics_equal: bool
    weights_equal: bool

    @property
    def passed(self) -> bool:
        resumed_right = self.resumed_from == self.checkpoint_epoch  # both None: no checkpoint, a fresh start
        return self.killed and self.rerun_ok and self.metrics_equal and self.weights_equal and resumed_right


def _checkpoint_epoch(run: Path) -> int | None:
    import torch

    for name in ("checkpoint.pt", "checkpoint.prev.pt"):  # what reid.train.load_checkpoint would resume from
        try:
            return int(torch.load(run / name, map_location="cpu", weights_only=True)["epoch"])
        except Exception:  # missing or killed mid-write: the next one
            continue
    return None


def reference_run(folder: Path) -> Path:
    """An uninterrupted run of the trial config in ``folder`` (with its own data and cache):
    what a killed and resumed run must equal. Returns ``folder``."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "config.yaml"
    config_file.write_text(yaml.safe_dump(trial_config(folder / "data", folder / "cache")))
    job = snakemake(folder, config_file, REFERENCE_TARGETS)
    out, _ = job.communicate()
    if job.returncode != 0:
        raise RuntimeError(f"the uninterrupted reference run failed:\n{out[-3000:]}")
    return folder


def _killed_run(folder: Path, config_file: Path, delay: float) -> bool:
    """Starts the workflow in ``folder`` and sends SIGKILL to its training ``delay`` seconds
    after the training process appeared; False if the training was over by then."""
    job = snakemake(folder, config_file)
    pid, deadline = None, time.time() + 300
    while pid is None and job.poll() is None and time.time() < deadline:
        pid = training_process(folder)
        time.sleep(0.02)
    killed = False
    if pid is not None:
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
            killed = True
        except ProcessLookupError:  # it had already finished
            killed = False
    job.communicate()
    return killed


def run_trials(trials: int, seed: int, workdir: Path, log=print, reference: Path | None = None) -> list[Trial]:
    """``reference``: a finished ``reference_run`` folder to compare with (one is run if None)."""
    base = Path(workdir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    config_file = base / "config.yaml"
    config_file.write_text(yaml.safe_dump(trial_config(base / "data", base / "cache")))

    reference = reference_run(base / "reference") if reference is None else Path(reference)
    ref_metrics = comparable(reference / TARGET)
    ref_weights = weights(reference / RUN / "model.pt")
    bench = (reference / "benchmarks" / "train" / "synthetic" / "residual" / "seed1.tsv").read_text().splitlines()
    train_seconds = float(bench[1].split("\t")[0])
    log(f"reference: training took {train_seconds:.1f} s; mAP {ref_metrics['mAP']:.4f}, R1 {ref_metrics['R1']:.4f}")

    rng = random.Random(seed)
    results = []
    for number in range(1, trials + 1):
        folder = base / f"trial{number:02d}"
        delay = rng.uniform(0.02, 0.95) * train_seconds
        for _ in range(3):
            shutil.rmtree(folder, ignore_errors=True)
            killed = _killed_run(folder, config_file, delay)
            if killed:
                break
            # the training ended before the kill: it ran faster than the reference's did (a
            # machine's speed varies, a shared one's most): again, killing sooner
            log(f"trial {number:2d}: the training ended within {delay:.2f} s, before the kill; again at half that")
            delay /= 2
        checkpoint_epoch = _checkpoint_epoch(folder / RUN)
        train_log = folder / "logs" / "train" / "synthetic" / "residual" / "seed1.log"
        if train_log.exists():  # the rerun writes its own
            shutil.copy(train_log, folder / "killed_train.log")
        rerun = snakemake(folder, config_file)
        rerun_out, _ = rerun.communicate()
        resumed = re.search(r"resuming \S+ after epoch (\d+)", train_log.read_text() if train_log.exists() else "")
        ok = rerun.returncode == 0 and (folder / TARGET).exists()
        trial = Trial(
            number,
            delay,
            killed,
            checkpoint_epoch,
            int(resumed[1]) if resumed else None,
            ok,
            ok and comparable(folder / TARGET) == ref_metrics,
            ok and same_weights(weights(folder / RUN / "model.pt"), ref_weights),
        )
        results.append(trial)
        log(
            f"trial {number:2d}: kill -9 at {delay:5.2f} s of training; checkpoint had epoch "
            f"{trial.checkpoint_epoch if trial.checkpoint_epoch is not None else '-'}; rerun resumed after epoch "
            f"{trial.resumed_from if trial.resumed_from is not None else '- (from the start)'}; metrics equal: "
            f"{trial.metrics_equal}; weights equal: {trial.weights_equal}: {'PASS' if trial.passed else 'FAIL'}"
        )
        if not ok:
            log(rerun_out[-2000:])
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/faults.py", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--workdir", type=Path, default=None, help="where the runs go (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="reid-faults-"))).resolve()
    try:
        results = run_trials(args.trials, args.seed, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    passed = sum(t.passed for t in results)
    print(f"{passed} of {len(results)} trials passed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
