"""Check the CUDA code paths, run once on a GPU machine:

    python -m reid.bench gpu                  # This runs on a machine with a GPU, in a few minutes.
    python -m reid.bench gpu --device cpu     # CI runs the same checks on the CPU this way.

The tests run on CPUs, where they reach the GPU's branches by faking the device's properties
(tests/test_runtime.py, tests/test_gpu_slot.py). What only a GPU can show is checked here, one
line each, ``ok`` or ``FAIL`` with the figures measured:

1. The device check reports its name, compute capability, and the precision ``amp: auto``
   picks there (bf16 from capability 8.0, fp16 with a gradient scaler below). It also reports
   the GPUs the job scheduler's pool finds (reid.gpu_slot), with and without nvidia-smi.
2. The training check trains the tiny recipe for two epochs in each precision (bf16, fp16,
   float32), with the GPU-resident image cache and channels_last, and wants finite losses and
   the precision in log.csv. On the CPU fp16 is left out, because it has no fast kernels there
   (``python -m reid.bench train --device cpu --amp fp16`` measures how much slower it is).
3. The resume check resumes in another precision, as a SLURM retry on another GPU generation
   would: the first epoch in bf16, the second in fp16 (this machine made to choose it). This
   used to fail in the gradient scaler. On the CPU the second epoch runs in float32.
4. The evaluation check evaluates one model file on the GPU and on the CPU and wants nearly the
   same mAP, since the GPU runs its forward passes in mixed precision.
5. The metric check compares CMC/mAP and k-reciprocal re-ranking of CUDA tensors with the CPU
   on the same inputs.
6. The cost check measures Table 4's cost: batch-1 latency and throughput at the paper's
   288x144 on the device.

Exits 0 when every check passed, 1 when one failed, 2 when CUDA was asked for and there is none.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import reid.gpu_slot
import reid.runtime
from reid.config import SMOKE_RECIPE, TrainConfig
from reid.cost import measure_latency
from reid.data import load_market_layout
from reid.data.synthetic import generate
from reid.evaluate import evaluate_checkpoint
from reid.gpu_slot import device_pool, driver_listed_gpus
from reid.metrics import cmc_map
from reid.models import build_model
from reid.provenance import device_name
from reid.rerank import k_reciprocal_from_features
from reid.runtime import Runtime
from reid.train import train

# The checks train the smoke recipe for two epochs with an evaluation each,
# so that the resume check has a saved epoch to resume from.
RECIPE = {**SMOKE_RECIPE, "epochs": 2, "eval_every": 1}


def add_arguments(parser) -> None:
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="where to run the checks")
    parser.add_argument("--keep", type=Path, help="keep the runs in this folder (default: a temporary one)")
    parser.set_defaults(func=run)


class Checks:
    """Collect the checks' lines and print them as they come, so that each result shows as soon as it is known."""

    def __init__(self):
        self.failed = 0

    def __call__(self, name: str, ok: bool, figures: str) -> bool:
        self.failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'}  {name}: {figures}", flush=True)
        return ok


def run(args) -> int:
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "no CUDA device is visible: nothing to check here. Run this on a machine with a GPU, or with --device cpu."
        )
        return 2
    with contextlib.ExitStack() as stack:
        folder = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reid-gpu-check-")))
        folder.mkdir(parents=True, exist_ok=True)
        checks = Checks()
        started = time.perf_counter()
        check_device(checks, args.device)
        dataset = tiny_dataset(folder)
        models = check_training(checks, dataset, folder, args.device)
        check_resume_across_precisions(checks, dataset, folder, args.device)
        check_evaluation(checks, dataset, models["float32"], folder, args.device)
        check_metrics_and_rerank(checks, args.device)
        check_cost(checks, args.device)
    print(
        f"{checks.failed} check(s) failed, in {time.perf_counter() - started:.0f} s"
        if checks.failed
        else f"every check passed, in {time.perf_counter() - started:.0f} s"
    )
    return 1 if checks.failed else 0


