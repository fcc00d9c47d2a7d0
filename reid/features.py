"""Retrieval features from a trained model, and distances between them."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reid.engine.augment import normalize


@torch.no_grad()
def extract_features(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 128,
                     device: torch.device | str = "cpu", amp: bool = False, flip: bool = False,
                     channels_last: bool = False) -> torch.Tensor:
    """Embeddings (N, D) float32 on the CPU for uint8 images (N, 3, H, W), in eval mode.

    ``flip`` averages the embedding of each image and of its mirror image.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = normalize(images[start:start + batch_size].to(device, non_blocking=True))
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=amp, dtype=_amp_dtype(device)):
            feats = model(batch).float()
            if flip:
                feats = (feats + model(batch.flip(-1)).float()) / 2
        out.append(feats.cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def _amp_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16


def euclidean_distances(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Pairwise euclidean distances (float32)."""
    q, g = q.float(), g.float()
    d = q.pow(2).sum(1, keepdim=True) + g.pow(2).sum(1)[None, :] - 2 * q @ g.t()
    return d.clamp_(min=0).sqrt_()


def cosine_distances(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity."""
    return 1 - F.normalize(q.float(), dim=1) @ F.normalize(g.float(), dim=1).t()
