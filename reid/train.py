"""Training: ``python -m reid train --config FILE --variant V --seed N --out DIR [--set KEY=VALUE ...]``.

One plain loop (torchvision's references/classification style): PK batches from a decoded
uint8 cache, batched augmentation on the device, equation (2), and SGD with warmup and step
decay. Everything a run writes lives in DIR, so that a run folder is the whole record of a run:
    log.csv          one row per epoch (losses, accuracy, lr, seconds, images/s, R1/mAP every N)
    curve.npz        each query's first-hit rank at each of those evaluations, and its identity
                     (the R1-in-training claim (C6) counts the test set's people from it)
    checkpoint.pt    after every epoch (atomic; the previous one kept as checkpoint.prev.pt)
    model.pt         the final weights with their config and provenance
    features.pt      the test features of the last evaluation, for the evaluation jobs
Rerunning the same command resumes from the last checkpoint. With the same seed on the CPU the
result is the same as an uninterrupted run's.

``train`` reads in the order the run goes: it sets up (``decode_images``, ``build_training``),
resumes (``resume_trajectory``), runs the epochs (``run_epoch``: ``train_one_epoch`` and, when
due, the test split's evaluation by ``reid.evaluate.evaluate_model``, then ``save_progress``), and
hands over model.pt and features.pt (``hand_over``). ``reid.run_log`` writes log.csv and
curve.npz. A caller follows the epochs through ``on_epoch_end``, as TensorBoard does.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

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
from reid.data.augment import BatchAugment, augmentation_from_config, seeded_generator, to_device
from reid.data.cache import load_images
from reid.data.sampler import pk_batches
from reid.evaluate import Identities, evaluate_model, identities
from reid.features import FEATURES_FILE, extraction_key, save_run_features
from reid.losses import paper_loss
from reid.models import build_model
from reid.provenance import provenance
from reid.run_log import CURVE_FILE, print_progress, trained_in, write_curve, write_log
from reid.runtime import Runtime
from reid.tensorboard import EpochScalars
from reid.utils import atomic_write_json


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; training on would only save broken weights over good ones."""


def learning_rate(cfg: TrainConfig, epoch: int, progress: float = 0.0) -> float:
    """Return the learning rate: a linear warmup from warmup_factor x base_lr over warmup_epochs,
    then x gamma at each milestone.

    ``epoch`` is 0-based and ``progress`` is the fraction of it done, because warmup is per
    iteration.
    """
    decay = cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    t = epoch + progress
    if t < cfg.warmup_epochs:
        warm = cfg.warmup_factor + (1 - cfg.warmup_factor) * t / cfg.warmup_epochs
        return cfg.base_lr * warm * decay
    return cfg.base_lr * decay


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
    before = state.get("precision")  # It is None in a checkpoint written before it was recorded.
    if scaler.is_enabled() and saved:
        scaler.load_state_dict(saved)
    if before is None or before == precision:
        return ""
    fresh = " the gradient scaler starts afresh;" if scaler.is_enabled() and not saved else ""
    return f"trained in {before} so far, resumed in {precision} (this machine's choice);{fresh} log.csv says which epoch ran in which"


@dataclass
class Run:
    """This describes one call of ``train``: what it trains, on which data and machine, and where it writes."""

    cfg: TrainConfig
    dataset: ReidDataset
    variant: str
    seed: int
    out: Path  # The run folder holds log.csv, curve.npz, model.pt, features.pt and train.json.
    # The checkpoints live in the run folder, or in its place on a shared volume (Kubernetes).
    resume: Path
    runtime: Runtime
    data_key: str  # This is the dataset's fingerprint.

    @property
    def key(self) -> str:
        """Return the run key that a checkpoint must carry to be resumed by this run."""
        return run_key(self.cfg, self.variant, self.seed, self.data_key)


@dataclass
class TrainingData:
    """This holds the decoded uint8 images that a run trains and evaluates on."""

    # The whole cache lives on the GPU where there is one, so that no loader and no copies are needed.
    train_images: torch.Tensor
    labels: torch.Tensor  # This is each training image's class.
    test_images: dict  # These are the query and gallery images; it is empty when the run does not evaluate.
    ids: Identities  # These are the test split's identities and cameras.


@dataclass
class TrainingSetup:
    """This holds the network and what trains it; every call builds them alike, and a resume then loads their state."""

    model: torch.nn.Module  # Evaluation and checkpoints use this module.
    # The training steps run the compiled module, which shares model's parameters.
    step_model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    augment: BatchAugment


