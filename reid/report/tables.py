"""The report's tables: Tables 2-4 beside the paper's numbers, and the datasets. Only measured
numbers appear in our columns; a cell with no result says so.

Each function here returns what its table says, as plain data with the numbers already
formatted; templates/tables.html lays it out (and escapes every string: names from configs and
files stay text).
"""

from __future__ import annotations

from reid.paper import DATASET_LABELS, PAPER_ROWS, paper_value
from reid.report.inputs import Results, _metric, mean_std

METRICS = ("mAP", "rank1", "rank5", "rank10")
METRIC_LABELS = {"mAP": "mAP", "rank1": "R1", "rank5": "R5", "rank10": "R10"}


def _cell(values: list[float] | None, paper: float | None) -> dict:
    """Return one metric of Table 2: ours (None when not run), the paper's and the difference."""
    if not values:
        ours, diff = None, ""
    else:
        mean, std = mean_std(values)
        ours = f"{mean:.2f} ± {std:.2f}" if len(values) > 1 else f"{mean:.2f}"
        diff = f"{mean - paper:+.2f}" if paper is not None else ""
    return {"ours": ours, "paper": f"{paper:.2f}" if paper is not None else "—", "diff": diff}


def _percents(results: Results, dataset: str, variant: str, metric: str) -> list[float]:
    """Return a metric of every seed of one run, in percent."""
    per_seed = results.metrics.get((dataset, variant), {})
    return [v for v in (_metric(x, metric) for x in per_seed.values()) if v is not None]


def table2(results: Results, datasets: list[str], variants: list[str], paper: list[dict]) -> dict:
    """Build Table 2: mAP, R1, R5, R10 per variant and dataset, mean ± std over seeds, paper, difference."""
    rows = []
    for variant in variants:
        cells = [
            _cell(_percents(results, d, variant, m), paper_value(paper, 2, PAPER_ROWS.get(variant, ""), d, m))
            for d in datasets
            for m in METRICS
        ]
        seeds = sorted({s for d in datasets for s in results.metrics.get((d, variant), {})})
        rows.append({"variant": variant, "seeds": len(seeds), "cells": cells})
    return {
        "datasets": [DATASET_LABELS.get(d, d) for d in datasets],
        "metrics": [METRIC_LABELS[m] for m in METRICS],
        "rows": rows,
    }


def table3(results: Results, datasets: list[str], paper: list[dict]) -> dict:
    """Build Table 3, the paper's comparison, quoted, with our residual and residual+rerank rows measured
    (a row's ``measured`` is true for ours; a cell of ours that is None was not run)."""
    methods = []
    for r in paper:
        if int(r["table"]) == 3 and r["method"] not in methods:
            methods.append(r["method"])
    ours = {"Residual": "residual", "Residual + re-ranking": "residual+rerank"}
    rows = []
    for method in methods:
        values = [paper_value(paper, 3, method, d, m) for d in datasets for m in METRICS]
        rows.append({"name": method, "measured": False, "cells": ["—" if v is None else f"{v:.2f}" for v in values]})
        if method in ours:
            variant = ours[method]
            measured = [_percents(results, d, variant, m) for d in datasets for m in METRICS]
            cells = [f"{mean_std(values)[0]:.2f}" if values else None for values in measured]
            rows.append({"name": variant, "measured": True, "cells": cells})
    return {
        "datasets": [DATASET_LABELS.get(d, d) for d in datasets],
        "metrics": [METRIC_LABELS[m] for m in METRICS],
        "rows": rows,
    }


def _mean_std(values: list[float]) -> str | None:
    if not values:
        return None
    mean, std = mean_std(values)
    return f"{mean:.2f} ± {std:.2f}" if len(values) > 1 else f"{mean:.2f}"


