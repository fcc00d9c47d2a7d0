"""Decode every image once into a uint8 tensor, kept in RAM and cached on disk.

JPEG decoding and resizing dominate a re-ID input pipeline; done once per dataset and size,
each epoch afterwards only indexes a tensor. The disk cache is keyed by the dataset's
fingerprint (names and sizes of its images), the split and the size, so a changed dataset or
input size never reuses a stale cache.
"""

from __future__ import annotations

import os
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from reid.data.market import DatasetError, ReidDataset, Sample, fingerprint
from reid.utils import atomic_path

if TYPE_CHECKING:
    import torch


def decode(path: str, height: int, width: int) -> np.ndarray:
    """Decode one image as uint8 (3, H, W), resized like torchvision's T.Resize on a PIL image."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize((width, height), Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:  # A bomb means a damaged header.
        raise DatasetError(f"cannot decode image {path} ({err}); replace or remove the file") from err


def _decode_chunk(args) -> np.ndarray:
    paths, height, width = args
    return np.stack([decode(p, height, width) for p in paths]) if paths else np.zeros((0, 3, height, width), np.uint8)


def decode_all(paths: list[str], height: int, width: int, workers: int = 0) -> np.ndarray:
    workers = workers or os.cpu_count() or 1
    chunks = [paths[i : i + 256] for i in range(0, len(paths), 256)]
    if workers == 1 or len(chunks) <= 1:
        parts = [_decode_chunk((c, height, width)) for c in chunks]
    else:
        # Fork is safe because workers only run PIL, and they start at once (spawn would re-import torch in each).
        method = "fork" if os.name == "posix" else "spawn"
        with get_context(method).Pool(min(workers, len(chunks))) as pool:
            parts = pool.map(_decode_chunk, [(c, height, width) for c in chunks])
    return np.concatenate(parts) if parts else np.zeros((0, 3, height, width), np.uint8)


def cached_images(
    samples: list[Sample], key: str, height: int, width: int, cache_dir: str | os.PathLike | None, workers: int = 0
) -> torch.Tensor:
    """Return uint8 (N, 3, H, W) for ``samples`` in order; ``key`` names the dataset content and split.

    With ``cache_dir`` the array is read from (or written to) ``cache_dir/<key>-<H>x<W>.npy``.
    """
    # The jobs that only ``decode`` (the ranked lists, the histogram) need no torch, so it is imported here.
    import torch

    paths = [s.path for s in samples]
    if cache_dir is None:
        return torch.from_numpy(decode_all(paths, height, width, workers))
    file = Path(cache_dir) / f"{key}-{height}x{width}.npy"
    if file.is_file():
        try:
            array = np.load(file, mmap_mode="r")
            if array.shape == (len(paths), 3, height, width) and array.dtype == np.uint8:
                return torch.from_numpy(np.array(array))
        except (OSError, ValueError):
            pass  # A damaged cache is rebuilt below.
    array = decode_all(paths, height, width, workers)
    with atomic_path(file) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)
    return torch.from_numpy(array)


def load_images(
    dataset: ReidDataset,
    height: int,
    width: int,
    cache_dir: str | os.PathLike | None = None,
    workers: int = 0,
    splits=("train", "query", "gallery"),
) -> dict:
    """Return {split: uint8 (N, 3, H, W)} for a dataset's splits, through the cache (keyed by the
    dataset's content fingerprint), so that training and evaluation decode each image once."""
    key = fingerprint(dataset)
    return {
        split: cached_images(
            getattr(dataset, split), f"{dataset.name}-{key}-{split}", height, width, cache_dir or None, workers
        )
        for split in splits
    }
