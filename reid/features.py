"""Retrieval features from a trained model, and distances between them."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reid.data.augment import normalize
from reid.runtime import Runtime


@torch.no_grad()
def extract_features(
    model: torch.nn.Module, images: torch.Tensor, runtime: Runtime, batch_size: int = 128, flip: bool = False
) -> torch.Tensor:
    """Embeddings (N, D) float32 on the CPU for uint8 images (N, 3, H, W), in eval mode.

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


def euclidean_distances(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Pairwise euclidean distances (float32)."""
    q, g = q.float(), g.float()
    d = q.pow(2).sum(1, keepdim=True) + g.pow(2).sum(1)[None, :] - 2 * q @ g.t()
    return d.clamp_(min=0).sqrt_()


def cosine_distances(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity."""
    return 1 - F.normalize(q.float(), dim=1) @ F.normalize(g.float(), dim=1).t()
