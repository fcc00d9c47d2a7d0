"""Adaptive average and max pooling that the exporters can carry.

The model pools layer4 to a 2x2 grid for its third scale. At the paper's 288x144 input layer4
is 18x9, and 9 columns do not split in two: PyTorch's adaptive pooling then uses overlapping
cells (columns 0-4 and 4-8). Neither ONNX exporter can write that: the TorchScript exporter
refuses any output size that does not divide the input, and the torch.export-based one has no
ONNX function for adaptive max pooling at all. During an export the cells are therefore
written out as plain slices with ``amax`` and ``mean``, on the same cell bounds that PyTorch
uses (start = floor(i * n / k), end = ceil((i + 1) * n / k)). Outside an export the suite keeps
PyTorch's own kernels, so that training and evaluation are unchanged to the bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cell_bounds(n: int, k: int) -> list[tuple[int, int]]:
    """Return the (start, end) of each of ``k`` adaptive pooling cells over ``n`` positions."""
    return [((i * n) // k, -((-(i + 1) * n) // k)) for i in range(k)]


def adaptive_pool2d(x: torch.Tensor, size: int, kind: str, explicit: bool | None = None) -> torch.Tensor:
    """Pool (N, C, H, W) to (N, C, size, size) with ``kind`` "avg" or "max", as PyTorch's adaptive
    pooling does. ``explicit`` writes the cells out as slices; by default it does so only while
    torch.export traces the model (see the module docstring for why)."""
    if explicit is None:
        explicit = torch.compiler.is_exporting()
    if not explicit:
        return F.adaptive_avg_pool2d(x, size) if kind == "avg" else F.adaptive_max_pool2d(x, size)
    reduce = (lambda cell: cell.mean(dim=(2, 3))) if kind == "avg" else (lambda cell: cell.amax(dim=(2, 3)))
    height, width = x.shape[-2:]
    rows = [
        torch.stack([reduce(x[:, :, top:bottom, left:right]) for left, right in cell_bounds(width, size)], dim=-1)
        for top, bottom in cell_bounds(height, size)
    ]
    return torch.stack(rows, dim=-2)