def cross_table(results: Results, datasets: list[str], variants: list[str]) -> dict | None:
    """Build the cross-dataset table: per variant and (trained on, evaluated on) pair, mAP and R1
    mean ± std over seeds, beside the same-dataset figure (trained and evaluated on the second
    set, the same test set). None when ``snakemake cross`` has not run."""
    pairs = [(a, b) for a in datasets for b in datasets if a != b and any((a, b, v) in results.cross for v in variants)]
    if not pairs:
        return None
    rows = []
    for variant in variants:
        cells = []
        for a, b in pairs:
            per_seed = results.cross.get((a, b, variant), {}).values()
            for metric in ("mAP", "rank1"):
                across = [v for v in (_metric(m, metric) for m in per_seed) if v is not None]
                cells.append({"cross": _mean_std(across), "same": _mean_std(_percents(results, b, variant, metric))})
        rows.append({"variant": variant, "cells": cells})
    return {
        "pairs": [f"{DATASET_LABELS.get(a, a)} → {DATASET_LABELS.get(b, b)}" for a, b in pairs],
        "metrics": ["mAP", "R1"],
        "rows": rows,
    }


def _cost_row(variant: str, p: dict, devices: list[str]) -> dict:
    """Return one variant's measured costs in Table 4, with dashes for a device it was not timed on."""
    latency = []
    for d in devices:
        t = p.get("latency", {}).get(d)
        if t is None:  # The variant was not timed on this device.
            latency += ["—", "—"]
        else:
            latency += [
                f"{t['latency_ms_median']:.2f} / {t['latency_ms_p90']:.2f}",
                f"{t['throughput_images_per_s']:.0f}",
            ]
    return {
        "variant": variant,
        "model": f"{p['backbone']}, {p['input'][0]}x{p['input'][1]}",
        "cells": [
            f"{p['params_M']:.2f}",
            f"{p['params_without_classifiers_M']:.2f}",
            f"{p['fvcore_GMACs']:.2f} / {p['fvcore_GFLOPs']:.2f}",
            f"{p['thop_GMACs']:.2f} / {p['thop_GFLOPs']:.2f}",
        ]
        + latency,
    }


def table4(results: Results, variants: list[str], paper: list[dict]) -> dict:
    """Build Table 4, parameters, MACs/FLOPs (fvcore and thop) and latency, ours beside the paper's
    (a row that is None was not run)."""
    devices = sorted({d for p in results.costs.values() for d in p.get("latency", {})})
    names = {d: p["latency"][d].get("device", d) for p in results.costs.values() for d in p.get("latency", {})}
    rows = [
        _cost_row(variant, results.costs[variant], devices) if variant in results.costs else {"variant": variant}
        for variant in variants
    ]
    quoted = []
    for method in ("Residual",):
        vals = {m: paper_value(paper, 4, method, "", m) for m in ("params_M", "flops_G", "inference_ms")}
        quoted.append(
            {
                "method": method,
                "params": f"{vals['params_M']:.2f}",
                "flops": f"{vals['flops_G']:.2f}",
                "latency": f"{vals['inference_ms']:.2f}",
            }
        )
    return {
        "devices": [names[d] for d in devices],  # With no cost measured, the columns stay for the paper's value.
        "latency_columns": 2 * max(len(devices), 1),
        "rows": rows,
        "quoted": quoted,
    }


def _origin(marker: dict) -> str:
    """Say where a dataset came from: its archive's md5, the synthetic set's recipe, or a folder."""
    if marker.get("md5"):
        return f"md5 {marker['md5']}"
    if "seed" in marker:
        return f"rendered: size {marker.get('size')}, seed {marker.get('seed')}"
    return "custom folder"


def datasets_table(results: Results, datasets: list[str]) -> list[dict]:
    """Say what each dataset was (counts, content fingerprint and archive md5) or why it is missing
    (``state``: ready, unavailable with its ``error``, or unprepared)."""
    rows = []
    for d in datasets:
        status = results.datasets.get(d)
        if status is None:
            rows.append({"name": d, "state": "unprepared"})
        elif not status.get("ok"):
            rows.append({"name": d, "state": "unavailable", "error": status.get("error", "")})
        else:
            counts = status.get("counts", {})
            rows.append(
                {
                    "name": d,
                    "state": "ready",
                    "counts": [
                        f"{counts.get(k, {}).get('images', '?')} / {counts.get(k, {}).get('ids', '?')}"
                        for k in ("train", "query", "gallery")
                    ],
                    "fingerprint": status.get("fingerprint", ""),
                    "origin": _origin(status.get("marker") or {}),
                }
            )
    return rows
