"""This module writes and reads the files a training run leaves: resume checkpoints and the final model file.

    checkpoint.pt       after every epoch: weights, optimizer and scaler state, the history so
                        far and the run key (atomic; the previous one kept as checkpoint.prev.pt)
    model.pt            at the end: the weights with their variant, config, dataset fingerprint,
                        provenance and a digest of all of them

Everything is read with ``torch.load(weights_only=True)``, so that nothing loaded can run code. A
checkpoint is resumed only by the run it belongs to (same config, variant, seed and data, which
make its run key), and a model file whose variant, config or weights were edited after training no longer
matches its digest and is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import torch

from reid.config import TrainConfig
from reid.models import build_model
from reid.utils import atomic_write_bytes

MODEL_KEYS = ("state_dict", "variant", "num_classes", "config")
# These config keys change how a run is carried out, not what it computes, so they stay out of the run key.
NOT_IN_RUN_KEY = ("progress", "cache_dir", "decode_workers", "eval_batch_size", "tensorboard")


class RunFolderError(Exception):
    """The run folder holds another run's checkpoint; the message says what to do."""


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable or not a model.pt of this suite; the message says what to do."""


# ---------------------------------------------------------------- resume checkpoints

RESUME_ROOT = "REID_RESUME_ROOT"


def resume_folder(out: str | os.PathLike) -> Path:
    """Return where a run's resume checkpoints live: its run folder, or, when the workflow keeps its
    files in a default storage (the Kubernetes profile: workflow/rules/common.smk sets
    ``REID_RESUME_ROOT`` on the shared volume), the same relative path under that root, where
    a retried job, started in a fresh pod and folder, finds them."""
    root = os.environ.get(RESUME_ROOT)
    out = Path(out)
    return Path(root, out) if root and not out.is_absolute() else out


def save_checkpoint(path: Path, state: dict) -> None:
    """Save a checkpoint atomically; the previous one survives as .prev in case this one is damaged later."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    if path.exists():
        os.replace(path, path.with_suffix(".prev.pt"))
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(out: Path) -> dict | None:
    """Return the newest readable checkpoint in ``out``; it falls back to the previous one if that is damaged."""
    for path in (out / "checkpoint.pt", out / "checkpoint.prev.pt"):
        if not path.exists():
            continue
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # A truncated or corrupt file is reported, and the older one is tried.
            print(f"warning: checkpoint {path} is unreadable ({type(err).__name__}: {err}); trying the previous one")
    return None


def check_run_folder(out: Path, state: dict | None, variant: str) -> None:
    """Refuse a folder that holds a checkpoint of another variant, before any work is done."""
    if state is not None and state["variant"] != variant:
        raise RunFolderError(
            f"{out} holds a checkpoint of variant {state['variant']}, not {variant}: use another --out, or delete "
            f"{out / 'checkpoint.pt'} and {out / 'checkpoint.prev.pt'} to start this run there"
        )


def remove_checkpoints(out: Path) -> None:
    """Remove the resume points, because once model.pt holds a finished run's weights they
    (optimizer state included, twice the model's size each) would only fill the disk."""
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (out / name).unlink(missing_ok=True)


