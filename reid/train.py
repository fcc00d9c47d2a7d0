"""Training: ``python -m reid train --config FILE --variant V --seed N --out DIR [--set KEY=VALUE ...]``.

One plain loop (torchvision's references/classification style): PK batches from a decoded
uint8 cache, batched augmentation on the device, equation (2), SGD with warmup and step decay.
Everything a run writes lives in DIR:
    log.csv          one row per epoch (losses, accuracy, lr, seconds, images/s, R1/mAP every N)
    checkpoint.pt    after every epoch (atomic; the previous one kept as checkpoint.prev.pt)
    model.pt         the final weights with their config and provenance
Rerunning the same command resumes from the last checkpoint; with the same seed on the CPU the
result is the same as an uninterrupted run.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from reid.config import TrainConfig
from reid.data import ReidDataset, fingerprint
from reid.engine.augment import augmentation_from_config, seeded_generator, to_device
from reid.engine.cache import cached_images
from reid.engine.sampler import pk_batches
from reid.eval import cmc_map
from reid.evaluate import weights_digest
from reid.features import euclidean_distances, extract_features
from reid.losses import paper_loss
from reid.models import build_model
from reid.utils import atomic_path, atomic_write_bytes, atomic_write_json

LOG_FIELDS = ["epoch", "loss", "triplet", "ce", "train_acc", "lr", "epoch_seconds", "images_per_s", "rank1", "mAP"]


class TrainingDiverged(RuntimeError):
    pass


# ---------------------------------------------------------------- device and schedule

def resolve_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is visible; use device: auto or cpu")
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def _switch(value: str, device: torch.device) -> bool:
    return device.type == "cuda" if value == "auto" else value == "on"


def learning_rate(cfg: TrainConfig, epoch: int, progress: float = 0.0) -> float:
    """Linear warmup from warmup_factor x base_lr over warmup_epochs, then x gamma at each milestone.

    ``epoch`` is 0-based, ``progress`` the fraction of it done (warmup is per iteration).
    """
    decay = cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    t = epoch + progress
    if t < cfg.warmup_epochs:
        warm = cfg.warmup_factor + (1 - cfg.warmup_factor) * t / cfg.warmup_epochs
        return cfg.base_lr * warm * decay
    return cfg.base_lr * decay


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(path: Path, state: dict) -> None:
    """Atomic, and the previous checkpoint survives as .prev in case this one is damaged later."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    if path.exists():
        os.replace(path, path.with_suffix(".prev.pt"))
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(out: Path) -> dict | None:
    """The newest readable checkpoint in ``out`` (falls back to the previous one if damaged)."""
    for path in (out / "checkpoint.pt", out / "checkpoint.prev.pt"):
        if not path.exists():
            continue
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated or corrupt file: say so and try the older one
            print(f"warning: checkpoint {path} is unreadable ({type(err).__name__}: {err}); trying the previous one")
    return None


# config keys that change how a run is carried out, not what it computes
NOT_IN_RUN_KEY = ("progress", "cache_dir", "decode_workers", "eval_batch_size")


class RunFolderError(Exception):
    """The run folder holds another run's checkpoint; the message says what to do."""


def run_key(cfg: TrainConfig, variant: str, seed: int, dataset_fingerprint: str) -> str:
    """What a checkpoint must have been trained with to be resumed: config, variant, seed, data."""
    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_IN_RUN_KEY}
    text = json.dumps({"config": config, "variant": variant, "seed": seed, "data": dataset_fingerprint},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_commit() -> str:
    """The package's commit, with "-dirty" if its tree has uncommitted changes; "" outside git."""
    def git(*args):
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, cwd=Path(__file__).parent)
        return done.stdout.strip() if done.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        if not commit:
            return ""
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def provenance(device: torch.device) -> dict:
    commit = git_commit()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "commit": commit or "unknown",
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "device": f"{device.type}: {name}",
        "host": platform.node(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),  # the GPU slot a job ran on
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_log(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row.get(k, "") for k in LOG_FIELDS})


# ---------------------------------------------------------------- evaluation during training

