"""Training augmentation, run batched on the training device.

BoT's per-image pipeline (flip, pad 10 + random crop, normalise, random erasing) applied to a
whole uint8 batch at once: one gather does the crop and the flip, so that no CPU worker has
to keep up with the GPU. Random numbers come from a CPU generator, so a seed gives the same
augmentation on any device.
"""

from __future__ import annotations

import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


_NORM_CACHE: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Turn uint8 (N, 3, H, W) into ImageNet-normalised floats."""
    if images.device not in _NORM_CACHE:  # Building these once per device saves a copy per batch.
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
        _NORM_CACHE[images.device] = (mean.to(images.device), std.to(images.device))
    mean, std = _NORM_CACHE[images.device]
    return (images.float() - mean) / std


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a small CPU tensor to ``device`` without making the host wait for the GPU queue.

    A copy from pageable memory blocks until the stream has drained, which would serialise the
    CPU's launches with the GPU's work at every step; a pinned copy is asynchronous.
    """
    if device.type != "cuda" or t.device == device:
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


class BatchAugment:
    def __init__(
        self,
        flip_prob: float = 0.5,
        pad: int = 10,
        erasing_prob: float = 0.5,
        erasing_area: tuple[float, float] = (0.02, 0.4),
        erasing_ratio: float = 0.3,
        attempts: int = 10,
    ):
        self.flip_prob, self.pad, self.erasing_prob = flip_prob, pad, erasing_prob
        self.erasing_area, self.erasing_ratio, self.attempts = erasing_area, erasing_ratio, attempts

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Turn uint8 (B, 3, H, W) on the device into augmented, normalised float (B, 3, H, W)."""
        b, _, h, w = images.shape
        return self.apply(images, to_device(self.draw(b, h, w, generator), images.device))

    def apply(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Augment with parameters from ``draw`` already on the images' device (the training loop
        draws a whole epoch's at once, so that no step waits for a host-to-device copy)."""
        b, _, h, w = images.shape
        dev = images.device
        flip, dy, dx, top, left, eh, ew, erase = params.unbind(1)
        ys, xs = torch.arange(h, device=dev), torch.arange(w, device=dev)
        rows = dy[:, None] + ys
        cols = dx[:, None] + xs
        cols = torch.where(flip[:, None].bool(), cols.flip(1), cols)  # The crop comes first, then the mirror.
        padded = torch.nn.functional.pad(images, (self.pad,) * 4)  # The border is black, as T.Pad(10) makes it.
        batch = torch.arange(b, device=dev)[:, None, None]
        # Permuting (B, H, W, 3) to (B, 3, H, W) gives a channels_last view, which the GPU model wants.
        out = normalize(padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2))
        if self.erasing_prob > 0:
            in_rows = (ys >= top[:, None]) & (ys < (top + eh)[:, None])
            in_cols = (xs >= left[:, None]) & (xs < (left + ew)[:, None])
            mask = in_rows[:, :, None] & in_cols[:, None, :] & erase.bool()[:, None, None]
            out = out.masked_fill(mask[:, None], 0.0)  # Zero after normalisation is the mean pixel.
        return out

    def draw(self, b: int, h: int, w: int, generator: torch.Generator) -> torch.Tensor:
        """Draw (B, 8) int64: flip, crop offsets dy, dx, and the erasing rectangle top, left, height,
        width, on/off. Random erasing (Zhong et al.): a rectangle of 2-40% of the image with
        aspect in [0.3, 3.3], the first of ``attempts`` draws that fits, with probability
        ``erasing_prob``."""
        flip = torch.rand(b, generator=generator) < self.flip_prob
        dy = torch.randint(0, 2 * self.pad + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * self.pad + 1, (b,), generator=generator)
        n = self.attempts
        lo, hi = self.erasing_area
        area = h * w * (lo + (hi - lo) * torch.rand(b, n, generator=generator))
        r0, r1 = self.erasing_ratio, 1 / self.erasing_ratio
        aspect = r0 + (r1 - r0) * torch.rand(b, n, generator=generator)
        eh = torch.sqrt(area * aspect).round().long()
        ew = torch.sqrt(area / aspect).round().long()
        fits = (eh < h) & (ew < w) & (eh > 0) & (ew > 0)
        first = torch.where(fits, torch.arange(n).expand(b, n), torch.full((b, n), n)).min(1).values
        erase = (first < n) & (torch.rand(b, generator=generator) < self.erasing_prob)
        k = first.clamp(max=n - 1)[:, None]
        eh, ew = eh.gather(1, k)[:, 0], ew.gather(1, k)[:, 0]
        top = (torch.rand(b, generator=generator) * (h - eh + 1).clamp(min=1)).floor().long()
        left = (torch.rand(b, generator=generator) * (w - ew + 1).clamp(min=1)).floor().long()
        return torch.stack([flip.long(), dy, dx, top, left, eh, ew, erase.long()], dim=1)


def augmentation_from_config(cfg) -> BatchAugment:
    return BatchAugment(flip_prob=cfg.flip_prob, pad=cfg.pad, erasing_prob=cfg.erasing_prob)


def seeded_generator(*seeds: int) -> torch.Generator:
    """Return a CPU generator for (seed, epoch, ...), so that resuming at an epoch replays the same numbers."""
    value = 0
    for s in seeds:
        value = (value * 1_000_003 + int(s)) % (2**63 - 1)
    return torch.Generator().manual_seed(value)
