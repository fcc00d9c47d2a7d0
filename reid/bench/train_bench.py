"""Measure training throughput in images/s, of the real input pipeline (cache -> PK batch ->
augmentation on the device -> step) against the model alone on random tensors already on the device.

The ratio pipeline / model-alone says how much the input pipeline costs, and 1.0 means it is free.
Both are timed in alternating rounds within one run, so that machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from reid.config import TrainConfig
from reid.data import load_market_layout, synthetic
from reid.data.augment import augmentation_from_config, seeded_generator, to_device
from reid.data.cache import load_images
from reid.data.sampler import pk_batches
from reid.losses import paper_loss
from reid.models import build_model
from reid.runtime import AMP_CHOICES, Runtime
from reid.utils import atomic_write_json
from reid.variants import VARIANTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        type=Path,
        default=Path("data/synthetic"),
        help="a dataset in Market-1501 layout (default data/synthetic; a tiny synthetic set is made if missing)",
    )
    p.add_argument("--variant", default="residual", choices=VARIANTS)
    p.add_argument("--backbone", default="resnet50")
    p.add_argument("--height", type=int, default=288)
    p.add_argument("--width", type=int, default=144)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--amp", default="auto", choices=AMP_CHOICES)
    p.add_argument("--channels-last", default="auto", choices=["auto", "on", "off"])
    p.add_argument("--compile", default="off", choices=["auto", "on", "off"], help="torch.compile the model")
    p.add_argument("--steps", type=int, default=5, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=4, help="alternating rounds of each")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.set_defaults(func=run)


def _step(model, optimizer, scaler, x, y, runtime: Runtime):
    with runtime.autocast():
        out = model(x)
    loss = paper_loss(out, y)["total"]
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def run(args) -> int:
    cfg = _config(args)
    runtime = Runtime.from_config(cfg)
    if runtime.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    dataset, tmp = _open_dataset(args.data)
    train_images, decode_s = _decoded_train_images(dataset, cfg, runtime.device)
    labels = torch.tensor(dataset.train_labels)
    step = _training_step(args, cfg, runtime, dataset.num_train_pids)
    augment = augmentation_from_config(cfg)
    generator = seeded_generator(0)
    next_batch = _pk_batch_drawer(labels, cfg, np.random.default_rng(0))
    steps = {
        "model_alone": _model_alone_step(step, cfg, runtime, labels, next_batch),
        "pipeline": _pipeline_step(step, cfg, runtime, labels, next_batch, train_images, augment, generator),
    }
    seconds = _time_alternating(steps, args, runtime)
    result = _result(args, cfg, runtime, len(train_images) / decode_s, seconds)
    print(json.dumps(result, indent=2))
    if args.json:
        atomic_write_json(args.json, result)
    if tmp is not None:
        tmp.cleanup()
    return 0


def _config(args) -> TrainConfig:
    """Return the training config of the benchmark: the command's choices, and no pretrained weights,
    disk cache or progress bar, since the speed of a step does not depend on them."""
    return TrainConfig(
        backbone=args.backbone,
        pretrained="none",
        height=args.height,
        width=args.width,
        batch_size=args.batch_size,
        device=args.device,
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
        cache_dir="",
        progress=False,
    )


def _open_dataset(data: Path):
    """Return the dataset at ``data`` and None, or, where there is none, a tiny synthetic set and the
    temporary folder that holds it (the caller removes it), so that the benchmark runs anywhere."""
    tmp = None
    if not (data / "bounding_box_train").is_dir():
        tmp = tempfile.TemporaryDirectory()
        missing, data = data, synthetic.generate(Path(tmp.name) / "synthetic", size="tiny", progress=False)
        print(f"{missing} not found: using a tiny synthetic set")
    return load_market_layout(data, name=data.name), tmp


def _decoded_train_images(dataset, cfg: TrainConfig, device: torch.device):
    """Return the training images decoded at the input size (on the GPU when there is one, as training
    keeps them), and the seconds the decoding took."""
    t0 = time.perf_counter()
    train_images = load_images(dataset, cfg.height, cfg.width, splits=("train",))["train"]
    decode_s = time.perf_counter() - t0
    if device.type == "cuda":
        train_images = train_images.to(device)
    return train_images, decode_s


def _training_step(args, cfg: TrainConfig, runtime: Runtime, num_classes: int):
    """Return one SGD step of a freshly built model as a function of (images, labels). The model is
    seeded, so that every run of the benchmark starts from the same weights."""
    torch.manual_seed(0)
    model = runtime.place(
        build_model(args.variant, num_classes, backbone=args.backbone, **cfg.model_options(args.variant))
    )
    params = list(model.parameters())
    if runtime.compile:
        model = torch.compile(model)
    optimizer = torch.optim.SGD(
        params, lr=1e-3, momentum=0.9, weight_decay=5e-4, **({"fused": True} if runtime.device.type == "cuda" else {})
    )
    return functools.partial(_step, model, optimizer, runtime.grad_scaler(), runtime=runtime)


def _pk_batch_drawer(labels: torch.Tensor, cfg: TrainConfig, rng: np.random.Generator):
    """Return a function that returns the indices of the next PK batch; it draws a new epoch of batches
    once the previous one is used up, as the training loop does."""
    batches = []

    def next_batch():
        nonlocal batches
        if not batches:
            batches = pk_batches(labels.numpy(), cfg.num_instances, cfg.batch_size, rng)
        return torch.from_numpy(batches.pop())

    return next_batch


def _model_alone_step(step, cfg: TrainConfig, runtime: Runtime, labels: torch.Tensor, next_batch):
    """Return a training step on one fixed random batch that is already on the device, with labels of
    the same PK structure as real batches, so that it costs the model and nothing else."""
    device = runtime.device
    fixed_x = runtime.batch(torch.randn(cfg.batch_size, 3, cfg.height, cfg.width, device=device))
    fixed_y = labels[next_batch()].to(device)
    return lambda: step(fixed_x, fixed_y)


def _pipeline_step(step, cfg: TrainConfig, runtime: Runtime, labels, next_batch, train_images, augment, generator):
    """Return a training step through the real input pipeline. As the training loop does, it copies the
    indices and augmentation draws of many steps to the device at once."""
    device = runtime.device
    labels_dev = labels.to(device)
    ahead = {"idx": [], "params": []}

    def pipeline():
        if not ahead["idx"]:
            idx_all = torch.cat([next_batch() for _ in range(64)])
            params_all = to_device(augment.draw(len(idx_all), cfg.height, cfg.width, generator), device)
            ahead["idx"] = list(to_device(idx_all, device).split(cfg.batch_size))
            ahead["params"] = list(params_all.split(cfg.batch_size))
        idx, params = ahead["idx"].pop(), ahead["params"].pop()
        x = runtime.batch(
            augment.apply(train_images[idx.to(train_images.device)].to(device, non_blocking=True), params)
        )
        step(x, labels_dev[idx])

    return pipeline


def _time_alternating(steps: dict, args, runtime: Runtime) -> dict[str, float]:
    """Return the seconds each step function took over all rounds, after untimed warm-up steps. The
    functions take turns within each round, so that a drift of the machine hits them alike."""
    for _ in range(args.warmup):
        for fn in steps.values():
            fn()
    runtime.sync()
    seconds = dict.fromkeys(steps, 0.0)
    for _ in range(args.rounds):
        for name, fn in steps.items():
            runtime.sync()
            t = time.perf_counter()
            for _ in range(args.steps):
                fn()
            runtime.sync()
            seconds[name] += time.perf_counter() - t
    return seconds


def _result(args, cfg: TrainConfig, runtime: Runtime, decode_rate: float, seconds: dict[str, float]) -> dict:
    """Return the figures the benchmark prints and writes, with the command and settings that made them."""
    n = args.rounds * args.steps * cfg.batch_size
    result = {
        "machine": _machine(runtime.device),
        "command": "python -m reid.bench train " + " ".join(_argv(args)),
        "variant": args.variant,
        "backbone": args.backbone,
        "input": f"{cfg.height}x{cfg.width}",
        "batch_size": cfg.batch_size,
        "amp": runtime.amp,
        "amp_dtype": runtime.precision if runtime.amp else None,
        "channels_last": runtime.channels_last,
        "compile": args.compile,
        "decode_images_per_s": round(decode_rate, 1),
        "model_alone_images_per_s": round(n / seconds["model_alone"], 2),
        "pipeline_images_per_s": round(n / seconds["pipeline"], 2),
    }
    result["ratio"] = round(result["pipeline_images_per_s"] / result["model_alone_images_per_s"], 3)
    return result


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _argv(args) -> list[str]:
    skip = {"func", "json", "command"}
    return [f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in skip]