def evaluate_model(model, dataset: ReidDataset, images: dict, cfg: TrainConfig, device: torch.device, amp: bool,
                   channels_last: bool) -> dict:
    feats = {
        split: extract_features(model, images[split], cfg.eval_batch_size, device, amp, cfg.eval_flip, channels_last)
        for split in ("query", "gallery")
    }
    dist = euclidean_distances(feats["query"].to(device), feats["gallery"].to(device))
    return cmc_map(dist, [s.pid for s in dataset.query], [s.pid for s in dataset.gallery],
                   [s.camid for s in dataset.query], [s.camid for s in dataset.gallery])


# ---------------------------------------------------------------- the loop

def load_images(dataset: ReidDataset, cfg: TrainConfig, splits=("train", "query", "gallery")) -> dict:
    key = fingerprint(dataset)
    return {
        split: cached_images(getattr(dataset, split), f"{dataset.name}-{key}-{split}", cfg.height, cfg.width,
                             cfg.cache_dir or None, cfg.decode_workers)
        for split in splits
    }


def train(cfg: TrainConfig, dataset: ReidDataset, variant: str, seed: int, out: str | os.PathLike,
          stop_after: int | None = None) -> dict:
    """Train (or resume) one model; returns the summary written to ``out/train.json``.

    ``stop_after``: leave after that many epochs of this call (tests of interruption).
    """
    out = Path(out)
    state = load_checkpoint(out)  # checked first: a wrong folder is refused before any work
    if state is not None and state["variant"] != variant:
        raise RunFolderError(
            f"{out} holds a checkpoint of variant {state['variant']}, not {variant}: use another --out, or delete "
            f"{out / 'checkpoint.pt'} and {out / 'checkpoint.prev.pt'} to start this run there")
    device = resolve_device(cfg)
    amp = _switch(cfg.amp, device)
    channels_last = _switch(cfg.channels_last, device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True

    images = load_images(dataset, cfg, ("train", "query", "gallery") if cfg.eval_every else ("train",))
    train_images = images["train"]
    if device.type == "cuda":  # the whole uint8 cache lives on the GPU: no loader, no copies
        train_images = train_images.to(device)
    labels = torch.tensor(dataset.train_labels)
    labels_dev = labels.to(device)

    torch.manual_seed(seed)
    model = build_model(variant, dataset.num_train_pids, backbone=cfg.backbone, pretrained=cfg.pretrained,
                        last_stride=cfg.last_stride, **cfg.model_options(variant))
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    # the compiled module shares the parameters; evaluation and checkpoints use ``model`` itself
    step_model = torch.compile(model) if _switch(cfg.compile, device) else model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=cfg.base_lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                **({"fused": True} if device.type == "cuda" else {}))
    amp_dtype = torch.bfloat16 if device.type != "cuda" or torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp and amp_dtype == torch.float16)
    augment = augmentation_from_config(cfg)

    history: list[dict] = []
    start_epoch = 0
    data_key = fingerprint(dataset)
    key = run_key(cfg, variant, seed, data_key)
    if state is not None and state.get("run_key") != key:
        # a changed config, seed or dataset (Snakemake reruns the job): the old trajectory does not apply
        print(f"{out}: the checkpoint was made with another config, seed or dataset; training from the start")
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        history = state["history"]
        start_epoch = state["epoch"]
        print(f"resuming {out} after epoch {start_epoch}")

    out.mkdir(parents=True, exist_ok=True)  # only now: a job that fails earlier leaves no folder
    started = time.time()
    if start_epoch == 0 and cfg.eval_every:
        # epoch 0: the untrained network, the floor every learning curve starts from
        metrics = evaluate_model(model, dataset, images, cfg, device, amp, channels_last)
        history = [{"epoch": 0, "lr": learning_rate(cfg, 0), "rank1": round(float(metrics["cmc"][0]), 6),
                    "mAP": round(metrics["mAP"], 6)}]
    epochs_this_call = 0
    for epoch in range(start_epoch, cfg.epochs):
        if stop_after is not None and epochs_this_call >= stop_after:
            return {"stopped_after_epoch": epoch}
        row = train_one_epoch(step_model, optimizer, scaler, augment, train_images, labels, labels_dev, cfg, epoch, seed,
                              device, amp, amp_dtype, channels_last)
        last = epoch + 1 == cfg.epochs
        if cfg.eval_every and ((epoch + 1) % cfg.eval_every == 0 or last):
            metrics = evaluate_model(model, dataset, images, cfg, device, amp, channels_last)
            row.update(rank1=round(float(metrics["cmc"][0]), 6), mAP=round(metrics["mAP"], 6))
        history.append(row)
        save_checkpoint(out / "checkpoint.pt", {
            "epoch": epoch + 1, "variant": variant, "num_classes": dataset.num_train_pids, "run_key": key,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
            "history": history,
        })
        write_log(out / "log.csv", history)
        epochs_this_call += 1
        if cfg.progress:
            shown = {k: row[k] for k in ("epoch", "loss", "train_acc", "lr", "images_per_s", "rank1", "mAP") if k in row}
            print(json.dumps(shown), flush=True)

    model_file = out / "model.pt"
    summary = {
        "variant": variant, "seed": seed, "dataset": dataset.name, "epochs": cfg.epochs,
        "num_classes": dataset.num_train_pids, "final": history[-1] if history else {},
        "untrained": history[0] if history and history[0]["epoch"] == 0 else None,
        "train_seconds_this_run": round(time.time() - started, 3),
    }
    payload = {
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "variant": variant, "num_classes": dataset.num_train_pids, "seed": seed,
        "config": dataclasses.asdict(cfg), "dataset": dataset.name, "dataset_fingerprint": data_key,
        "provenance": provenance(device),
    }
    payload["weights_sha256"] = weights_digest(variant, payload["config"], payload["state_dict"])
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(model_file, buffer.getvalue())
    atomic_write_json(out / "train.json", summary)
    # the run is complete and model.pt holds its weights: the resume points (optimizer state
    # included, twice the model's size each) would only fill the disk
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (out / name).unlink(missing_ok=True)
    return summary