def check_device(checks: Checks, device: str) -> None:
    runtime = Runtime.resolve(device)
    if runtime.cuda:
        capability = torch.cuda.get_device_capability(runtime.device)
        expected = "bfloat16" if capability >= reid.runtime.BF16_FROM_CAPABILITY else "float16"
        checks(
            "the precision amp=auto picks",
            runtime.precision == expected,
            f"{device_name(runtime.device)}, compute capability {capability[0]}.{capability[1]}, "
            f"{runtime.precision} (bf16 supported by torch: {torch.cuda.is_bf16_supported()})",
        )
    else:
        checks(
            "the precision amp=auto picks", runtime.precision == "float32", f"{device_name(runtime.device)}, float32"
        )
    # The pool, as this job's environment leaves it, is compared with torch. nvidia-smi's listing
    # (all the machine's GPUs) is compared with the driver's, which stands in for it where it is missing.
    pool, every, listed = device_pool(), device_pool({}), driver_listed_gpus()
    count = torch.cuda.device_count()
    checks(
        "GPUs the job slots find",
        len(pool) == count and (len(listed) == len(every) or not reid.gpu_slot.DRIVER_GPUS.exists()),
        f"torch sees {count}, the pool {len(pool)}, nvidia-smi {len(every)}, the driver's listing {len(listed)}",
    )


def tiny_dataset(folder: Path):
    return load_market_layout(
        generate(folder / "synthetic", size="tiny", seed=0, workers=1, progress=False), "synthetic"
    )


def recipe(folder: Path, device: str, **changes) -> TrainConfig:
    return TrainConfig(**{**RECIPE, "device": device, "cache_dir": str(folder / "cache"), **changes})


def log_rows(run: Path) -> list[dict]:
    with open(run / "log.csv") as f:
        return [row for row in csv.DictReader(f) if row["loss"]]


def check_training(checks: Checks, dataset, folder: Path, device: str) -> dict[str, Path]:
    """Train two epochs in each precision and return the model files by precision."""

    models = {}
    # fp16 is left out on the CPU because it has no fast kernels there; see
    # `python -m reid.bench train --device cpu --amp fp16` for how much slower an epoch is.
    chosen = (("bf16", "bfloat16"), ("fp16", "float16"), ("off", "float32"))
    for amp, precision in chosen if device == "cuda" else (chosen[0], chosen[2]):
        out = folder / f"train-{amp}"
        t = time.perf_counter()
        summary = train(recipe(folder, device, amp=amp), dataset, "residual", seed=0, out=out)
        rows = log_rows(out)
        losses = [float(r["loss"]) for r in rows]
        checks(
            f"training in {precision}",
            all(np.isfinite(losses)) and [r["precision"] for r in rows] == [precision] * 2,
            f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, {float(rows[-1]['images_per_s']):.0f} img/s, "
            f"mAP {summary['final']['mAP']:.3f}, {time.perf_counter() - t:.1f} s",
        )
        models[precision] = out / "model.pt"
    return models


DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


@contextlib.contextmanager
def choosing(precision: str):
    """Make this machine pick ``precision`` for the config's ``amp``, as a machine with another
    GPU would, by replacing the precision in what Runtime.resolve answers."""
    real = Runtime.__dict__["resolve"]

    def resolve(cls, *args, **kwargs):
        chosen = real.__func__(cls, *args, **kwargs)
        return dataclasses.replace(
            chosen, amp=precision != "float32", amp_dtype=DTYPES.get(precision, chosen.amp_dtype)
        )

    Runtime.resolve = classmethod(resolve)
    try:
        yield
    finally:
        Runtime.resolve = real


class KilledAfterTheFirstEpoch(Exception):
    """The first part of the resume check stops with this once its first epoch is saved, as a job
    killed there (a SLURM preemption) would stop."""


def kill_after_the_first_epoch(row: dict) -> None:
    """Serve as train's on_epoch_end for that, since it is called once the epoch's checkpoint is written."""
    if row["epoch"] == 1:
        raise KilledAfterTheFirstEpoch


