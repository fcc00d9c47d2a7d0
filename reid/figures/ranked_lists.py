"""Draw Figure 4 ("Person re-identification results of the proposed method"), in which each row is a query
image followed by its top 10 gallery results; the paper marks correct results with a solid
border and wrong ones with a dotted one. Here solid green marks the same identity as the
query, dashed red marks another identity, and an empty cell means that no candidate is left (the
query's junk removed, fewer than 10 gallery images). It reads the ``per_query.npz`` that ``reid.evaluate`` writes.
The paper does not say how its queries were picked; ours are spread over the AP distribution
(evenly spaced quantiles, best first) so that the figure shows the model's failures as well
as its successes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from reid.data.cache import decode
from reid.data.market import DatasetError
from reid.figures.canvas import bare_axes, new_figure, save_png

# These are the arrays that ranked_lists reads from per_query.npz (see reid/evaluate.py).
PER_QUERY_KEYS = ("ap", "first_hit", "q_pids", "top10", "g_pids", "q_paths", "g_paths")
TOP_K = 10

# These are the cell marks of Figure 4.
CORRECT, WRONG, EMPTY = "correct", "wrong", "empty"
CORRECT_COLOR, WRONG_COLOR, QUERY_COLOR = "#1a9641", "#d7191c", "#404040"
# A correct result gets a solid border and a wrong one a dashed border, as the paper marks them
# with solid and dotted ones; each entry is the border's colour and line style.
RESULT_STYLE = {CORRECT: (CORRECT_COLOR, "-"), WRONG: (WRONG_COLOR, "--")}

# Every image of Figure 4 is shown at the Market-1501 box size, whatever its source size.
DISPLAY_H, DISPLAY_W = 128, 64


def load_per_query(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load the arrays of a per_query.npz that Figure 4 needs, and check them for consistency."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run python -m reid evaluate first (it writes per_query.npz)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files if k in PER_QUERY_KEYS}
    # The file may be truncated, a bare .npy, or not numpy at all, and each of these fails here.
    except Exception as err:
        raise ValueError(
            f"cannot read {path} as a per_query.npz ({type(err).__name__}: {err}); evaluate the model again"
        ) from err
    missing = [k for k in PER_QUERY_KEYS if k not in arrays]
    if missing:
        raise ValueError(
            f"{path} lacks {', '.join(missing)}: not a per_query.npz of python -m reid evaluate "
            "(or written by an older version); evaluate the model again"
        )
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
    """Return the indices of the queries that Figure 4 shows, best AP first.

    Skipped queries (``first_hit == -1``: no cross-camera match in the gallery) are left out;
    the others are sorted by AP (ties in query order) and taken at evenly spaced positions
    from the best to the worst, so the rows span the AP distribution instead of showing only
    successes. The choice is deterministic: the same file gives the same rows.
    """
    if num_queries < 1:
        raise ValueError(f"num_queries must be at least 1, got {num_queries}")
    valid = np.flatnonzero(np.asarray(first_hit) >= 0)
    if valid.size == 0:
        raise ValueError("every query was skipped (no cross-camera match in the gallery): nothing to show")
    # The sort is by descending AP, and it is stable so that equal APs stay in query order.
    ranked = valid[np.argsort(-np.asarray(ap, dtype=np.float64)[valid], kind="stable")]
    if ranked.size <= num_queries:
        return ranked
    positions = np.unique(np.round(np.linspace(0, ranked.size - 1, num_queries)).astype(np.int64))
    return ranked[positions]


def result_marks(top10: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray) -> np.ndarray:
    """Return the (R, K) marks of ranked results: CORRECT (same pid as the query), WRONG, or EMPTY (-1 pad).

    ``top10`` rows already exclude each query's junk (same pid and camera), as
    reid.evaluate writes them, so a same-pid result is a true cross-camera match.
    """
    top10 = np.atleast_2d(np.asarray(top10))
    q_pids = np.asarray(q_pids).reshape(-1)
    if top10.shape[0] != q_pids.shape[0]:
        raise ValueError(f"{top10.shape[0]} ranked rows for {q_pids.shape[0]} query pids")
    padded = top10 < 0
    # Pads take any valid index here, because they are masked below.
    pids = np.asarray(g_pids)[np.where(padded, 0, top10)]
    marks = np.where(pids == q_pids[:, None], CORRECT, WRONG).astype("<U7")
    marks[padded] = EMPTY
    return marks


def _load_display_image(path: Path, source: Path) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(
            f"image {path} (listed in {source}) does not exist: the ranked-lists figure needs the dataset the "
            "model was evaluated on; pass that dataset's root (q_paths and g_paths are relative to it)"
        )
    # imshow wants H x W x 3.
    return decode(str(path), DISPLAY_H, DISPLAY_W).transpose(1, 2, 0)


def _border(ax, color: str, linestyle: str, width: float = 3.0) -> None:
    # The border is drawn on the axes' edge, over the image, so the mark does not change the image's size.
    ax.add_patch(
        Rectangle(
            (0, 0),
            1,
            1,
            transform=ax.transAxes,
            fill=False,
            edgecolor=color,
            linestyle=linestyle,
            linewidth=width,
            clip_on=False,
        )
    )


def ranked_lists(
    per_query: str | os.PathLike,
    dataset_root: str | os.PathLike,
    out: str | os.PathLike,
    num_queries: int = 6,
    title: str | None = None,
) -> Path:
    """Draw Figure 4: queries (rows, chosen by ``select_queries``) and their top-10 gallery results.

    ``per_query`` is a per_query.npz of ``reid.evaluate``, and ``dataset_root`` is the root of the
    dataset it was evaluated on (its paths are relative to it). Each row is labelled with the
    query's pid and AP, and each result with its rank and pid. A solid green border marks a correct
    result, a dashed red one a wrong result, and an empty cell means no candidate. Writes the PNG ``out`` atomically and returns it.
    """
    per_query = Path(per_query)
    root = Path(dataset_root)
    arrays = load_per_query(per_query)
    rows = select_queries(arrays["ap"], arrays["first_hit"], num_queries)
    top = arrays["top10"][rows, :TOP_K]
    if top.shape[1] < TOP_K:
        top = np.pad(top, ((0, 0), (0, TOP_K - top.shape[1])), constant_values=-1)
    marks = result_marks(top, arrays["q_pids"][rows], arrays["g_pids"])
    # Every image is read before anything is drawn, so that a missing file fails before any output.
    query_images, result_images = _read_images(arrays, rows, top, root, per_query)
    fig, grid, height = _ranked_lists_figure(len(rows), title)
    for r, q in enumerate(rows):
        _draw_query(fig.add_subplot(grid[r, 0]), query_images[r], arrays["q_pids"][q], arrays["ap"][q])
        for k in range(TOP_K):
            g = int(top[r, k])
            pid = arrays["g_pids"][g] if g >= 0 else None
            _draw_result(fig.add_subplot(grid[r, k + 2]), k + 1, marks[r, k], result_images.get(g), pid)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.15 / height, va="top")
    _add_legend_and_caption(fig, height, len(rows), int((arrays["first_hit"] >= 0).sum()))
    return save_png(fig, out)


def _read_images(arrays: dict, rows: np.ndarray, top: np.ndarray, root: Path, per_query: Path):
    """Read the display images of the chosen queries (a list in row order) and of their results ({gallery index: image})."""
    query_images = [_load_display_image(root / str(arrays["q_paths"][q]), per_query) for q in rows]
    result_images = {
        int(g): _load_display_image(root / str(arrays["g_paths"][g]), per_query) for g in np.unique(top[top >= 0])
    }
    return query_images, result_images


def _ranked_lists_figure(n_rows: int, title: str | None):
    """Return the figure, its grid of cells (the query, a gap, then the results) and its height in inches."""
    # The sizes are in inches, for the image and for the text above it.
    cell_w, cell_h, label_h = 0.85, 1.7, 0.35
    top_margin = 0.5 if title else 0.15
    bottom_margin = 0.75
    width = 0.3 + cell_w * (TOP_K + 1.3)
    height = top_margin + n_rows * (cell_h + label_h) + bottom_margin
    fig = new_figure(width, height)
    grid = fig.add_gridspec(
        n_rows,
        TOP_K + 2,
        width_ratios=[1, 0.3] + [1] * TOP_K,
        left=0.15 / width,
        right=1 - 0.15 / width,
        top=1 - (top_margin + label_h) / height,
        bottom=bottom_margin / height,
        hspace=label_h / cell_h,
        wspace=0.08,
    )
    return fig, grid, height


def _draw_query(ax, image: np.ndarray, pid, ap) -> None:
    """Draw the query of a row, with a grey border and its pid and AP above it."""
    ax.imshow(image, interpolation="bilinear")
    bare_axes(ax)
    _border(ax, QUERY_COLOR, "-", 2.0)
    ax.set_title(f"query pid {int(pid)}\nAP {float(ap):.2f}", fontsize=8)


def _draw_result(ax, rank: int, mark: str, image: np.ndarray | None, pid) -> None:
    """Draw one ranked result: the image with the border of its mark, or a grey cell where there is no candidate."""
    bare_axes(ax)
    if mark == EMPTY:
        ax.set_facecolor("#f2f2f2")
        ax.text(0.5, 0.5, "none", transform=ax.transAxes, ha="center", va="center", fontsize=7, color="#808080")
        ax.set_title(f"{rank}", fontsize=8)
        return
    color, linestyle = RESULT_STYLE[mark]
    ax.imshow(image, interpolation="bilinear")
    _border(ax, color, linestyle)
    ax.set_title(f"{rank}: pid {int(pid)}", fontsize=8, color=color)


def _add_legend_and_caption(fig, height: float, n_rows: int, n_evaluated: int) -> None:
    """Draw the legend of the border marks and a caption that says how the rows were chosen."""

    handles = [
        Line2D([], [], color=CORRECT_COLOR, linestyle="-", linewidth=3, label="correct (same identity)"),
        Line2D([], [], color=WRONG_COLOR, linestyle="--", linewidth=3, label="wrong (another identity)"),
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.3 / height)
    )
    fig.text(
        0.5,
        0.08 / height,
        f"Rows: {n_rows} of {n_evaluated} evaluated queries at evenly spaced AP "
        "quantiles, best first; results ranked 1-10 (the query's same-camera matches excluded); "
        "empty: no candidate.",
        ha="center",
        va="bottom",
        fontsize=7,
    )
