"""Evaluation of a trained model: ``python -m reid evaluate --checkpoint RUN/model.pt --dataset NAME ... --out DIR``.

Loads a ``model.pt`` written by ``python -m reid train``, rebuilds the network from the
config stored in it, decodes the query and gallery images through the same uint8 cache as
training (same size, same keys), extracts embeddings (optionally averaged with the mirror
image), computes euclidean or cosine distances, optionally re-ranks them (k-reciprocal,
k1=20, k2=6, lambda=0.3) and evaluates under the Market-1501 protocol (``reid.eval``).
Writes to DIR, atomically, ``per_query.npz`` and then ``metrics.json`` (so a metrics.json
always comes with its per-query file):

    metrics.json   R1, R5, R10, mAP, mAP_official, mINP (fractions), the CMC curve to rank 50,
                   counts, options, timings, checkpoint, variant, dataset and its fingerprint,
                   device and provenance
    per_query.npz  ap, first_hit (0-based, -1: skipped), q_pids, q_camids, top10 (each query's
                   10 nearest gallery indices, after re-ranking if any, without the query's junk
                   as the metric ranks them, ties in gallery order; -1 pads), g_pids, g_camids,
                   q_paths and g_paths (relative to the dataset root)
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from reid.config import TrainConfig
from reid.data import ReidDataset, fingerprint
from reid.eval import cmc_map, ranked_gallery
from reid.features import cosine_distances, euclidean_distances, extract_features
from reid.utils import atomic_path, atomic_write_json

DISTANCES = {"euclidean": euclidean_distances, "cosine": cosine_distances}
RERANK_PARAMS = {"k1": 20, "k2": 6, "lambda_value": 0.3}
MODEL_KEYS = ("state_dict", "variant", "num_classes", "config")
AS_CONFIG = "config"  # cache_dir default: the one the model was trained with


def weights_digest(variant: str, config: dict, state_dict: dict) -> str:
    """What a model.pt's weights were written as: variant, config and every tensor's bytes.

    avg and max networks have the same parameter names and shapes, so only this tells an
    edited ``variant`` field (or config) from the real thing."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps({"variant": variant, "config": config}, sort_keys=True, default=str).encode())
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable or not a model.pt of this suite; the message says what to do."""


def load_model_file(path: str | os.PathLike) -> dict:
    """The content of a ``model.pt`` written by ``reid.train.train``; CheckpointError otherwise."""
    path = Path(path)
    todo = "Pass the model.pt that python -m reid train writes at the end of a run (RUN_DIR/model.pt)."
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist. {todo}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, corrupt, or not a torch file at all
        reason = str(err).splitlines()[0] if str(err) else ""
        raise CheckpointError(
            f"cannot read {path} as a model file ({type(err).__name__}: {reason}): it is damaged or not a "
            f"checkpoint. {todo} If it is damaged, delete it and rerun the training command (it resumes from the "
            "run's last checkpoint).") from err
    if not isinstance(payload, dict) or not all(k in payload for k in MODEL_KEYS):
        if isinstance(payload, dict) and {"model", "optimizer", "epoch"} <= set(payload):
            raise CheckpointError(
                f"{path} is a training checkpoint (epoch {payload.get('epoch')}), not a final model: finish the run "
                f"(rerun the same python -m reid train command) and pass its model.pt.")
        missing = [k for k in MODEL_KEYS if not isinstance(payload, dict) or k not in payload]
        raise CheckpointError(f"{path} is not a model.pt of this suite (missing {', '.join(missing)}). {todo}")
    recorded = payload.get("weights_sha256")  # absent in model files of older versions
    if recorded is not None and recorded != weights_digest(payload["variant"], payload["config"], payload["state_dict"]):
        raise CheckpointError(
            f"{path}: its variant ({payload['variant']}), config or weights were changed after training (they no "
            f"longer match the digest written with them). {todo}")
    return payload


def train_config_of(payload: dict) -> TrainConfig:
    """The TrainConfig stored in a model file (keys unknown to this version are ignored)."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    config = payload["config"]
    if not isinstance(config, dict):
        raise CheckpointError("the model file's config is not a mapping: not a model.pt of this suite")
    return TrainConfig(**{k: v for k, v in config.items() if k in names})


