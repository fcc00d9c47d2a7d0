"""This module holds the paper's own numbers and how our variants map onto its rows. Tables 2-4
are package data (reid/resources/paper_tables.csv, with its provenance in reid/resources/README.md)."""

from __future__ import annotations

import csv
import io
from importlib import resources

# Each of our variants maps to the paper's row name in Tables 2 and 3.
PAPER_ROWS = {
    "baseline": "ResNet50_baseline",
    # The plain baseline is the same row, read the other way round (see the config schema).
    "plain_baseline": "ResNet50_baseline",
    "avg": "Avg",
    "max": "Max",
    "residual": "Residual",
    "residual+rerank": "Residual + re-ranking",
}
PAPER_DATASETS = ("market1501", "dukemtmcreid")
DATASET_LABELS = {
    "market1501": "Market-1501",
    "dukemtmcreid": "DukeMTMC-reID",
    "msmt17": "MSMT17",
    "cuhk03_np": "CUHK03-NP",
}


def paper_tables() -> list[dict]:
    """Return the rows of the paper's Tables 2-4, which are package data (see reid/resources/README.md)."""
    text = resources.files("reid").joinpath("resources/paper_tables.csv").read_text()
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        row["value"] = float(row["value"]) if row["value"] else None
        rows.append(row)
    return rows


def paper_value(rows: list[dict], table: int, method: str, dataset: str, metric: str) -> float | None:
    for r in rows:
        if int(r["table"]) == table and r["method"] == method and r["dataset"] == dataset and r["metric"] == metric:
            return r["value"]
    return None