def run_key(cfg: TrainConfig, variant: str, seed: int, dataset_fingerprint: str) -> str:
    """Return what a checkpoint must have been trained with to be resumed: config, variant, seed and data."""
    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_IN_RUN_KEY}
    text = json.dumps(
        {"config": config, "variant": variant, "seed": seed, "data": dataset_fingerprint}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- the model file


def weights_digest(variant: str, config: dict, state_dict: dict) -> str:
    """Return a digest of what a model.pt's weights were written as: variant, config and every tensor's bytes.

    avg and max networks have the same parameter names and shapes, so only this tells an
    edited ``variant`` field (or config) from the real thing."""
    digest = hashlib.sha256(json.dumps({"variant": variant, "config": config}, sort_keys=True, default=str).encode())
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def save_model_file(
    path: Path,
    model: torch.nn.Module,
    variant: str,
    cfg: TrainConfig,
    *,
    num_classes: int,
    seed: int,
    dataset: str,
    dataset_fingerprint: str,
    provenance: dict,
) -> str:
    """Write model.pt atomically, with the weights on the CPU, what they are and their digest,
    and return the digest."""
    payload = {
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "variant": variant,
        "num_classes": num_classes,
        "seed": seed,
        "config": dataclasses.asdict(cfg),
        "dataset": dataset,
        "dataset_fingerprint": dataset_fingerprint,
        "provenance": provenance,
    }
    payload["weights_sha256"] = weights_digest(variant, payload["config"], payload["state_dict"])
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return payload["weights_sha256"]


def load_model_file(path: str | os.PathLike) -> dict:
    """Return the content of a ``model.pt`` written by ``reid.train.train``; anything else raises CheckpointError."""
    path = Path(path)
    todo = "Pass the model.pt that python -m reid train writes at the end of a run (RUN_DIR/model.pt)."
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist. {todo}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # The file is truncated, corrupt, or not a torch file at all.
        reason = str(err).splitlines()[0] if str(err) else ""
        raise CheckpointError(
            f"cannot read {path} as a model file ({type(err).__name__}: {reason}): it is damaged or not a "
            f"checkpoint. {todo} If it is damaged, delete it and rerun the training command (it resumes from the "
            "run's last checkpoint)."
        ) from err
    if not isinstance(payload, dict) or not all(k in payload for k in MODEL_KEYS):
        if isinstance(payload, dict) and {"model", "optimizer", "epoch"} <= set(payload):
            raise CheckpointError(
                f"{path} is a training checkpoint (epoch {payload.get('epoch')}), not a final model: finish the run "
                f"(rerun the same python -m reid train command) and pass its model.pt."
            )
        missing = [k for k in MODEL_KEYS if not isinstance(payload, dict) or k not in payload]
        raise CheckpointError(f"{path} is not a model.pt of this suite (missing {', '.join(missing)}). {todo}")
    recorded = payload.get("weights_sha256")  # It is absent in model files of older versions.
    if recorded is not None and recorded != weights_digest(
        payload["variant"], payload["config"], payload["state_dict"]
    ):
        raise CheckpointError(
            f"{path}: its variant ({payload['variant']}), config or weights were changed after training (they no "
            f"longer match the digest written with them). {todo}"
        )
    return payload


def train_config_of(payload: dict) -> TrainConfig:
    """Return the TrainConfig stored in a model file; keys unknown to this version are ignored."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    config = payload["config"]
    if not isinstance(config, dict):
        raise CheckpointError("the model file's config is not a mapping: not a model.pt of this suite")
    return TrainConfig(**{k: v for k, v in config.items() if k in names})


def build_from_checkpoint(payload: dict, path: str | os.PathLike = "checkpoint") -> torch.nn.Module:
    """Return the network of a model file, with its weights loaded, in eval mode on the CPU."""
    cfg = train_config_of(payload)
    variant = payload["variant"]
    try:
        model = build_model(
            variant,
            int(payload["num_classes"]),
            backbone=cfg.backbone,
            pretrained="none",
            last_stride=cfg.last_stride,
            **cfg.model_options(variant),
        )
        want, got = model.state_dict(), payload["state_dict"]
        missing, extra = [k for k in want if k not in got], [k for k in got if k not in want]
        reshaped = [k for k in want if k in got and tuple(got[k].shape) != tuple(want[k].shape)]
        if missing or extra or reshaped:
            raise CheckpointError(
                f"{path}: its weights are not those of a {variant} network with {cfg.backbone}: {len(missing)} missing "
                f"(e.g. {missing[:2]}), {len(extra)} unexpected (e.g. {extra[:2]}), {len(reshaped)} of another shape "
                f"(e.g. {reshaped[:2]}). Its variant or config was edited, or it comes from another version of the "
                "suite: pass the model.pt its training wrote, or train again."
            )
        model.load_state_dict(got)
    except (ValueError, RuntimeError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"{path}: the weights do not fit the network its config describes ({variant}, {cfg.backbone}): "
            f"{str(err).splitlines()[0]}. The file was written by another version of the suite or edited; "
            "train it again."
        ) from err
    return model.eval()