def build_from_checkpoint(payload: dict, path: str | os.PathLike = "checkpoint") -> torch.nn.Module:
    """The network of a model file, weights loaded, in eval mode on the CPU."""
    from reid.models import build_model

    cfg = train_config_of(payload)
    variant = payload["variant"]
    try:
        model = build_model(variant, int(payload["num_classes"]), backbone=cfg.backbone, pretrained="none",
                            last_stride=cfg.last_stride, **cfg.model_options(variant))
        want, got = model.state_dict(), payload["state_dict"]
        missing, extra = [k for k in want if k not in got], [k for k in got if k not in want]
        reshaped = [k for k in want if k in got and tuple(got[k].shape) != tuple(want[k].shape)]
        if missing or extra or reshaped:
            raise CheckpointError(
                f"{path}: its weights are not those of a {variant} network with {cfg.backbone}: {len(missing)} missing "
                f"(e.g. {missing[:2]}), {len(extra)} unexpected (e.g. {extra[:2]}), {len(reshaped)} of another shape "
                f"(e.g. {reshaped[:2]}). Its variant or config was edited, or it comes from another version of the "
                "suite: pass the model.pt its training wrote, or train again.")
        model.load_state_dict(got)
    except (ValueError, RuntimeError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"{path}: the weights do not fit the network its config describes ({variant}, {cfg.backbone}): "
            f"{str(err).splitlines()[0]}. The file was written by another version of the suite or edited; "
            "train it again.") from err
    return model.eval()