@dataclass
class Trajectory:
    """This records what the run has done so far; every checkpoint saves it and a resume restores it."""

    epoch: int = 0  # This counts the epochs trained.
    history: list[dict] = field(default_factory=list)  # These are log.csv's rows.
    # This maps an epoch to each query's first hit, for curve.npz.
    query_hits: dict[int, torch.Tensor] = field(default_factory=dict)


def set_determinism(device: torch.device) -> None:
    """On the CPU a seeded run repeats bit for bit, so that a resumed run equals an uninterrupted
    one; on a GPU cuDNN may pick its fastest kernels instead."""
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True


def decode_images(run: Run) -> TrainingData:
    """Load the training images, and the test images when the run evaluates, from the uint8 cache."""
    cfg, dataset = run.cfg, run.dataset
    splits = ("train", "query", "gallery") if cfg.eval_every else ("train",)
    images = load_images(dataset, cfg.height, cfg.width, cfg.cache_dir, cfg.decode_workers, splits)
    train_images = images.pop("train")
    if run.runtime.device.type == "cuda":
        train_images = train_images.to(run.runtime.device)
    return TrainingData(train_images, torch.tensor(dataset.train_labels), images, identities(dataset))


def build_training(run: Run) -> TrainingSetup:
    """Build the seeded network on the device, with its SGD optimiser, gradient scaler and augmentation."""
    cfg, runtime = run.cfg, run.runtime
    torch.manual_seed(run.seed)
    model = build_model(
        run.variant,
        run.dataset.num_train_pids,
        backbone=cfg.backbone,
        pretrained=cfg.pretrained,
        last_stride=cfg.last_stride,
        **cfg.model_options(run.variant),
    )
    runtime.place(model)
    step_model = torch.compile(model) if runtime.compile else model
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad],
        lr=cfg.base_lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        **({"fused": True} if runtime.device.type == "cuda" else {}),
    )
    return TrainingSetup(model, step_model, optimizer, runtime.grad_scaler(), augmentation_from_config(cfg))


def resume_trajectory(run: Run, state: dict | None, setup: TrainingSetup) -> Trajectory:
    """Load the checkpoint ``state`` into ``setup`` and return how far it got; a fresh trajectory
    when there is no checkpoint, or one of another config, seed or dataset."""
    if state is None:
        return Trajectory()
    if state.get("run_key") != run.key:
        # Snakemake reruns the job after a change of config, seed or dataset, and then the old trajectory does not apply.
        print(f"{run.out}: the checkpoint was made with another config, seed or dataset; training from the start")
        return Trajectory()
    setup.model.load_state_dict(state["model"])
    setup.optimizer.load_state_dict(state["optimizer"])
    note = restore_scaler(setup.scaler, state, run.runtime.precision)
    if note:
        print(f"{run.out}: {note}")
    print(f"resuming {run.out} after epoch {state['epoch']}")
    return Trajectory(state["epoch"], state["history"], state.get("query_hits", {}))


def evaluate(model: torch.nn.Module, data: TrainingData, run: Run) -> tuple[dict, torch.Tensor, dict]:
    """Return R1 and mAP of the test split for log.csv, each query's first-hit rank for curve.npz,
    and the features. It uses reid.evaluate's own code so that the Figure 5 curves and the final
    results are one measurement."""
    cfg = run.cfg
    result, feats = evaluate_model(model, data.test_images, data.ids, run.runtime, cfg.eval_batch_size, cfg.eval_flip)
    scores = {"rank1": round(float(result["cmc"][0]), 6), "mAP": round(result["mAP"], 6)}
    return scores, torch.from_numpy(result["first_hit"]).to(torch.int32), feats


def evaluate_untrained(run: Run, setup: TrainingSetup, data: TrainingData, done: Trajectory) -> dict:
    """Evaluate the untrained network as epoch 0, because it is the floor every learning curve starts from."""
    scores, hits, _ = evaluate(setup.model, data, run)
    row = {"epoch": 0, "lr": learning_rate(run.cfg, 0), **scores}
    done.history.append(row)
    done.query_hits[0] = hits
    return row


def run_epoch(run: Run, epoch: int, setup: TrainingSetup, data: TrainingData, done: Trajectory):
    """Train epoch ``epoch`` (0-based), evaluate when it is due, and add its row to ``done``.

    It returns the row, and the test features when this is the last epoch, else None. The
    evaluation jobs take those features from features.pt instead of extracting them again.
    """
    cfg = run.cfg
    row = train_one_epoch(
        setup.step_model,
        setup.optimizer,
        setup.scaler,
        setup.augment,
        data.train_images,
        data.labels,
        cfg,
        run.runtime,
        epoch,
        run.seed,
        cfg.loss_options(run.variant),
    )
    last = epoch + 1 == cfg.epochs
    feats = None
    if cfg.eval_every and ((epoch + 1) % cfg.eval_every == 0 or last):
        scores, hits, feats = evaluate(setup.model, data, run)
        row.update(scores)
        done.query_hits[epoch + 1] = hits
    done.history.append(row)
    done.epoch = epoch + 1
    return row, feats if last else None


