"""Training throughput: images/s of the real input pipeline (cache -> PK batch -> augmentation
on the device -> step) against the model alone on random tensors already on the device.

The ratio pipeline / model-alone says how much the input pipeline costs; 1.0 is free. Both are
timed in alternating rounds within one run, so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from reid.config import TrainConfig
from reid.data import load_market_layout
from reid.data.augment import augmentation_from_config, seeded_generator, to_device
from reid.data.cache import load_images
from reid.data.sampler import pk_batches
from reid.losses import paper_loss
from reid.models import build_model
from reid.runtime import AMP_CHOICES, Runtime
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
    cfg = TrainConfig(
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
    runtime = Runtime.from_config(cfg)
    device = runtime.device
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    data = args.data
    tmp = None
    if not (data / "bounding_box_train").is_dir():
        from reid.data import synthetic

        tmp = tempfile.TemporaryDirectory()
        data = synthetic.generate(Path(tmp.name) / "synthetic", size="tiny", progress=False)
        print(f"{args.data} not found: using a tiny synthetic set")
    dataset = load_market_layout(data, name=data.name)
    t0 = time.perf_counter()
    train_images = load_images(dataset, cfg.height, cfg.width, splits=("train",))["train"]
    decode_s = time.perf_counter() - t0
    if device.type == "cuda":
        train_images = train_images.to(device)
    labels = torch.tensor(dataset.train_labels)

    torch.manual_seed(0)
    model = runtime.place(
        build_model(args.variant, dataset.num_train_pids, backbone=args.backbone, **cfg.model_options(args.variant))
    )
    params = list(model.parameters())
    if runtime.compile:
        model = torch.compile(model)
    optimizer = torch.optim.SGD(
        params, lr=1e-3, momentum=0.9, weight_decay=5e-4, **({"fused": True} if device.type == "cuda" else {})
    )
    scaler = runtime.grad_scaler()
    augment = augmentation_from_config(cfg)
    generator = seeded_generator(0)
    rng = np.random.default_rng(0)
    batches = []

    def next_batch():
        nonlocal batches
        if not batches:
            batches = pk_batches(labels.numpy(), cfg.num_instances, cfg.batch_size, rng)
        return torch.from_numpy(batches.pop())

    # model alone: a fixed random batch already on the device, same labels structure
    fixed_x = runtime.batch(torch.randn(cfg.batch_size, 3, cfg.height, cfg.width, device=device))
    fixed_y = labels[next_batch()].to(device)
    labels_dev = labels.to(device)

    def model_alone():
        _step(model, optimizer, scaler, fixed_x, fixed_y, runtime)

    # as the training loop does: indices and augmentation draws of many steps copied at once
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
        _step(model, optimizer, scaler, x, labels_dev[idx], runtime)

    for _ in range(args.warmup):
        model_alone()
        pipeline()
    runtime.sync()
    seconds = {"model_alone": 0.0, "pipeline": 0.0}
    for _ in range(args.rounds):
        for name, fn in (("model_alone", model_alone), ("pipeline", pipeline)):
            runtime.sync()
            t = time.perf_counter()
            for _ in range(args.steps):
                fn()
            runtime.sync()
            seconds[name] += time.perf_counter() - t
    n = args.rounds * args.steps * cfg.batch_size
    result = {
        "machine": _machine(device),
        "command": "python -m reid.bench train " + " ".join(_argv(args)),
        "variant": args.variant,
        "backbone": args.backbone,
        "input": f"{cfg.height}x{cfg.width}",
        "batch_size": cfg.batch_size,
        "amp": runtime.amp,
        "amp_dtype": runtime.precision if runtime.amp else None,
        "channels_last": runtime.channels_last,
        "compile": args.compile,
        "decode_images_per_s": round(len(train_images) / decode_s, 1),
        "model_alone_images_per_s": round(n / seconds["model_alone"], 2),
        "pipeline_images_per_s": round(n / seconds["pipeline"], 2),
    }
    result["ratio"] = round(result["pipeline_images_per_s"] / result["model_alone_images_per_s"], 3)
    print(json.dumps(result, indent=2))
    if args.json:
        from reid.utils import atomic_write_json

        atomic_write_json(args.json, result)
    if tmp is not None:
        tmp.cleanup()
    return 0


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _argv(args) -> list[str]:
    skip = {"func", "json", "command"}
    return [f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in skip]