def top_ranked(dist, q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray,
               k: int = 10) -> np.ndarray:
    """(Q, k) gallery indices of each query's k nearest, ties in gallery order, without the
    query's junk (same identity, same camera), as the metric ranks them; -1 pads short rows."""
    # the most junk any query has: rank that many more, then drop each query's own
    keys, counts = np.unique(np.stack([g_pids, g_camids], 1), axis=0, return_counts=True)
    per_key = {tuple(key): int(c) for key, c in zip(keys.tolist(), counts)}
    junk = max((per_key.get((p, c), 0) for p, c in zip(q_pids.tolist(), q_camids.tolist())), default=0)
    top = ranked_gallery(dist, k + junk)
    is_junk = (g_pids[top] == q_pids[:, None]) & (g_camids[top] == q_camids[:, None])
    order = np.argsort(is_junk, axis=1, kind="stable")  # junk to the end, the rest in rank order
    top, is_junk = np.take_along_axis(top, order, 1), np.take_along_axis(is_junk, order, 1)
    top = np.where(is_junk, -1, top)[:, :k]
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])), constant_values=-1)
    return top


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for but no CUDA device is visible; use auto or cpu")
    return torch.device(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate_checkpoint(checkpoint: str | os.PathLike, dataset: ReidDataset, out_dir: str | os.PathLike,
                        rerank: bool = False, distance: str = "euclidean", flip: bool = False,
                        batch_size: int = 128, device: str = "auto",
                        cache_dir: str | os.PathLike | None = AS_CONFIG) -> dict:
    """Evaluate ``checkpoint`` (a model.pt) on ``dataset``'s query and gallery; returns the
    metrics written to ``out_dir/metrics.json`` (see the module docstring).

    ``cache_dir``: where decoded images are cached; by default the model's training cache
    (so nothing is decoded twice), None for no disk cache.
    """
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}: choose one of {', '.join(DISTANCES)}")
    started = time.perf_counter()
    payload = load_model_file(checkpoint)
    cfg = train_config_of(payload)
    model = build_from_checkpoint(payload, checkpoint)
    dev = _resolve_device(device)
    amp = dev.type == "cuda" if cfg.amp == "auto" else cfg.amp == "on"
    channels_last = dev.type == "cuda" if cfg.channels_last == "auto" else cfg.channels_last == "on"

    key = fingerprint(dataset)
    trained_on = payload.get("dataset_fingerprint")
    if trained_on != key:
        warnings.warn(
            f"{checkpoint} was trained on dataset {payload.get('dataset', '?')} (fingerprint {trained_on}), not on "
            f"this {dataset.name} (fingerprint {key}): fine for a cross-dataset evaluation; otherwise the dataset "
            "has changed since training.", stacklevel=2)

    from reid.train import load_images, provenance

    timings = {}
    t = time.perf_counter()
    cache = cfg.cache_dir if cache_dir == AS_CONFIG else (str(cache_dir) if cache_dir else "")
    images = load_images(dataset, dataclasses.replace(cfg, cache_dir=cache), ("query", "gallery"))
    timings["load_images_s"] = time.perf_counter() - t

    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    t = time.perf_counter()
    feats = {split: extract_features(model, images[split], batch_size, dev, amp, flip, channels_last).to(dev)
             for split in ("query", "gallery")}
    _sync(dev)
    timings["extract_s"] = time.perf_counter() - t
    del images

    measure = DISTANCES[distance]
    t = time.perf_counter()
    dist = measure(feats["query"], feats["gallery"])
    _sync(dev)
    timings["distance_s"] = time.perf_counter() - t
    if rerank:
        from reid.rerank import k_reciprocal

        t = time.perf_counter()
        q_q = measure(feats["query"], feats["query"])
        g_g = measure(feats["gallery"], feats["gallery"])
        dist = k_reciprocal(dist, q_q, g_g, **RERANK_PARAMS)
        del q_q, g_g
        _sync(dev)
        timings["rerank_s"] = time.perf_counter() - t

    q_pids = np.array([s.pid for s in dataset.query], dtype=np.int64)
    g_pids = np.array([s.pid for s in dataset.gallery], dtype=np.int64)
    q_cams = np.array([s.camid for s in dataset.query], dtype=np.int64)
    g_cams = np.array([s.camid for s in dataset.gallery], dtype=np.int64)
    t = time.perf_counter()
    result = cmc_map(dist, q_pids, g_pids, q_cams, g_cams)
    timings["metric_s"] = time.perf_counter() - t
    top10 = top_ranked(dist, q_pids, g_pids, q_cams, g_cams, 10)
    timings["total_s"] = time.perf_counter() - started
    cmc = result["cmc"]
    prov = provenance(dev)

    def rank(k: int) -> float:
        return float(cmc[min(k, len(cmc)) - 1])

    metrics = {
        "R1": rank(1), "R5": rank(5), "R10": rank(10),
        "mAP": result["mAP"], "mAP_official": result["mAP_official"], "mINP": result["mINP"],
        "cmc": [round(float(x), 6) for x in cmc],
        "num_query": result["num_query"], "num_skipped": result["num_skipped"], "num_gallery": len(dataset.gallery),
        "distance": distance, "rerank": bool(rerank), "rerank_params": dict(RERANK_PARAMS) if rerank else None,
        "flip": bool(flip), "amp": amp, "input": [cfg.height, cfg.width], "feature_dim": int(feats["query"].shape[1]),
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "checkpoint": str(Path(checkpoint).resolve()), "variant": payload["variant"], "seed": payload.get("seed"),
        "dataset": dataset.name, "dataset_root": str(dataset.root), "dataset_fingerprint": key,
        "checkpoint_dataset": payload.get("dataset"), "checkpoint_dataset_fingerprint": trained_on,
        "device": prov["device"], "provenance": prov,
        "train_provenance": payload.get("provenance"),
    }

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").unlink(missing_ok=True)  # an older one must not outlive its per-query file
    with atomic_path(out / "per_query.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f, ap=result["ap"], first_hit=result["first_hit"], q_pids=q_pids, q_camids=q_cams, top10=top10,
                g_pids=g_pids, g_camids=g_cams,
                q_paths=np.array([os.path.relpath(s.path, dataset.root) for s in dataset.query]),
                g_paths=np.array([os.path.relpath(s.path, dataset.root) for s in dataset.gallery]))
    atomic_write_json(out / "metrics.json", metrics)
    return metrics
