"""The paper's qualitative figures: Figure 4 (ranked lists) and Figure 6 (Grad-CAM).

``python -m reid figure ranked-lists`` / ``python -m reid figure gradcam`` call these.

* ``ranked_lists`` is Figure 4 ("Person re-identification results of the proposed method"):
  each row is a query image followed by its top 10 gallery results; the paper marks correct
  results with a solid border and wrong ones with a dotted one. Here: solid green = same
  identity as the query, dashed red = another identity, an empty cell = no candidate left
  (the query's junk removed, fewer than 10 gallery images). It reads the ``per_query.npz``
  that ``reid.evaluate`` writes. The paper does not say how its queries were picked; ours are
  spread over the AP distribution (evenly spaced quantiles, best first) so that the figure
  shows the model's failures as well as its successes.

* ``gradcam_grid`` is Figure 6 ("Visualization results of different methods. (a): input
  images; (b): avg method; (c): max method; (d): residual method"): one row of input images,
  then one row of Grad-CAM overlays per model (rows in the order of ``checkpoints``), on the
  same query images in every row. Grad-CAM (Selvaraju et al.) is taken at the last block of
  the backbone's layer4, for the identity logits averaged over the model's classifiers.

Both write their PNG atomically (``reid.utils.atomic_path``): a failed rendering leaves
nothing at ``out``. matplotlib is used through its Agg canvas without pyplot, so no global
backend is switched and no figure outlives a call.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from reid.data.market import DatasetError, ReidDataset, Sample
from reid.utils import atomic_path

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

# what ranked_lists reads from per_query.npz (see reid/evaluate.py)
PER_QUERY_KEYS = ("ap", "first_hit", "q_pids", "top10", "g_pids", "q_paths", "g_paths")
TOP_K = 10

# cell marks of Figure 4
CORRECT, WRONG, EMPTY = "correct", "wrong", "empty"
CORRECT_COLOR, WRONG_COLOR, QUERY_COLOR = "#1a9641", "#d7191c", "#404040"

# every image of Figure 4 is shown at the Market-1501 box size, whatever its source size
DISPLAY_H, DISPLAY_W = 128, 64
DPI = 100


# ------------------------------------------------------------------------------ Figure 4

def load_per_query(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a per_query.npz that Figure 4 needs, checked for consistency."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run python -m reid evaluate first (it writes per_query.npz)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files if k in PER_QUERY_KEYS}
    except Exception as err:  # truncated, a bare .npy, or not numpy at all
        raise ValueError(f"cannot read {path} as a per_query.npz ({type(err).__name__}: {err}); "
                         "evaluate the model again") from err
    missing = [k for k in PER_QUERY_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: not a per_query.npz of python -m reid evaluate "
                         "(or written by an older version); evaluate the model again")
    num_query, num_gallery = len(arrays["q_pids"]), len(arrays["g_pids"])
    top10 = arrays["top10"]
    problems = []
    for key in ("ap", "first_hit", "q_paths"):
        if arrays[key].shape != (num_query,):
            problems.append(f"{key} has shape {arrays[key].shape}, expected ({num_query},)")
    if arrays["g_paths"].shape != (num_gallery,):
        problems.append(f"g_paths has shape {arrays['g_paths'].shape}, expected ({num_gallery},)")
    if top10.ndim != 2 or top10.shape[0] != num_query:
        problems.append(f"top10 has shape {top10.shape}, expected ({num_query}, {TOP_K})")
    elif top10.size and (top10.min() < -1 or top10.max() >= num_gallery):
        problems.append(f"top10 holds indices outside the gallery of {num_gallery} images")
    if problems:
        raise ValueError(f"{path} is inconsistent: {'; '.join(problems)}; evaluate the model again")
    return arrays


def select_queries(ap: np.ndarray, first_hit: np.ndarray, num_queries: int) -> np.ndarray:
    """Indices of the queries Figure 4 shows, best AP first.

    Skipped queries (``first_hit == -1``: no cross-camera match in the gallery) are left out;
    the others are sorted by AP (ties in query order) and taken at evenly spaced positions
    from the best to the worst, so the rows span the AP distribution instead of showing only
    successes. Deterministic: the same file gives the same rows.
    """
    if num_queries < 1:
        raise ValueError(f"num_queries must be at least 1, got {num_queries}")
    valid = np.flatnonzero(np.asarray(first_hit) >= 0)
    if valid.size == 0:
        raise ValueError("every query was skipped (no cross-camera match in the gallery): nothing to show")
    # sort by descending AP, stable so that equal APs stay in query order
    ranked = valid[np.argsort(-np.asarray(ap, dtype=np.float64)[valid], kind="stable")]
    if ranked.size <= num_queries:
        return ranked
    positions = np.unique(np.round(np.linspace(0, ranked.size - 1, num_queries)).astype(np.int64))
    return ranked[positions]


def result_marks(top10: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray) -> np.ndarray:
    """(R, K) marks of ranked results: CORRECT (same pid as the query), WRONG, or EMPTY (-1 pad).

    ``top10`` rows already exclude each query's junk (same pid and camera), as
    reid.evaluate writes them, so a same-pid result is a true cross-camera match.
    """
    top10 = np.atleast_2d(np.asarray(top10))
    q_pids = np.asarray(q_pids).reshape(-1)
    if top10.shape[0] != q_pids.shape[0]:
        raise ValueError(f"{top10.shape[0]} ranked rows for {q_pids.shape[0]} query pids")
    padded = top10 < 0
    pids = np.asarray(g_pids)[np.where(padded, 0, top10)]  # any valid index for pads: masked below
    marks = np.where(pids == q_pids[:, None], CORRECT, WRONG).astype("<U7")
    marks[padded] = EMPTY
    return marks


def _load_display_image(path: Path, source: Path) -> np.ndarray:
    from reid.engine.cache import decode

    if not path.is_file():
        raise DatasetError(
            f"image {path} (listed in {source}) does not exist: the ranked-lists figure needs the dataset the "
            "model was evaluated on; pass that dataset's root (q_paths and g_paths are relative to it)")
    return decode(str(path), DISPLAY_H, DISPLAY_W).transpose(1, 2, 0)  # H x W x 3 for imshow


def _border(ax, color: str, linestyle: str, width: float = 3.0) -> None:
    from matplotlib.patches import Rectangle

    # drawn on the axes' edge, over the image, so the mark does not change the image's size
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, edgecolor=color,
                           linestyle=linestyle, linewidth=width, clip_on=False))


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _save(fig: Figure, out: str | os.PathLike) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        # the temporary name has no .png suffix: the format must be explicit
        fig.savefig(tmp, format="png", dpi=DPI)
    return out


def _new_figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def ranked_lists(per_query: str | os.PathLike, dataset_root: str | os.PathLike, out: str | os.PathLike,
                 num_queries: int = 6, title: str | None = None) -> Path:
    """Figure 4: queries (rows, chosen by ``select_queries``) and their top-10 gallery results.

    ``per_query``: a per_query.npz of ``reid.evaluate``; ``dataset_root``: the root of the
    dataset it was evaluated on (its paths are relative to it). Each row is labelled with the
    query's pid and AP, each result with its rank and pid; solid green border: correct, dashed
    red: wrong, empty cell: no candidate. Writes the PNG ``out`` atomically and returns it.
    """
    per_query = Path(per_query)
    root = Path(dataset_root)
    arrays = load_per_query(per_query)
    rows = select_queries(arrays["ap"], arrays["first_hit"], num_queries)
    top = arrays["top10"][rows, :TOP_K]
    if top.shape[1] < TOP_K:
        top = np.pad(top, ((0, 0), (0, TOP_K - top.shape[1])), constant_values=-1)
    marks = result_marks(top, arrays["q_pids"][rows], arrays["g_pids"])

    # every image is read before drawing: a missing file fails fast, before any output
    query_images = [_load_display_image(root / str(arrays["q_paths"][q]), per_query) for q in rows]
    result_images = {int(g): _load_display_image(root / str(arrays["g_paths"][g]), per_query)
                     for g in np.unique(top[top >= 0])}

    from matplotlib.lines import Line2D

    cell_w, cell_h, label_h = 0.85, 1.7, 0.35  # inches: the image, the text above it
    top_margin = 0.5 if title else 0.15
    bottom_margin = 0.75
    n_rows = len(rows)
    width = 0.3 + cell_w * (TOP_K + 1.3)
    height = top_margin + n_rows * (cell_h + label_h) + bottom_margin
    fig = _new_figure(width, height)
    grid = fig.add_gridspec(n_rows, TOP_K + 2, width_ratios=[1, 0.3] + [1] * TOP_K,
                            left=0.15 / width, right=1 - 0.15 / width,
                            top=1 - (top_margin + label_h) / height, bottom=bottom_margin / height,
                            hspace=label_h / cell_h, wspace=0.08)
    style = {CORRECT: (CORRECT_COLOR, "-"), WRONG: (WRONG_COLOR, "--")}
    for r, q in enumerate(rows):
        ax = fig.add_subplot(grid[r, 0])
        ax.imshow(query_images[r], interpolation="bilinear")
        _bare(ax)
        _border(ax, QUERY_COLOR, "-", 2.0)
        ax.set_title(f"query pid {int(arrays['q_pids'][q])}\nAP {float(arrays['ap'][q]):.2f}", fontsize=8)
        for k in range(TOP_K):
            ax = fig.add_subplot(grid[r, k + 2])
            _bare(ax)
            g = int(top[r, k])
            if marks[r, k] == EMPTY:
                ax.set_facecolor("#f2f2f2")
                ax.text(0.5, 0.5, "none", transform=ax.transAxes, ha="center", va="center", fontsize=7,
                        color="#808080")
                ax.set_title(f"{k + 1}", fontsize=8)
                continue
            ax.imshow(result_images[g], interpolation="bilinear")
            _border(ax, *style[marks[r, k]])
            ax.set_title(f"{k + 1}: pid {int(arrays['g_pids'][g])}", fontsize=8,
                         color=style[marks[r, k]][0])
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.15 / height, va="top")
    handles = [Line2D([], [], color=CORRECT_COLOR, linestyle="-", linewidth=3, label="correct (same identity)"),
               Line2D([], [], color=WRONG_COLOR, linestyle="--", linewidth=3, label="wrong (another identity)")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.3 / height))
    fig.text(0.5, 0.08 / height,
             f"Rows: {n_rows} of {int((arrays['first_hit'] >= 0).sum())} evaluated queries at evenly spaced AP "
             "quantiles, best first; results ranked 1-10 (the query's same-camera matches excluded); "
             "empty: no candidate.", ha="center", va="bottom", fontsize=7)
    return _save(fig, out)


# ------------------------------------------------------------------------------ Figure 6

@dataclass
class LoadedModels:
    """Networks of Figure 6 in row order, all taking ``height`` x ``width`` inputs."""

    models: dict[str, torch.nn.Module]
    height: int
    width: int


def load_models(checkpoints: Mapping[str, str | os.PathLike]) -> LoadedModels:
    """The models of ``checkpoints`` ({row label: model.pt}), in eval mode on the CPU.

    All must take the same input size (ValueError otherwise): the rows show the same pixels.
    """
    from reid.evaluate import build_from_checkpoint, load_model_file, train_config_of

    if not checkpoints:
        raise ValueError("no checkpoints given: Figure 6 needs at least one model (e.g. avg, max, residual)")
    payloads = {label: load_model_file(path) for label, path in checkpoints.items()}
    sizes = {label: (train_config_of(p).height, train_config_of(p).width) for label, p in payloads.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{label} {h}x{w}" for label, (h, w) in sizes.items())
        raise ValueError(f"the models take different input sizes ({listed}); Figure 6 compares models on the same "
                         "images: pass models trained at one size")
    models = {label: build_from_checkpoint(payload, checkpoints[label]) for label, payload in payloads.items()}
    height, width = next(iter(sizes.values()))
    return LoadedModels(models, height, width)


def select_query_images(query: Sequence[Sample], num_images: int) -> list[int]:
    """Indices into ``query`` of Figure 6's columns: one image per identity (its first in
    query order), for identities evenly spread over the query list. Deterministic; fewer
    than ``num_images`` when the query set has fewer identities."""
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
    import torch

    class ClassScores(torch.nn.Module):
        """What Grad-CAM differentiates: ``model.class_scores``, the identity logits (eval mode)."""

        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner.class_scores(x)

    return ClassScores(model)


def gradcam_maps(models: Mapping[str, torch.nn.Module], images: np.ndarray,
                 device: str = "cpu") -> dict[str, np.ndarray]:
    """Grad-CAM of each model on ``images`` (uint8 N x 3 x H x W): {label: float32 (N, H, W) in [0, 1]}.

    Target layer: the last block of ``model.backbone.layer4``. Target: grad-cam's default,
    the highest-scoring identity of ``model.class_scores``. Query identities are not training
    classes, so each map explains the training identity the image looks most like. Each map
    is scaled to [0, 1] per image by grad-cam (an all-zero map: no positive evidence).
    The models end up on ``device``, otherwise as they were: eval mode, weights and
    BatchNorm statistics unchanged, no hooks, no gradients.
    """
    import torch
    from pytorch_grad_cam import GradCAM

    from reid.engine.augment import normalize

    dev = torch.device(device)
    batch = normalize(torch.from_numpy(np.ascontiguousarray(images))).to(dev)
    maps = {}
    for label, model in models.items():
        model.to(dev).eval()
        cam = GradCAM(model=_class_score_module(model), target_layers=[model.backbone.layer4[-1]])
        # not ``with cam``: its __exit__ swallows IndexError; release the hooks in any case
        try:
            with torch.enable_grad():
                maps[label] = np.asarray(cam(input_tensor=batch, targets=None), dtype=np.float32)
        finally:
            cam.activations_and_grads.release()
            model.zero_grad(set_to_none=True)
    return maps


def _upscale(array: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    return cv2.resize(array, (width, height), interpolation=cv2.INTER_LINEAR)


def gradcam_grid(checkpoints: Mapping[str, str | os.PathLike], dataset: ReidDataset, out: str | os.PathLike,
                 num_images: int = 6, device: str = "cpu") -> Path:
    """Figure 6: row (a) the input images, then one Grad-CAM row per entry of ``checkpoints``
    ({label: model.pt}, in row order, e.g. avg, max, residual), all on the same ``num_images``
    query images of ``dataset`` (chosen by ``select_query_images``).

    Images are decoded at the models' input size, as in evaluation; the CAM is taken for
    grad-cam's default target, the highest-scoring training identity (query identities are
    not training classes, so each map explains the training identity the image looks most
    like). Writes the PNG ``out`` atomically and returns it.
    """
    from pytorch_grad_cam.utils.image import show_cam_on_image

    from reid.engine.cache import decode

    loaded = load_models(checkpoints)
    chosen = select_query_images(dataset.query, num_images)
    samples = [dataset.query[i] for i in chosen]
    images = np.stack([decode(s.path, loaded.height, loaded.width) for s in samples])
    maps = gradcam_maps(loaded.models, images, device)

    # small inputs (64x32 in tests and quick runs) are upscaled to at least 256 px high for display
    scale = max(1, math.ceil(256 / loaded.height))
    shown_h, shown_w = loaded.height * scale, loaded.width * scale
    # the decoded uint8 image / 255 is the network input de-normalised, in [0, 1]
    inputs = [_upscale(np.ascontiguousarray(img.transpose(1, 2, 0)).astype(np.float32) / 255, shown_h, shown_w)
              for img in images]
    inputs = [np.clip(x, 0.0, 1.0) for x in inputs]
    rows = [("(a) input", inputs)]
    for i, (label, cams) in enumerate(maps.items()):
        overlays = [show_cam_on_image(inputs[n], np.clip(_upscale(cams[n], shown_h, shown_w), 0, 1), use_rgb=True)
                    for n in range(len(samples))]
        rows.append((f"({chr(ord('b') + i)}) {label}", overlays))

    cell_w = 1.0
    cell_h = cell_w * loaded.height / loaded.width
    label_w, head_h, foot_h = 1.1, 0.3, 0.35
    width = label_w + cell_w * len(samples) + 0.1
    height = head_h + cell_h * len(rows) + foot_h
    fig = _new_figure(width, height)
    grid = fig.add_gridspec(len(rows), len(samples), left=label_w / width, right=1 - 0.1 / width,
                            top=1 - head_h / height, bottom=foot_h / height, wspace=0.05, hspace=0.05)
    for r, (label, pictures) in enumerate(rows):
        for c, picture in enumerate(pictures):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(picture, interpolation="bilinear")
            _bare(ax)
            if r == 0:
                ax.set_title(f"pid {samples[c].pid} c{samples[c].camid}", fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=10, rotation=0, ha="right", va="center")
    fig.text(0.5, 0.1 / height,
             f"Grad-CAM at backbone layer4, highest-scoring training identity; {dataset.name} query images, "
             f"{loaded.height}x{loaded.width} input.", ha="center", va="bottom", fontsize=7)
    return _save(fig, out)
