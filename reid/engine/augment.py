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


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float, ImageNet-normalised."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1) * 255
    return (images.float() - mean) / std


class BatchAugment:
    def __init__(self, flip_prob: float = 0.5, pad: int = 10, erasing_prob: float = 0.5,
                 erasing_area: tuple[float, float] = (0.02, 0.4), erasing_ratio: float = 0.3, attempts: int = 10):
        self.flip_prob, self.pad, self.erasing_prob = flip_prob, pad, erasing_prob
        self.erasing_area, self.erasing_ratio, self.attempts = erasing_area, erasing_ratio, attempts

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 (B, 3, H, W) on the device -> augmented, normalised float (B, 3, H, W)."""
        b, _, h, w = images.shape
        dev = images.device
        flip = torch.rand(b, generator=generator) < self.flip_prob
        dy = torch.randint(0, 2 * self.pad + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * self.pad + 1, (b,), generator=generator)
        rows = (dy[:, None] + torch.arange(h)).to(dev)
        cols = dx[:, None] + torch.arange(w)
        cols = torch.where(flip[:, None], cols.flip(1), cols).to(dev)  # crop, then mirror
        padded = torch.nn.functional.pad(images, (self.pad,) * 4)  # black border, as T.Pad(10)
        batch = torch.arange(b, device=dev)[:, None, None]
        # (B, H, W, 3) -> (B, 3, H, W): a channels_last view, which is what the GPU model wants
        out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
        out = normalize(out)
        if self.erasing_prob > 0:
            out = out.masked_fill(self._erasing_mask(b, h, w, generator).to(dev), 0.0)  # 0 = the mean pixel
        return out

    def _erasing_mask(self, b: int, h: int, w: int, generator: torch.Generator) -> torch.Tensor:
        """Random erasing (Zhong et al.): a rectangle of 2-40% of the image, aspect in [0.3, 3.3],
        first of ``attempts`` draws that fits, applied with probability ``erasing_prob``."""
        n = self.attempts
        area = h * w * (self.erasing_area[0] + (self.erasing_area[1] - self.erasing_area[0]) * torch.rand(b, n, generator=generator))
        r0, r1 = self.erasing_ratio, 1 / self.erasing_ratio
        aspect = r0 + (r1 - r0) * torch.rand(b, n, generator=generator)
        eh = torch.sqrt(area * aspect).round().long()
        ew = torch.sqrt(area / aspect).round().long()
        fits = (eh < h) & (ew < w) & (eh > 0) & (ew > 0)
        first = torch.where(fits, torch.arange(n).expand(b, n), torch.full((b, n), n)).min(1).values
        ok = (first < n) & (torch.rand(b, generator=generator) < self.erasing_prob)
        k = first.clamp(max=n - 1)[:, None]
        eh, ew = eh.gather(1, k)[:, 0], ew.gather(1, k)[:, 0]
        top = (torch.rand(b, generator=generator) * (h - eh + 1).clamp(min=1)).floor().long()
        left = (torch.rand(b, generator=generator) * (w - ew + 1).clamp(min=1)).floor().long()
        ys, xs = torch.arange(h)[None, :], torch.arange(w)[None, :]
        in_rows = (ys >= top[:, None]) & (ys < (top + eh)[:, None])
        in_cols = (xs >= left[:, None]) & (xs < (left + ew)[:, None])
        mask = in_rows[:, :, None] & in_cols[:, None, :] & ok[:, None, None]
        return mask[:, None]


def augmentation_from_config(cfg) -> BatchAugment:
    return BatchAugment(flip_prob=cfg.flip_prob, pad=cfg.pad, erasing_prob=cfg.erasing_prob)


def seeded_generator(*seeds: int) -> torch.Generator:
    """A CPU generator for (seed, epoch, ...): resuming at an epoch replays the same numbers."""
    value = 0
    for s in seeds:
        value = (value * 1_000_003 + int(s)) % (2**63 - 1)
    return torch.Generator().manual_seed(value)

