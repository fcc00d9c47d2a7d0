"""Draw Figure 6 ("Visualization results of different methods. (a): input images; (b): avg method;
(c): max method; (d): residual method"): one row of input images, then one row of Grad-CAM
overlays per model (rows in the order of ``checkpoints``), on the same query images in every
row. Grad-CAM (Selvaraju et al.) is taken at the last block of the backbone's layer4, for the
identity logits averaged over the model's classifiers."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image

from reid.checkpoints import build_from_checkpoint, load_model_file, train_config_of
from reid.data.augment import normalize
from reid.data.cache import decode
from reid.data.market import ReidDataset, Sample
from reid.figures.canvas import bare_axes, new_figure, save_png

if TYPE_CHECKING:
    import torch


@dataclass
class LoadedModels:
    """Hold the networks of Figure 6 in row order, which all take ``height`` x ``width`` inputs."""

    models: dict[str, torch.nn.Module]
    height: int
    width: int


def load_models(checkpoints: Mapping[str, str | os.PathLike]) -> LoadedModels:
    """Load the models of ``checkpoints`` ({row label: model.pt}) in eval mode on the CPU.

    All must take the same input size (ValueError otherwise), because the rows show the same pixels.
    """

    if not checkpoints:
        raise ValueError("no checkpoints given: Figure 6 needs at least one model (e.g. avg, max, residual)")
    payloads = {label: load_model_file(path) for label, path in checkpoints.items()}
    sizes = {label: (train_config_of(p).height, train_config_of(p).width) for label, p in payloads.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{label} {h}x{w}" for label, (h, w) in sizes.items())
        raise ValueError(
            f"the models take different input sizes ({listed}); Figure 6 compares models on the same "
            "images: pass models trained at one size"
        )
    models = {label: build_from_checkpoint(payload, checkpoints[label]) for label, payload in payloads.items()}
    height, width = next(iter(sizes.values()))
    return LoadedModels(models, height, width)


def select_query_images(query: Sequence[Sample], num_images: int) -> list[int]:
    """Return the indices into ``query`` of Figure 6's columns: one image per identity (its first
    in query order), for identities evenly spread over the query list. The choice is
    deterministic, and it has fewer than ``num_images`` when the query set has fewer identities."""
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    first_of_pid: dict[int, int] = {}
    for i, sample in enumerate(query):
        first_of_pid.setdefault(sample.pid, i)
    candidates = sorted(first_of_pid.values())
    if not candidates:
        raise ValueError("the dataset has no query images")
    if len(candidates) <= num_images:
        return candidates
    positions = np.unique(np.round(np.linspace(0, len(candidates) - 1, num_images)).astype(np.int64))
    return [candidates[p] for p in positions]


def _class_score_module(model: torch.nn.Module) -> torch.nn.Module:
    class ClassScores(torch.nn.Module):
        """Return what Grad-CAM differentiates: ``model.class_scores``, the identity logits (eval mode)."""

        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner.class_scores(x)

    return ClassScores(model)


def gradcam_maps(
    models: Mapping[str, torch.nn.Module], images: np.ndarray, device: str = "cpu"
) -> dict[str, np.ndarray]:
    """Return the Grad-CAM of each model on ``images`` (uint8 N x 3 x H x W) as
    {label: float32 (N, H, W) in [0, 1]}.

    The target layer is the last block of ``model.backbone.layer4``. The target is grad-cam's
    default, the highest-scoring identity of ``model.class_scores``. Query identities are not training
    classes, so each map explains the training identity the image looks most like. Each map
    is scaled to [0, 1] per image by grad-cam, and an all-zero map means no positive evidence.
    The models end up on ``device``, otherwise as they were: eval mode, weights and
    BatchNorm statistics unchanged, no hooks, no gradients.
    """

    dev = torch.device(device)
    batch = normalize(torch.from_numpy(np.ascontiguousarray(images))).to(dev)
    maps = {}
    for label, model in models.items():
        model.to(dev).eval()
        cam = GradCAM(model=_class_score_module(model), target_layers=[model.backbone.layer4[-1]])
        # The code does not use ``with cam``, because its __exit__ swallows IndexError; the hooks are released in any case.
        try:
            with torch.enable_grad():
                maps[label] = np.asarray(cam(input_tensor=batch, targets=None), dtype=np.float32)
        finally:
            cam.activations_and_grads.release()
            model.zero_grad(set_to_none=True)
    return maps


def _upscale(array: np.ndarray, height: int, width: int) -> np.ndarray:
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_LINEAR)


def gradcam_grid(
    checkpoints: Mapping[str, str | os.PathLike],
    dataset: ReidDataset,
    out: str | os.PathLike,
    num_images: int = 6,
    device: str = "cpu",
) -> Path:
    """Draw Figure 6: row (a) shows the input images, then one Grad-CAM row per entry of ``checkpoints``
    ({label: model.pt}, in row order, e.g. avg, max, residual), all on the same ``num_images``
    query images of ``dataset`` (chosen by ``select_query_images``).

    Images are decoded at the models' input size, as in evaluation; the CAM is taken for
    grad-cam's default target, the highest-scoring training identity (query identities are
    not training classes, so each map explains the training identity the image looks most
    like). Writes the PNG ``out`` atomically and returns it.
    """

    loaded = load_models(checkpoints)
    chosen = select_query_images(dataset.query, num_images)
    samples = [dataset.query[i] for i in chosen]
    images = np.stack([decode(s.path, loaded.height, loaded.width) for s in samples])
    maps = gradcam_maps(loaded.models, images, device)
    rows = _picture_rows(images, maps, loaded.height, loaded.width)
    fig, grid, height = _grid_figure(len(rows), len(samples), loaded.height / loaded.width)
    for r, (label, pictures) in enumerate(rows):
        for c, picture in enumerate(pictures):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(picture, interpolation="bilinear")
            bare_axes(ax)
            if r == 0:
                ax.set_title(f"pid {samples[c].pid} c{samples[c].camid}", fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=10, rotation=0, ha="right", va="center")
    fig.text(
        0.5,
        0.1 / height,
        f"Grad-CAM at backbone layer4, highest-scoring training identity; {dataset.name} query images, "
        f"{loaded.height}x{loaded.width} input.",
        ha="center",
        va="bottom",
        fontsize=7,
    )
    return save_png(fig, out)


def _picture_rows(images: np.ndarray, maps: dict[str, np.ndarray], height: int, width: int) -> list:
    """Return the rows of Figure 6 as (label, pictures): the input images, then each model's Grad-CAM
    overlays. Small inputs are upscaled to at least 256 px high, so that the maps stay legible."""

    scale = max(1, math.ceil(256 / height))
    shown_h, shown_w = height * scale, width * scale
    # The decoded uint8 image divided by 255 is the network's input de-normalised, in [0, 1].
    inputs = [
        _upscale(np.ascontiguousarray(img.transpose(1, 2, 0)).astype(np.float32) / 255, shown_h, shown_w)
        for img in images
    ]
    inputs = [np.clip(x, 0.0, 1.0) for x in inputs]
    rows = [("(a) input", inputs)]
    for i, (label, cams) in enumerate(maps.items()):
        overlays = [
            show_cam_on_image(inputs[n], np.clip(_upscale(cams[n], shown_h, shown_w), 0, 1), use_rgb=True)
            for n in range(len(images))
        ]
        rows.append((f"({chr(ord('b') + i)}) {label}", overlays))
    return rows


def _grid_figure(n_rows: int, n_columns: int, aspect: float):
    """Return the figure, its grid of pictures (``aspect`` is height over width of one) and its height in inches."""
    cell_w = 1.0
    cell_h = cell_w * aspect
    label_w, head_h, foot_h = 1.1, 0.3, 0.35
    width = label_w + cell_w * n_columns + 0.1
    height = head_h + cell_h * n_rows + foot_h
    fig = new_figure(width, height)
    grid = fig.add_gridspec(
        n_rows,
        n_columns,
        left=label_w / width,
        right=1 - 0.1 / width,
        top=1 - head_h / height,
        bottom=foot_h / height,
        wspace=0.05,
        hspace=0.05,
    )
    return fig, grid, height
