"""Every figure is drawn on a matplotlib Figure with its own Agg canvas. It uses no pyplot, so no
global backend is switched and no figure outlives a call. It is saved atomically
(``reid.utils.atomic_path``), so a failed rendering leaves nothing at ``out``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reid.utils import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100


def bare_axes(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def save_png(fig: Figure, out: str | os.PathLike) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        # The temporary name has no .png suffix, so the format must be explicit.
        fig.savefig(tmp, format="png", dpi=DPI)
    return out


def new_figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig
