"""Extract retrieval features from a trained model, and compute distances between them."""

from __future__ import annotations

import io

import torch
import torch.nn.functional as F

from reid.data.augment import normalize
from reid.runtime import Runtime
from reid.utils import atomic_write_bytes


@torch.no_grad()
def extract_features(
    model: torch.nn.Module, images: torch.Tensor, runtime: Runtime, batch_size: int = 128, flip: bool = False
) -> torch.Tensor:
    """Return embeddings (N, D) float32 on the CPU for uint8 images (N, 3, H, W), in eval mode.

    ``flip`` averages the embedding of each image and of its mirror image.
    """
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = runtime.batch(normalize(images[start : start + batch_size].to(runtime.device, non_blocking=True)))
        with runtime.autocast():
            feats = model(batch).float()
            if flip:
                feats = (feats + model(batch.flip(-1)).float()) / 2
        out.append(feats.cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


# Rows of the distance matrix finished at a time: the temporaries of |q|^2 + |g|^2 - 2 q.g then
# take about 256 MB, instead of two more matrices of the whole size (at MSMT17's 11,659 x 82,161,
# 3.8 GB each).
_DISTANCE_BLOCK_ELEMS = 64 * 1024 * 1024


def euclidean_distances(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Return pairwise euclidean distances (float32), as sqrt(|q|^2 + |g|^2 - 2 q.g) clamped at
    zero. The products are one matrix multiplication; the sums are finished in place a block of
    rows at a time, each element by the same operations in the same order as the whole-matrix
    expression, so that the result is the same to the bit."""
    q, g = q.float(), g.float()
    q_sq, g_sq = q.pow(2).sum(1, keepdim=True), g.pow(2).sum(1)[None, :]
    d = q @ g.t()
    rows = max(1, _DISTANCE_BLOCK_ELEMS // max(1, d.shape[1]))
    for start in range(0, d.shape[0], rows):
        block = d[start : start + rows]
        block.copy_(q_sq[start : start + rows] + g_sq - 2 * block)
    return d.clamp_(min=0).sqrt_()


def cosine_distances(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Return 1 - cosine similarity, finished in place (1 - s is -s + 1, to the bit), so that only
    one matrix of the whole size is held."""
    return (F.normalize(q.float(), dim=1) @ F.normalize(g.float(), dim=1).t()).neg_().add_(1)


# A training's last evaluation extracts the test features of the final model: it leaves them in
# the run folder, and the evaluation jobs (with and without re-ranking) take them from there
# instead of extracting them again, when they are of the same weights, images and extraction.
FEATURES_FILE = "features.pt"


def extraction_key(
    weights_sha256: str, dataset_fingerprint: str, runtime: Runtime, flip: bool, batch_size: int
) -> dict:
    """Return everything the features depend on besides the images' pixels, which the fingerprint names."""
    return {
        "weights_sha256": weights_sha256,
        "dataset_fingerprint": dataset_fingerprint,
        "device_type": runtime.device.type,
        "precision": runtime.precision,
        "channels_last": runtime.channels_last,
        "flip": bool(flip),
        "batch_size": int(batch_size),
    }


def save_run_features(path, feats: dict[str, torch.Tensor], key: dict) -> None:
    """Write a run's query and gallery features with their extraction key (atomically)."""
    buffer = io.BytesIO()
    torch.save({"key": key, "query": feats["query"].cpu(), "gallery": feats["gallery"].cpu()}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_run_features(path, key: dict) -> dict[str, torch.Tensor] | None:
    """Return the features saved at ``path`` if they were extracted under ``key``. Otherwise (no
    file, a damaged one, or features of other weights or settings) return None, so that they are
    extracted again."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # An absent, truncated or foreign file is not a result, only a shortcut missed.
        return None
    if not isinstance(saved, dict) or saved.get("key") != key:
        return None
    feats = {split: saved.get(split) for split in ("query", "gallery")}
    return feats if all(isinstance(f, torch.Tensor) for f in feats.values()) else None