def save_progress(run: Run, setup: TrainingSetup, data: TrainingData, done: Trajectory) -> None:
    """Write the checkpoint a resume reads, then log.csv and curve.npz as they stand."""
    save_checkpoint(
        run.resume / "checkpoint.pt",
        {
            "epoch": done.epoch,
            "variant": run.variant,
            "num_classes": run.dataset.num_train_pids,
            "run_key": run.key,
            "model": setup.model.state_dict(),
            "optimizer": setup.optimizer.state_dict(),
            "scaler": setup.scaler.state_dict(),
            "precision": run.runtime.precision,
            "history": done.history,
            "query_hits": done.query_hits,
        },
    )
    write_log(run.out / "log.csv", done.history)
    write_curve(run.out / CURVE_FILE, done.query_hits, data.ids.q_pids)


def hand_over(run: Run, setup: TrainingSetup, data: TrainingData, done: Trajectory, final_features, spent) -> dict:
    """Write the finished run's outputs (log.csv, curve.npz, model.pt, features.pt, train.json),
    then remove its checkpoints; it returns the summary written to train.json.

    log.csv and curve.npz are written again here, because a run resumed after its last epoch
    (killed while writing model.pt) trains none, and Snakemake removed them with the killed job's
    other outputs.
    """
    cfg, history = run.cfg, done.history
    write_log(run.out / "log.csv", history)
    write_curve(run.out / CURVE_FILE, done.query_hits, data.ids.q_pids)
    summary = {
        "variant": run.variant,
        "seed": run.seed,
        "dataset": run.dataset.name,
        "epochs": cfg.epochs,
        "num_classes": run.dataset.num_train_pids,
        "final": history[-1] if history else {},
        "untrained": history[0] if history and history[0]["epoch"] == 0 else None,
        "train_seconds_this_run": round(spent, 3),
    }
    digest = save_model_file(
        run.out / "model.pt",
        setup.model,
        run.variant,
        cfg,
        num_classes=run.dataset.num_train_pids,
        seed=run.seed,
        dataset=run.dataset.name,
        dataset_fingerprint=run.data_key,
        provenance={**provenance(run.runtime.device), "precision": trained_in(history)},
    )
    if final_features is not None:
        features_key = extraction_key(digest, run.data_key, run.runtime, cfg.eval_flip, cfg.eval_batch_size)
        save_run_features(run.out / FEATURES_FILE, final_features, features_key)
    else:  # There are no features of these weights, so an older run's must not stay beside them.
        (run.out / FEATURES_FILE).unlink(missing_ok=True)
    atomic_write_json(run.out / "train.json", summary)
    remove_checkpoints(run.resume)
    return summary


def calling_each(*callbacks) -> Callable[[dict], None]:
    """Return one callback that calls each of ``callbacks`` that is not None, in turn, with the row."""
    present = [callback for callback in callbacks if callback is not None]

    def call(row: dict) -> None:
        for callback in present:
            callback(row)

    return call


