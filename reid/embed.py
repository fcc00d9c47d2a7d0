"""Embed one's own images with a trained model: ``python -m reid embed --model model.pt --images
DIR_OR_GLOB --out FEATURES.npz``.

A researcher who has judged the paper's claims usually wants the winning model on their own
camera crops next. This command takes any folder layout (or a glob, or one file) of PNG and
JPEG images, with their extensions in any case, and writes the features that the suite's own
evaluation would compute for them: the model file's input size, ImageNet's mean and std, the
same decoding and the same extraction (reid.features.extract_features), in batches, so that
memory stays bounded however many images there are.

FEATURES.npz holds:
    paths           the images, as found from the --images argument (relative where it was)
    features        (N, D) float32, in the order of paths
    variant, weights_sha256, distance   the model's identity, and the distance its evaluation
                    ranks with (features of different models must not be compared)
    height, width, mean, std, flip      the preprocessing the features were made with
    skipped         the images that could not be read, with --skip-bad (else none)
"""

from __future__ import annotations

import glob
import io
import os
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from reid.checkpoints import build_from_checkpoint, load_model_file, train_config_of
from reid.data.augment import IMAGENET_MEAN, IMAGENET_STD
from reid.data.cache import decode
from reid.data.market import DatasetError
from reid.evaluate import DEFAULT_DISTANCE
from reid.features import extract_features
from reid.runtime import Runtime
from reid.utils import atomic_write_bytes

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def find_images(spec: str | os.PathLike) -> list[str]:
    """Return the images that ``spec`` names, sorted: a folder (searched through its sub-folders),
    a glob pattern, or one image file. Only PNG and JPEG files count, whatever the case of their
    extension, and each path keeps the form it was found in (relative where ``spec`` was)."""
    spec = str(spec)
    found = Path(spec)
    if found.is_dir():
        paths = [p for p in found.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    elif found.is_file():
        paths = [found]
    else:
        paths = [Path(p) for p in glob.glob(spec, recursive=True) if Path(p).suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise DatasetError(f"no PNG or JPEG image at {spec}: give a folder, a glob such as 'crops/*.jpg', or an image")
    return sorted(str(p) for p in paths)


def decode_batch(paths: list[str], height: int, width: int, skip_bad: bool) -> tuple[np.ndarray, list[str], list[str]]:
    """Decode ``paths`` as the evaluation does; return the images, the paths decoded and those
    skipped. An unreadable image stops the run with its name unless ``skip_bad``."""
    images, kept, skipped = [], [], []
    for path in paths:
        try:
            images.append(decode(path, height, width))
            kept.append(path)
        except DatasetError as err:
            if not skip_bad:
                raise DatasetError(f"{err}; or pass --skip-bad to leave unreadable images out") from err
            skipped.append(path)
    stacked = np.stack(images) if images else np.zeros((0, 3, height, width), np.uint8)
    return stacked, kept, skipped


def load_embedder(model_path: str | os.PathLike, device: str = "auto"):
    """Return a model file's content, its recipe, its network placed on the resolved device, and
    that runtime: what embedding with it needs."""
    payload = load_model_file(model_path)
    cfg = train_config_of(payload)
    runtime = Runtime.from_config(cfg, device=device)
    model = build_from_checkpoint(payload, model_path)
    runtime.place(model)
    return payload, cfg, model, runtime


def embed_paths(model, cfg, runtime: Runtime, paths: list[str], batch_size: int, flip: bool, skip_bad: bool):
    """Return the features of ``paths`` (N, D float32, on the CPU), the paths embedded and those
    skipped, decoding and extracting one batch at a time so that memory stays bounded."""
    features, kept, skipped = [], [], []
    shown = tqdm(total=len(paths), unit="img", desc="embed", disable=not sys.stderr.isatty())
    for start in range(0, len(paths), batch_size):
        batch, done, bad = decode_batch(paths[start : start + batch_size], cfg.height, cfg.width, skip_bad)
        if done:
            features.append(extract_features(model, torch.from_numpy(batch), runtime, batch_size, flip))
        kept += done
        skipped += bad
        shown.update(len(done) + len(bad))
    shown.close()
    if not kept:
        raise DatasetError(f"none of the {len(paths)} images could be read: {', '.join(skipped[:3])} ...")
    return torch.cat(features), kept, skipped


def embed(
    model_path: str | os.PathLike,
    images: str | os.PathLike,
    out: str | os.PathLike,
    batch_size: int = 128,
    device: str = "auto",
    flip: bool = False,
    skip_bad: bool = False,
) -> dict:
    """Write FEATURES.npz (the module docstring says what it holds) and return what it says
    about the run: the number of images embedded, those skipped and the feature size."""
    payload, cfg, model, runtime = load_embedder(model_path, device)
    features, kept, skipped = embed_paths(model, cfg, runtime, find_images(images), batch_size, flip, skip_bad)
    matrix = features.numpy().astype(np.float32)
    record = {
        "paths": np.array(kept),
        "features": matrix,
        "variant": np.array(payload["variant"]),
        "weights_sha256": np.array(payload.get("weights_sha256") or ""),
        "distance": np.array(DEFAULT_DISTANCE),
        "height": np.array(cfg.height),
        "width": np.array(cfg.width),
        "mean": np.array(IMAGENET_MEAN, dtype=np.float32),
        "std": np.array(IMAGENET_STD, dtype=np.float32),
        "flip": np.array(flip),
        "skipped": np.array(skipped, dtype=str),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **record)
    atomic_write_bytes(Path(out), buffer.getvalue())
    return {"images": len(kept), "skipped": skipped, "dimensions": int(matrix.shape[1]), "out": str(out)}