def check_resume_across_precisions(checks: Checks, dataset, folder: Path, device: str) -> None:
    """Train the first epoch in bf16 and resume the second in fp16.

    On the CPU, where fp16 has no fast kernels, the second epoch runs in float32.
    """

    then = "float16" if device == "cuda" else "float32"
    out, cfg = folder / "resume", recipe(folder, device)
    with choosing("bfloat16"), contextlib.suppress(KilledAfterTheFirstEpoch):
        train(cfg, dataset, "residual", seed=0, out=out, on_epoch_end=kill_after_the_first_epoch)
    try:
        with choosing(then):
            summary = train(cfg, dataset, "residual", seed=0, out=out)
        rows = log_rows(out)
        said = f"epochs in {', '.join(r['precision'] for r in rows)}; final loss {rows[-1]['loss']}"
        ok = [r["precision"] for r in rows] == ["bfloat16", then] and np.isfinite(float(rows[-1]["loss"]))
        ok = ok and summary["final"].get("precision") == then
    except Exception as err:  # noqa: BLE001 - the check reports what went wrong instead of stopping the others
        ok, said = False, f"{type(err).__name__}: {err}"
    checks(f"resume from bfloat16 in {then}", ok, said)


def check_evaluation(checks: Checks, dataset, model: Path, folder: Path, device: str) -> None:
    got = {}
    for where in (device, "cpu"):
        t = time.perf_counter()
        got[where] = evaluate_checkpoint(model, dataset, folder / f"eval-{where}", rerank=True, device=where)
        got[where]["seconds"] = time.perf_counter() - t
    a, b = got[device], got["cpu"]
    checks(
        f"evaluation with re-ranking on {device} against the CPU",
        abs(a["mAP"] - b["mAP"]) <= 0.02,
        f"mAP {a['mAP']:.4f} vs {b['mAP']:.4f}, {a['seconds']:.1f} s vs {b['seconds']:.1f} s",
    )


def check_metrics_and_rerank(checks: Checks, device: str) -> None:
    rng = np.random.default_rng(0)
    nq, ng = (300, 3000) if device == "cuda" else (100, 600)
    q, g = rng.standard_normal((nq, 64)).astype(np.float32), rng.standard_normal((ng, 64)).astype(np.float32)
    ids = dict(
        q_pids=rng.integers(1, 200, nq),
        g_pids=rng.integers(0, 200, ng),
        q_camids=rng.integers(1, 7, nq),
        g_camids=rng.integers(1, 7, ng),
    )
    cpu = k_reciprocal_from_features(torch.from_numpy(q), torch.from_numpy(g))
    t = time.perf_counter()
    there = k_reciprocal_from_features(torch.from_numpy(q).to(device), torch.from_numpy(g).to(device))
    Runtime.resolve(device).sync()
    seconds = time.perf_counter() - t
    diff = float((there.cpu() - cpu).abs().max())
    checks(f"re-ranking on {device} against the CPU", diff <= 1e-5, f"max difference {diff:.1e}, {seconds:.2f} s")
    a, b = cmc_map(there, **ids), cmc_map(cpu, **ids)
    same = np.array_equal(a["first_hit"], b["first_hit"]) and abs(a["mAP"] - b["mAP"]) <= 1e-6
    checks(f"CMC and mAP on {device} against the CPU", same, f"mAP {a['mAP']:.6f} vs {b['mAP']:.6f}")


def check_cost(checks: Checks, device: str) -> None:
    model = build_model("residual", 751, backbone="resnet50" if device == "cuda" else "resnet18")
    runs, batch = (50, 64) if device == "cuda" else (3, 2)
    got = measure_latency(model, 288, 144, device, runs=runs, warmup=2, batch=batch, batches=2)
    checks(
        f"latency at 288x144 on {device}",
        got["latency_ms_median"] > 0 and got["throughput_images_per_s"] > 0,
        f"{got['device']}, {got['precision']}: batch-1 latency {got['latency_ms_median']:.2f} ms, "
        f"{got['throughput_images_per_s']:.0f} img/s at batch {batch}",
    )