def train(
    cfg: TrainConfig,
    dataset: ReidDataset,
    variant: str,
    seed: int,
    out: str | os.PathLike,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> dict:
    """Train (or resume) one model, and return the summary written to ``out/train.json``.

    ``on_epoch_end(row)`` is called with each new row of log.csv: the untrained network's (epoch
    0) when the run evaluates, then each epoch's once its checkpoint, log.csv and curve.npz are
    written. An exception it raises stops the run as a killed job would, and the same call
    resumes it. TensorBoard's scalars (``train.tensorboard``) are written by such a callback.
    """
    out = Path(out)
    resume = resume_folder(out)  # This is the run folder, or its place on a shared volume (Kubernetes).
    state = load_checkpoint(resume)  # It is checked first, so that a wrong folder is refused before any work.
    check_run_folder(resume, state, variant)
    runtime = Runtime.from_config(cfg)
    scalars = EpochScalars(out) if cfg.tensorboard else None  # A missing extra is reported before any work.
    try:
        epoch_ended = calling_each(scalars.write if scalars else None, on_epoch_end)
        set_determinism(runtime.device)
        run = Run(cfg, dataset, variant, seed, out, resume, runtime, fingerprint(dataset))
        data = decode_images(run)
        setup = build_training(run)
        done = resume_trajectory(run, state, setup)
        started = time.time()
        if done.epoch == 0 and cfg.eval_every:
            epoch_ended(evaluate_untrained(run, setup, data, done))
        final_features = None
        for epochs_this_call, epoch in enumerate(range(done.epoch, cfg.epochs), start=1):
            row, final_features = run_epoch(run, epoch, setup, data, done)
            save_progress(run, setup, data, done)
            if cfg.progress:
                print_progress(row, cfg, time.time() - started, epochs_this_call)
            epoch_ended(row)
        return hand_over(run, setup, data, done, final_features, time.time() - started)
    finally:
        if scalars:
            scalars.close()


def train_step(model, optimizer, scaler, x: torch.Tensor, y: torch.Tensor, runtime: Runtime, loss_options: dict):
    """Take one SGD step of equation (2) on one batch, and return the batch's losses."""
    with runtime.autocast():
        outputs = model(x)
    losses = paper_loss(outputs, y, **loss_options)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(losses["total"]).backward()
    scaler.step(optimizer)
    scaler.update()
    return losses


def epoch_draws(labels: torch.Tensor, augment, cfg: TrainConfig, device: torch.device, epoch: int, seed: int):
    """Draw the epoch's PK batches, and put the image indices and augmentation parameters of all
    of them on the device in two copies up front, instead of two per step.

    Both are drawn from generators seeded by (seed, epoch), so that a resumed run draws what an
    uninterrupted one would.
    """
    rng = np.random.default_rng([seed, epoch])
    generator = seeded_generator(seed, epoch)
    batches = pk_batches(labels.numpy(), cfg.num_instances, cfg.batch_size, rng)
    indices = torch.from_numpy(np.concatenate(batches)) if batches else torch.zeros(0, dtype=torch.long)
    indices = to_device(indices, device)
    params = to_device(augment.draw(len(indices), cfg.height, cfg.width, generator), device)
    return batches, indices, params


def progress_bar(cfg: TrainConfig, epoch: int, steps: int):
    """Return a tqdm bar over the epoch's steps when ``cfg.progress`` asks for one, else None."""
    if not cfg.progress:
        return None

    return tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, mininterval=2)


def raise_if_diverged(first_bad: torch.Tensor, epoch: int) -> None:
    """Stop the run when a step's loss was NaN or infinite, before a checkpoint of the broken
    weights replaces the last good one. ``first_bad`` is that step, else -1."""
    bad = int(first_bad)
    if bad >= 0:
        raise TrainingDiverged(
            f"the loss became NaN or infinite at epoch {epoch + 1}, step {bad + 1}: lower train.base_lr, check the "
            f"data, or set amp: off; the last good checkpoint is kept"
        )


def epoch_row(sums: torch.Tensor, steps: int, lr: float, seconds: float, cfg: TrainConfig, runtime, epoch: int):
    """Return the epoch's row of log.csv: the mean losses and accuracy over its steps, the last
    step's learning rate, its time and throughput, and the precision its forward passes ran in."""
    means = (sums / max(steps, 1)).tolist()
    n_images = steps * cfg.batch_size
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
    """Train one epoch of PK batches, with augmentation on the device and an SGD step of equation
    (2) for each batch.

    ``loss_options`` are the variant's (``cfg.loss_options(variant)``); they default to the paper's."""
    model.train()
    device = runtime.device
    labels_dev = labels.to(device)
    t0 = time.perf_counter()
    batches, all_idx, all_params = epoch_draws(labels, augment, cfg, device, epoch, seed)
    sums = torch.zeros(4, device=device, dtype=torch.float64)  # They are total, triplet, ce and accuracy.
    # It is checked once per epoch, so that no step waits for a device sync.
    first_bad = torch.full((), -1, device=device, dtype=torch.int64)
    progress = progress_bar(cfg, epoch, len(batches))
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
        losses = train_step(
            model, optimizer, scaler, runtime.batch(x), labels_dev[idx], runtime, loss_options or cfg.loss_options()
        )
        total = losses["total"].detach()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(total), torch.full_like(first_bad, step), first_bad)
        sums += torch.stack([total, losses["triplet"], losses["ce"], losses["accuracy"]]).double()
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    raise_if_diverged(first_bad, epoch)
    runtime.sync()
    return epoch_row(sums, len(batches), lr, time.perf_counter() - t0, cfg, runtime, epoch)
