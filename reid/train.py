"""Training: ``python -m reid train --config FILE --variant V --seed N --out DIR [--set KEY=VALUE ...]``.

One plain loop (torchvision's references/classification style): PK batches from a decoded
uint8 cache, batched augmentation on the device, equation (2), SGD with warmup and step decay.
Everything a run writes lives in DIR:
    log.csv          one row per epoch (losses, accuracy, lr, seconds, images/s, R1/mAP every N)
    curve.npz        each query's first-hit rank at each of those evaluations, and its identity:
                     the R1-in-training claim (C6) counts the test set's people from it
    checkpoint.pt    after every epoch (atomic; the previous one kept as checkpoint.prev.pt)
    model.pt         the final weights with their config and provenance
    features.pt      the test features of the last evaluation, for the evaluation jobs
Rerunning the same command resumes from the last checkpoint; with the same seed on the CPU the
result is the same as an uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from reid.checkpoints import (
    check_run_folder,
    load_checkpoint,
    remove_checkpoints,
    resume_folder,
    run_key,
    save_checkpoint,
    save_model_file,
)
from reid.config import TrainConfig
from reid.data import ReidDataset, fingerprint
from reid.data.augment import augmentation_from_config, seeded_generator, to_device
from reid.data.cache import load_images
from reid.data.sampler import pk_batches
from reid.features import FEATURES_FILE, euclidean_distances, extract_features, extraction_key, save_run_features
from reid.losses import paper_loss
from reid.metrics import cmc_map
from reid.models import build_model
from reid.provenance import provenance
from reid.runtime import Runtime
from reid.tensorboard import EpochScalars
from reid.utils import atomic_path, atomic_write_json

LOG_FIELDS = [
    "epoch",
    "loss",
    "triplet",
    "ce",
    "train_acc",
    "lr",
    "epoch_seconds",
    "images_per_s",
    "rank1",
    "mAP",
    "precision",  # what the epoch's forward passes ran in: a resumed run may change it (restore_scaler)
]


class TrainingDiverged(RuntimeError):
    pass


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


CURVE_FILE = "curve.npz"


def write_curve(path: Path, hits: dict, q_pids) -> None:
    """curve.npz: ``epochs`` (E), ``first_hit`` (E x queries, 0-based rank of the first match,
    -1 where a query has none) and ``q_pids``; empty arrays when the run evaluated no epoch."""
    epochs = sorted(hits)
    first_hit = (
        np.stack([np.asarray(hits[e], dtype=np.int32) for e in epochs]) if epochs else np.zeros((0, 0), np.int32)
    )
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f, epochs=np.array(epochs, dtype=np.int32), first_hit=first_hit, q_pids=np.asarray(q_pids)
            )


def clock(seconds: float) -> str:
    """A duration as H:MM:SS, for the progress lines of a run that may take hours."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def restore_scaler(scaler: torch.amp.GradScaler, state: dict, precision: str) -> str:
    """Load a checkpoint's gradient scaler into ``scaler``, across a change of precision.

    The precision is a property of the machine, not of the recipe (amp: auto picks bf16 or fp16
    by the GPU's generation), so it is kept out of the run key: a SLURM retry that lands on
    another GPU generation resumes instead of starting again. The weights and the optimiser's
    state are float32 whatever the precision, so only the scaler needs care: one saved while it
    was off (bf16 or float32) holds nothing, and one saved on is of no use to bf16 or float32.
    Returns a note for the log when the precision changed, else "".
    """
    saved = state.get("scaler") or {}
    before = state.get("precision")  # None in a checkpoint written before it was recorded
    if scaler.is_enabled() and saved:
        scaler.load_state_dict(saved)
    if before is None or before == precision:
        return ""
    fresh = " the gradient scaler starts afresh;" if scaler.is_enabled() and not saved else ""
    return f"trained in {before} so far, resumed in {precision} (this machine's choice);{fresh} log.csv says which epoch ran in which"


def trained_in(history: list[dict]) -> str:
    """The precisions a run's epochs ran in, in order of first use (e.g. "bfloat16" or
    "bfloat16, float16" after a resume on another GPU generation)."""
    seen = [row["precision"] for row in history if row.get("precision")]
    return ", ".join(dict.fromkeys(seen)) or "unknown"


def write_log(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row.get(k, "") for k in LOG_FIELDS})


