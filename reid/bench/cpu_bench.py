"""Measure the CPU choices for the default (CPU) run on this machine: ``python -m reid.bench cpu``.

It times the model alone (random tensors, the default config's residual ResNet18 at 64x32,
batch 32 for a training step, 128 for inference) in separate processes. Each configuration runs
for the same number of seconds, in alternating rounds, so that a drift of the machine hits all
alike:

    one job, all threads        the reference: torch's default on this machine
    one job, channels_last      the memory format CUDA runs use
    one job, deterministic      torch.use_deterministic_algorithms, as CPU training sets it
    N jobs x 1 thread           N = the cores, side by side: images/s summed over the jobs
    N jobs x 1 thread, ch_last  the same in channels_last

It prints images/s for training and inference and each one's ratio to the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

from reid.config import TrainConfig
from reid.losses import paper_loss
from reid.models import build_model
from reid.runtime import Runtime

# Each name maps to (jobs, threads per job, channels_last, deterministic), and 0 threads means all cores.
CONFIGS = {
    "one job, all threads": (1, 0, False, False),
    "one job, channels_last": (1, 0, True, False),
    "one job, deterministic": (1, 0, False, True),
    "N jobs x 1 thread": (0, 1, False, False),
    "N jobs x 1 thread, ch_last": (0, 1, True, False),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=12.0, help="timed seconds per configuration and round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--json", default=None, help="also write the figures here")
    # This option is internal: each worker process makes one measurement.
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def worker(spec: dict) -> dict:
    """Return the images/s of a training step and of inference, timed for ``seconds`` each."""

    torch.set_num_threads(spec["threads"])
    if spec["deterministic"]:
        torch.use_deterministic_algorithms(True, warn_only=True)
    runtime = Runtime.resolve("cpu", amp="off", channels_last=spec["channels_last"])
    torch.manual_seed(0)
    # The head is built as the default config trains it, so that the figure applies to the default run.
    options = TrainConfig().model_options("residual")
    model = runtime.place(build_model("residual", 64, backbone=spec["backbone"], pretrained="none", **options))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    h, w = spec["height"], spec["width"]
    x = runtime.batch(torch.randn(32, 3, h, w))
    y = torch.arange(32) // 4  # The labels form a PK batch of 8 identities x 4 images.

    def train_step():
        model.train()
        loss = paper_loss(model(x), y)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    big = runtime.batch(torch.randn(128, 3, h, w))

    @torch.no_grad()
    def infer():
        model.eval()
        model(big)

    rates = {}
    for name, fn, n in (("train", train_step, 32), ("inference", infer, 128)):
        fn()
        fn()  # An untimed call warms up first.
        count, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < spec["seconds"]:
            fn()
            count += n
        rates[name] = count / (time.perf_counter() - t0)
    return rates


def measure(name: str, args, cores: int) -> dict:
    jobs, threads, channels_last, deterministic = CONFIGS[name]
    jobs, threads = jobs or cores, threads or cores
    spec = {
        "threads": threads,
        "channels_last": channels_last,
        "deterministic": deterministic,
        "seconds": args.seconds,
        "backbone": args.backbone,
        "height": args.height,
        "width": args.width,
    }
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "reid.bench", "cpu", "--worker", json.dumps(spec)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) for _ in range(jobs)]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a measurement of {name!r} failed")
    return {k: sum(r[k] for r in results) for k in ("train", "inference")}


def run(args) -> int:
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    cores = os.cpu_count() or 1
    totals = {name: {"train": [], "inference": []} for name in CONFIGS}
    for round_ in range(args.rounds):
        names = list(CONFIGS) if round_ % 2 == 0 else list(reversed(CONFIGS))
        for name in names:
            for k, v in measure(name, args, cores).items():
                totals[name][k].append(v)
    reference = {k: sum(v) / len(v) for k, v in totals["one job, all threads"].items()}
    figures = {"cores": cores, "seconds": args.seconds, "rounds": args.rounds, "configs": {}}
    print(f"{args.backbone} at {args.height}x{args.width}, model alone, {cores} cores, images/s (ratio to the first)")
    print(f"{'':<30}{'train':>10}{'ratio':>8}{'inference':>12}{'ratio':>8}")
    for name, rates in totals.items():
        mean = {k: sum(v) / len(v) for k, v in rates.items()}
        ratio = {k: mean[k] / reference[k] for k in mean}
        figures["configs"][name] = {"images_per_s": mean, "ratio": ratio}
        label = name.replace("N jobs", f"{cores} jobs")
        print(
            f"{label:<30}{mean['train']:>10.1f}{ratio['train']:>8.2f}{mean['inference']:>12.1f}{ratio['inference']:>8.2f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0