def train_one_epoch(model, optimizer, scaler, augment, train_images, labels, labels_dev, cfg, epoch, seed, device,
                    amp, amp_dtype, channels_last) -> dict:
    model.train()
    rng = np.random.default_rng([seed, epoch])
    generator = seeded_generator(seed, epoch)
    batches = pk_batches(labels.numpy(), cfg.num_instances, cfg.batch_size, rng)
    sums = torch.zeros(4, device=device, dtype=torch.float64)  # total, triplet, ce, accuracy
    first_bad = torch.full((), -1, device=device, dtype=torch.int64)  # checked once per epoch: no sync per step
    progress = None
    if cfg.progress:
        from tqdm import tqdm

        progress = tqdm(total=len(batches), desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, mininterval=2)
    t0 = time.perf_counter()
    # the epoch's image indices and augmentation draws go to the device in two copies, up front
    all_idx = to_device(torch.from_numpy(np.concatenate(batches)) if batches else torch.zeros(0, dtype=torch.long), device)
    all_params = to_device(augment.draw(len(all_idx), cfg.height, cfg.width, generator), device)
    bs = cfg.batch_size
    for step in range(len(batches)):
        lr = learning_rate(cfg, epoch, step / len(batches))
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = all_idx[step * bs:(step + 1) * bs]
        x = augment.apply(train_images[idx.to(train_images.device)].to(device, non_blocking=True),
                          all_params[step * bs:(step + 1) * bs])
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = labels_dev[idx]
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
            outputs = model(x)
        losses = paper_loss(outputs, y, cfg.margin, cfg.label_smoothing, cfg.triplet_weight, cfg.ce_weight)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        scaler.step(optimizer)
        scaler.update()
        total = losses["total"].detach()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(total), torch.full_like(first_bad, step), first_bad)
        sums += torch.stack([total, losses["triplet"], losses["ce"], losses["accuracy"]]).double()
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    bad = int(first_bad)
    if bad >= 0:
        raise TrainingDiverged(
            f"the loss became NaN or infinite at epoch {epoch + 1}, step {bad + 1}: lower train.base_lr, check the "
            f"data, or set amp: off; the last good checkpoint is kept")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    means = (sums / max(len(batches), 1)).tolist()
    n_images = len(batches) * cfg.batch_size
    return {
        "epoch": epoch + 1, "loss": round(means[0], 6), "triplet": round(means[1], 6), "ce": round(means[2], 6),
        "train_acc": round(means[3], 6), "lr": lr, "epoch_seconds": round(seconds, 3),
        "images_per_s": round(n_images / seconds, 2) if seconds > 0 else math.nan,
    }
