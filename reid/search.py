"""Search a gallery of one's own images for each query: ``python -m reid search --model model.pt
--query IMG_OR_DIR --gallery DIR --top 10 --out DIR [--rerank]``.

Both sides are embedded as ``python -m reid embed`` does, then ranked with the suite's own
distance (the one its evaluation ranks with) or, with ``--rerank``, with its k-reciprocal
re-ranking. The queries are ranked a block at a time, so that a large gallery (20,000 images on
a laptop) needs memory for one block of distances only; the re-ranking's own implementation
bounds its memory too (``k_reciprocal_from_features``).

OUT gets ``ranked.csv`` (for each query, its top gallery images: query, rank, gallery,
distance) and ``ranked/<n>_<query name>.png``, each query beside its top images with their
distances, drawn like the paper's Figure 4 but without right or wrong marks, since one's own
images carry no identities.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import torch

from reid.data.cache import decode
from reid.embed import embed_paths, find_images, load_embedder
from reid.evaluate import DEFAULT_DISTANCE, DISTANCES
from reid.figures.canvas import bare_axes, new_figure, save_png
from reid.rerank import k_reciprocal_from_features
from reid.utils import atomic_write_bytes

QUERY_BLOCK = 1024  # queries ranked at once: 1024 x 20,000 float32 distances are 80 MB


def ranked(queries: torch.Tensor, gallery: torch.Tensor, top: int, rerank: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return, for each query, the indices of its ``top`` nearest gallery images and their
    distances, nearest first."""
    top = min(top, len(gallery))
    if rerank:  # the re-ranking needs every query at once, and bounds its own memory
        dist = torch.as_tensor(k_reciprocal_from_features(queries, gallery))
        values, order = torch.topk(dist, top, dim=1, largest=False)
        return order.numpy(), values.numpy()
    orders, values = [], []
    for start in range(0, len(queries), QUERY_BLOCK):
        dist = DISTANCES[DEFAULT_DISTANCE](queries[start : start + QUERY_BLOCK], gallery)
        block_values, block_order = torch.topk(dist, top, dim=1, largest=False)
        orders.append(block_order.numpy())
        values.append(block_values.numpy())
    return np.concatenate(orders), np.concatenate(values)


def write_csv(path: Path, queries: list[str], gallery: list[str], order: np.ndarray, values: np.ndarray) -> None:
    """Write each query's ranked gallery, one row per (query, rank), atomically."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["query", "rank", "gallery", "distance"])
    for q, query in enumerate(queries):
        for rank, (g, value) in enumerate(zip(order[q], values[q]), start=1):
            writer.writerow([query, rank, gallery[g], f"{float(value):.6f}"])
    atomic_write_bytes(path, text.getvalue().encode())


def draw_ranked_list(out: Path, query: str, results: list[tuple[str, float]], height: int, width: int) -> Path:
    """Draw one query beside its ranked results, each with its rank and distance."""
    cell_w, cell_h = 0.85, 1.9
    fig = new_figure(cell_w * (len(results) + 1.3) + 0.3, cell_h + 0.4)
    grid = fig.add_gridspec(1, len(results) + 2, width_ratios=[1, 0.3] + [1] * len(results), wspace=0.08)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(decode(query, height, width).transpose(1, 2, 0))
    bare_axes(ax)
    ax.set_title("query", fontsize=8)
    for i, (path, value) in enumerate(results):
        ax = fig.add_subplot(grid[0, i + 2])
        ax.imshow(decode(path, height, width).transpose(1, 2, 0))
        bare_axes(ax)
        ax.set_title(f"{i + 1}\n{value:.3f}", fontsize=8)
    return save_png(fig, out)


def search(
    model_path: str | os.PathLike,
    query: str | os.PathLike,
    gallery: str | os.PathLike,
    out: str | os.PathLike,
    top: int = 10,
    rerank: bool = False,
    batch_size: int = 128,
    device: str = "auto",
    skip_bad: bool = False,
) -> dict:
    """Rank ``gallery`` for each image of ``query`` and write OUT's files (see the module
    docstring); return the counts and where the files are."""
    out = Path(out)
    _, cfg, model, runtime = load_embedder(model_path, device)
    q_feats, q_paths, q_bad = embed_paths(model, cfg, runtime, find_images(query), batch_size, False, skip_bad)
    g_feats, g_paths, g_bad = embed_paths(model, cfg, runtime, find_images(gallery), batch_size, False, skip_bad)
    order, values = ranked(q_feats, g_feats, top, rerank)
    write_csv(out / "ranked.csv", q_paths, g_paths, order, values)
    for q, path in enumerate(q_paths):
        results = [(g_paths[g], float(v)) for g, v in zip(order[q], values[q])]
        draw_ranked_list(out / "ranked" / f"{q:04d}_{Path(path).stem}.png", path, results, cfg.height, cfg.width)
    return {"queries": len(q_paths), "gallery": len(g_paths), "skipped": q_bad + g_bad, "out": str(out)}