def evaluate(model, dataset: ReidDataset, images: dict, cfg: TrainConfig, runtime: Runtime) -> tuple[dict, dict]:
    """R1 and mAP on the test split during training (the Figure 5 curves), and the features."""
    feats = {
        split: extract_features(model, images[split], runtime, cfg.eval_batch_size, cfg.eval_flip)
        for split in ("query", "gallery")
    }
    dist = euclidean_distances(feats["query"].to(runtime.device), feats["gallery"].to(runtime.device))
    metrics = cmc_map(
        dist,
        [s.pid for s in dataset.query],
        [s.pid for s in dataset.gallery],
        [s.camid for s in dataset.query],
        [s.camid for s in dataset.gallery],
    )
    return metrics, feats


def train(
    cfg: TrainConfig,
    dataset: ReidDataset,
    variant: str,
    seed: int,
    out: str | os.PathLike,
    stop_after: int | None = None,
) -> dict:
    """Train (or resume) one model; returns the summary written to ``out/train.json``.

    ``stop_after``: leave after that many epochs of this call (tests of interruption).
    """
    out = Path(out)
    resume = resume_folder(out)  # the run folder, or its place on a shared volume (Kubernetes)
    state = load_checkpoint(resume)  # checked first: a wrong folder is refused before any work
    check_run_folder(resume, state, variant)
    runtime = Runtime.from_config(cfg)
    scalars = EpochScalars(out) if cfg.tensorboard else None  # a missing extra is said before any work
    device = runtime.device
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True

    images = load_images(
        dataset,
        cfg.height,
        cfg.width,
        cfg.cache_dir,
        cfg.decode_workers,
        ("train", "query", "gallery") if cfg.eval_every else ("train",),
    )
    train_images = images["train"]
    if device.type == "cuda":  # the whole uint8 cache lives on the GPU: no loader, no copies
        train_images = train_images.to(device)
    labels = torch.tensor(dataset.train_labels)

    torch.manual_seed(seed)
    model = build_model(
        variant,
        dataset.num_train_pids,
        backbone=cfg.backbone,
        pretrained=cfg.pretrained,
        last_stride=cfg.last_stride,
        **cfg.model_options(variant),
    )
    runtime.place(model)
    # the compiled module shares the parameters; evaluation and checkpoints use ``model`` itself
    step_model = torch.compile(model) if runtime.compile else model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params,
        lr=cfg.base_lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        **({"fused": True} if device.type == "cuda" else {}),
    )
    scaler = runtime.grad_scaler()
    augment = augmentation_from_config(cfg)

    history: list[dict] = []
    query_hits: dict[int, torch.Tensor] = {}  # epoch -> each query's first-hit rank (curve.npz)
    q_pids = [s.pid for s in dataset.query]
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
        note = restore_scaler(scaler, state, runtime.precision)
        if note:
            print(f"{out}: {note}")
        history = state["history"]
        query_hits = state.get("query_hits", {})
        start_epoch = state["epoch"]
        print(f"resuming {out} after epoch {start_epoch}")

    started = time.time()
    if start_epoch == 0 and cfg.eval_every:
        # epoch 0: the untrained network, the floor every learning curve starts from
        metrics, _ = evaluate(model, dataset, images, cfg, runtime)
        history = [
            {
                "epoch": 0,
                "lr": learning_rate(cfg, 0),
                "rank1": round(float(metrics["cmc"][0]), 6),
                "mAP": round(metrics["mAP"], 6),
            }
        ]
        query_hits = {0: torch.from_numpy(metrics["first_hit"]).to(torch.int32)}
        if scalars:
            scalars.write(history[0])
    epochs_this_call = 0
    final_features = None
    for epoch in range(start_epoch, cfg.epochs):
        if stop_after is not None and epochs_this_call >= stop_after:
            return {"stopped_after_epoch": epoch}
        row = train_one_epoch(
            step_model,
            optimizer,
            scaler,
            augment,
            train_images,
            labels,
            cfg,
            runtime,
            epoch,
            seed,
            cfg.loss_options(variant),
        )
        last = epoch + 1 == cfg.epochs
        if cfg.eval_every and ((epoch + 1) % cfg.eval_every == 0 or last):
            metrics, feats = evaluate(model, dataset, images, cfg, runtime)
            final_features = feats if last else None
            row.update(rank1=round(float(metrics["cmc"][0]), 6), mAP=round(metrics["mAP"], 6))
            query_hits[epoch + 1] = torch.from_numpy(metrics["first_hit"]).to(torch.int32)
        history.append(row)
        if scalars:
            scalars.write(row)
        save_checkpoint(
            resume / "checkpoint.pt",
            {
                "epoch": epoch + 1,
                "variant": variant,
                "num_classes": dataset.num_train_pids,
                "run_key": key,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "precision": runtime.precision,
                "history": history,
                "query_hits": query_hits,
            },
        )
        write_log(out / "log.csv", history)
        write_curve(out / CURVE_FILE, query_hits, q_pids)
        epochs_this_call += 1
        if cfg.progress:
            shown = {
                k: row[k] for k in ("epoch", "loss", "train_acc", "lr", "images_per_s", "rank1", "mAP") if k in row
            }
            # the ETA extrapolates this call's pace (its epochs, evaluations and checkpoints)
            spent = time.time() - started
            shown.update(
                epochs=cfg.epochs, elapsed=clock(spent), eta=clock(spent / epochs_this_call * (cfg.epochs - epoch - 1))
            )
            print(json.dumps(shown), flush=True)

    # again after the loop: a run resumed after its last epoch (killed while writing model.pt)
    # trains none, and Snakemake removed log.csv and curve.npz with the other outputs of the
    # killed job
    write_log(out / "log.csv", history)
    write_curve(out / CURVE_FILE, query_hits, q_pids)
    summary = {
        "variant": variant,
        "seed": seed,
        "dataset": dataset.name,
        "epochs": cfg.epochs,
        "num_classes": dataset.num_train_pids,
        "final": history[-1] if history else {},
        "untrained": history[0] if history and history[0]["epoch"] == 0 else None,
        "train_seconds_this_run": round(time.time() - started, 3),
    }
    digest = save_model_file(
        out / "model.pt",
        model,
        variant,
        cfg,
        num_classes=dataset.num_train_pids,
        seed=seed,
        dataset=dataset.name,
        dataset_fingerprint=data_key,
        provenance={**provenance(device), "precision": trained_in(history)},
    )
    if final_features is not None:
        features_key = extraction_key(digest, data_key, runtime, cfg.eval_flip, cfg.eval_batch_size)
        save_run_features(out / FEATURES_FILE, final_features, features_key)
    else:  # none of these weights: an older run's must not stay beside them
        (out / FEATURES_FILE).unlink(missing_ok=True)
    atomic_write_json(out / "train.json", summary)
    remove_checkpoints(resume)
    if scalars:
        scalars.close()
    return summary


