"""The report's figures, as the page embeds them: PNG data inline, so that the page is one file
that opens from disk. Figures 4 and 6 are the PNGs the figure jobs drew; Figure 5 is drawn
here from the training logs. templates/figures.html lays them out."""

from __future__ import annotations

import base64
from pathlib import Path

from reid.figures import learning_curves
from reid.paper import DATASET_LABELS
from reid.report.inputs import Results

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def figure_files(results_dir: str | Path, dataset: str, stem: str) -> list[Path]:
    """Return the PNGs of one figure for a dataset (one per seed it was drawn for), oldest seed first."""
    return sorted(Path(results_dir, dataset, "figures").glob(f"{stem}_seed*.png"))


def _png_or_none(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if data.startswith(PNG_SIGNATURE) else None  # A damaged file is not a figure.


def image(png: bytes, alt: str) -> dict:
    """Return an <img>'s alt text and base64 data."""
    return {"alt": alt, "data": base64.b64encode(png).decode()}


def drawn_figures(results_dir: str | Path, datasets: list[str], stem: str, label: str) -> list[dict]:
    """Return, per dataset, its name, label and the images of one figure that the figure jobs drew.
    Without images the page says it was not drawn."""
    found = []
    for d in datasets:
        pngs = [(f, _png_or_none(f)) for f in figure_files(results_dir, d, stem)]
        images = [image(png, f"{label}, {DATASET_LABELS.get(d, d)}, {f.stem}") for f, png in pngs if png]
        found.append({"name": d, "label": DATASET_LABELS.get(d, d), "images": images})
    return found


def curves(results: Results, datasets: list[str]) -> list[dict]:
    """Draw Figure 5 per dataset from the training logs of avg, max and residual. Without logs it is
    None, and the page says so."""
    found = []
    for d in datasets:
        label = DATASET_LABELS.get(d, d)
        logs = {v: results.logs.get((d, v), {}) for v in ("avg", "max", "residual")}
        png = learning_curves(logs, f"{label}: accuracy and loss per epoch (mean over seeds, band = min-max)")
        found.append({"name": d, "image": image(png, f"Figure 5, {label}") if png else None})
    return found


def figures(results_dir: str | Path, results: Results, datasets: list[str]) -> dict:
    """Gather everything the page's figure sections show."""
    return {
        "ranked_lists": drawn_figures(results_dir, datasets, "ranked_lists", "Figure 4"),
        "curves": curves(results, datasets),
        "gradcam": drawn_figures(results_dir, datasets, "gradcam", "Figure 6"),
    }