def train_one_epoch(
    model,
    optimizer,
    scaler,
    augment,
    train_images: torch.Tensor,
    labels: torch.Tensor,
    cfg: TrainConfig,
    runtime: Runtime,
    epoch: int,
    seed: int,
    loss_options: dict | None = None,
) -> dict:
    """One epoch of PK batches: augmentation on the device, equation (2), an SGD step each.

    ``loss_options``: the variant's (``cfg.loss_options(variant)``); by default the paper's."""
    model.train()
    device = runtime.device
    labels_dev = labels.to(device)
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
    all_idx = to_device(
        torch.from_numpy(np.concatenate(batches)) if batches else torch.zeros(0, dtype=torch.long), device
    )
    all_params = to_device(augment.draw(len(all_idx), cfg.height, cfg.width, generator), device)
    bs = cfg.batch_size
    for step in range(len(batches)):
        lr = learning_rate(cfg, epoch, step / len(batches))
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = all_idx[step * bs : (step + 1) * bs]
        x = augment.apply(
            train_images[idx.to(train_images.device)].to(device, non_blocking=True),
            all_params[step * bs : (step + 1) * bs],
        )
        x = runtime.batch(x)
        y = labels_dev[idx]
        with runtime.autocast():
            outputs = model(x)
        losses = paper_loss(outputs, y, **(loss_options or cfg.loss_options()))
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
            f"data, or set amp: off; the last good checkpoint is kept"
        )
    runtime.sync()
    seconds = time.perf_counter() - t0
    means = (sums / max(len(batches), 1)).tolist()
    n_images = len(batches) * cfg.batch_size
    return {
        "epoch": epoch + 1,
        "loss": round(means[0], 6),
        "triplet": round(means[1], 6),
        "ce": round(means[2], 6),
        "train_acc": round(means[3], 6),
        "lr": lr,
        "epoch_seconds": round(seconds, 3),
        "images_per_s": round(n_images / seconds, 2) if seconds > 0 else math.nan,
        "precision": runtime.precision,
    }
