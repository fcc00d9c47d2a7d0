"""The report: the paper's Tables 2-4 and Figure 5 beside our measurements, as one static page.

Reads what the workflow wrote under ``results/``:
    results/<dataset>/dataset.json                      (python -m reid data prepare: ok or the error)
    results/<dataset>/<variant>/seed<N>/metrics.json   (python -m reid evaluate)
    results/<dataset>/<variant>/seed<N>/log.csv        (python -m reid train)
    results/<dataset>/figures/*.png                     (python -m reid figure: Figures 4 and 6)
    results/profile/<variant>.json                      (python -m reid profile)
and writes ``report/index.html`` with its figures inline (one file that opens from disk).
Every string that comes from a config or a file name is HTML-escaped. Only measured numbers
appear in our columns; a cell with no result says so.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from reid.figures import learning_curves
from reid.provenance import git_commit, package_versions
from reid.utils import atomic_write_text
from reid.variants import VARIANTS, table_rows

# our variant -> the paper's row name (Tables 2 and 3)
PAPER_ROWS = {
    "baseline": "ResNet50_baseline",
    "avg": "Avg",
    "max": "Max",
    "residual": "Residual",
    "residual+rerank": "Residual + re-ranking",
}
METRICS = ("mAP", "rank1", "rank5", "rank10")
METRIC_LABELS = {"mAP": "mAP", "rank1": "R1", "rank5": "R5", "rank10": "R10"}
DATASET_LABELS = {"market1501": "Market-1501", "dukemtmcreid": "DukeMTMC-reID"}


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def paper_tables() -> list[dict]:
    """Rows of the paper's Tables 2-4 (package data; see reid/resources/README.md)."""
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


# ---------------------------------------------------------------------------------------- inputs


@dataclass
class Results:
    """Everything measured, as read from the results folder."""

    metrics: dict = field(default_factory=dict)  # (dataset, variant) -> {seed: metrics dict}
    logs: dict = field(default_factory=dict)  # (dataset, variant) -> {seed: list of rows}
    profiles: dict = field(default_factory=dict)  # variant -> profile dict
    datasets: dict = field(default_factory=dict)  # dataset -> status (reid.data.prepare)


def _metric(metrics: dict, name: str) -> float | None:
    """A metric in percent from a metrics.json (fractions there)."""
    aliases = {"rank1": ("rank1", "R1"), "rank5": ("rank5", "R5"), "rank10": ("rank10", "R10"), "mAP": ("mAP",)}
    for key in aliases.get(name, (name,)):
        if key in metrics and metrics[key] is not None:
            return 100.0 * float(metrics[key])
    return None


def read_results(results_dir: str | Path) -> Results:
    root = Path(results_dir)
    found = Results()
    for path in sorted(root.glob("*/*/seed*/metrics.json")):
        dataset, variant, seed_dir = path.parts[-4:-1]
        try:
            seed = int(seed_dir.removeprefix("seed"))
            found.metrics.setdefault((dataset, variant), {})[seed] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue  # a damaged or foreign file is not a result
    for path in sorted(root.glob("*/*/seed*/log.csv")):
        dataset, variant, seed_dir = path.parts[-4:-1]
        try:
            seed = int(seed_dir.removeprefix("seed"))
            with open(path, newline="") as f:
                found.logs.setdefault((dataset, variant), {})[seed] = list(csv.DictReader(f))
        except (ValueError, OSError):
            continue
    for path in sorted(root.glob("*/dataset.json")):
        try:
            status = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
        if isinstance(status, dict) and "ok" in status:
            found.datasets[path.parent.name] = status
    for path in sorted((root / "profile").glob("*.json")):
        try:
            found.profiles[path.stem] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
    return found


def mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


# ---------------------------------------------------------------------------------------- tables


def _cell(values: list[float] | None, paper: float | None) -> str:
    if not values:
        ours = '<span class="missing">not run</span>'
        diff = ""
    else:
        mean, std = mean_std(values)
        ours = f"{mean:.2f} ± {std:.2f}" if len(values) > 1 else f"{mean:.2f}"
        diff = f"{mean - paper:+.2f}" if paper is not None else ""
    paper_text = f"{paper:.2f}" if paper is not None else "—"
    return f'<td class="ours">{ours}</td><td class="paper">{paper_text}</td><td class="diff">{diff}</td>'


def table2(results: Results, datasets: list[str], variants: list[str], paper: list[dict]) -> str:
    """Table 2: mAP, R1, R5, R10 per variant and dataset, mean ± std over seeds, paper, difference."""
    head = "".join(f'<th colspan="{3 * len(METRICS)}">{esc(DATASET_LABELS.get(d, d))}</th>' for d in datasets)
    sub = "".join(f'<th colspan="3">{METRIC_LABELS[m]}</th>' for _ in datasets for m in METRICS)
    subsub = "".join("<th>ours</th><th>paper</th><th>Δ</th>" for _ in datasets for _ in METRICS)
    rows = []
    for variant in variants:
        cells = []
        for d in datasets:
            per_seed = results.metrics.get((d, variant), {})
            for m in METRICS:
                values = [v for v in (_metric(x, m) for x in per_seed.values()) if v is not None]
                cells.append(_cell(values, paper_value(paper, 2, PAPER_ROWS.get(variant, ""), d, m)))
        seeds = sorted({s for d in datasets for s in results.metrics.get((d, variant), {})})
        label = f"{esc(variant)} <small>({len(seeds)} seed{'s' if len(seeds) != 1 else ''})</small>"
        rows.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="results" id="table2"><thead><tr><th rowspan="3">method</th>{head}</tr>'
        f"<tr>{sub}</tr><tr>{subsub}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def table3(results: Results, datasets: list[str], paper: list[dict]) -> str:
    """Table 3: the paper's comparison, quoted, with our residual and residual+rerank rows measured."""
    methods = []
    for r in paper:
        if int(r["table"]) == 3 and r["method"] not in methods:
            methods.append(r["method"])
    ours = {"Residual": "residual", "Residual + re-ranking": "residual+rerank"}
    head = "".join(f'<th colspan="{len(METRICS)}">{esc(DATASET_LABELS.get(d, d))}</th>' for d in datasets)
    sub = "".join(f"<th>{METRIC_LABELS[m]}</th>" for _ in datasets for m in METRICS)
    rows = []
    for method in methods:
        cells = []
        for d in datasets:
            for m in METRICS:
                v = paper_value(paper, 3, method, d, m)
                cells.append(f'<td class="quoted">{"—" if v is None else f"{v:.2f}"}</td>')
        rows.append(
            f'<tr class="quoted"><th>{esc(method)} <small>(quoted from the paper)</small></th>{"".join(cells)}</tr>'
        )
        if method in ours:
            variant = ours[method]
            cells = []
            for d in datasets:
                per_seed = results.metrics.get((d, variant), {})
                for m in METRICS:
                    values = [v for v in (_metric(x, m) for x in per_seed.values()) if v is not None]
                    cells.append(
                        f'<td class="ours">{mean_std(values)[0]:.2f}</td>'
                        if values
                        else '<td class="missing">not run</td>'
                    )
            rows.append(f'<tr class="ours"><th>{esc(variant)} <small>(measured here)</small></th>{"".join(cells)}</tr>')
    return (
        f'<table class="results" id="table3"><thead><tr><th rowspan="2">method</th>{head}</tr><tr>{sub}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def table4(results: Results, variants: list[str], paper: list[dict]) -> str:
    """Table 4: parameters, MACs/FLOPs (fvcore and thop) and latency, ours beside the paper's."""
    rows = []
    devices = sorted({d for p in results.profiles.values() for d in p.get("latency", {})})
    names = {d: p["latency"][d].get("device", d) for p in results.profiles.values() for d in p.get("latency", {})}
    dev_heads = "".join(
        f"<th>{esc(names[d])}: latency ms (median / p90)</th><th>{esc(names[d])}: images/s</th>" for d in devices
    )
    if not devices:  # nothing profiled yet: keep the latency columns for the paper's value
        dev_heads = "<th>latency ms</th><th>images/s</th>"
    latency_columns = 2 * max(len(devices), 1)
    for variant in variants:
        p = results.profiles.get(variant)
        if p is None:
            rows.append(
                f'<tr><th>{esc(variant)}</th><td class="missing" colspan="{4 + latency_columns}">not run</td></tr>'
            )
            continue
        lat = "".join(
            f"<td>{p['latency'][d]['latency_ms_median']:.2f} / {p['latency'][d]['latency_ms_p90']:.2f}</td>"
            f"<td>{p['latency'][d]['throughput_images_per_s']:.0f}</td>"
            if d in p.get("latency", {})
            else "<td>—</td><td>—</td>"
            for d in devices
        )
        rows.append(
            f"<tr><th>{esc(variant)} <small>({esc(p['backbone'])}, {p['input'][0]}x{p['input'][1]})</small></th>"
            f"<td>{p['params_M']:.2f}</td><td>{p['params_without_classifiers_M']:.2f}</td>"
            f"<td>{p['fvcore_GMACs']:.2f} / {p['fvcore_GFLOPs']:.2f}</td><td>{p['thop_GMACs']:.2f} / {p['thop_GFLOPs']:.2f}</td>"
            f"{lat}</tr>"
        )
    paper_rows = []
    for method in ("Residual",):
        vals = {m: paper_value(paper, 4, method, "", m) for m in ("params_M", "flops_G", "inference_ms")}
        paper_rows.append(
            f'<tr class="quoted"><th>{esc(method)} <small>(paper: ResNet50, 288x144, GTX 1080Ti)</small></th>'
            f'<td>{vals["params_M"]:.2f}</td><td>—</td><td colspan="2">FLOPs/G as printed: {vals["flops_G"]:.2f}</td>'
            f'<td colspan="{latency_columns}">{vals["inference_ms"]:.2f} ms per image</td></tr>'
        )
    return (
        '<table class="results" id="table4"><thead><tr><th>method</th><th>params M</th>'
        "<th>params M without classifiers</th><th>fvcore GMACs / GFLOPs</th><th>thop GMACs / GFLOPs</th>"
        f"{dev_heads}</tr></thead><tbody>{''.join(rows)}{''.join(paper_rows)}</tbody></table>"
    )


# ---------------------------------------------------------------------------------------- figures


def figure_files(results_dir: str | Path, dataset: str, stem: str) -> list[Path]:
    """The PNGs of one figure for a dataset (one per seed it was drawn for), oldest seed first."""
    return sorted(Path(results_dir, dataset, "figures").glob(f"{stem}_seed*.png"))


def _png_or_none(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if data.startswith(b"\x89PNG\r\n\x1a\n") else None  # a damaged file is not a figure


def datasets_table(results: Results, datasets: list[str]) -> str:
    """What each dataset was: counts, content fingerprint and archive md5, or why it is missing."""
    rows, errors = [], []
    for d in datasets:
        status = results.datasets.get(d)
        if status is None:
            rows.append(f'<tr><th>{esc(d)}</th><td class="missing" colspan="5">not prepared</td></tr>')
            continue
        if not status.get("ok"):
            rows.append(f'<tr><th>{esc(d)}</th><td class="missing" colspan="5">not available (below)</td></tr>')
            errors.append(f'<h3>{esc(d)}</h3><pre class="missing">{esc(status.get("error", ""))}</pre>')
            continue
        counts = status.get("counts", {})
        cells = "".join(
            f"<td>{counts.get(k, {}).get('images', '?')} / {counts.get(k, {}).get('ids', '?')}</td>"
            for k in ("train", "query", "gallery")
        )
        marker = status.get("marker") or {}
        origin = (
            f"md5 {marker['md5']}"
            if marker.get("md5")
            else f"rendered: size {marker.get('size')}, seed {marker.get('seed')}"
            if "seed" in marker
            else "custom folder"
        )
        rows.append(
            f"<tr><th>{esc(d)}</th>{cells}<td>{esc(status.get('fingerprint', ''))}</td><td>{esc(origin)}</td></tr>"
        )
    return (
        '<table id="datasets"><thead><tr><th>dataset</th><th>train images / ids</th><th>query images / ids</th>'
        "<th>gallery images / ids</th><th>content fingerprint</th><th>archive</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{''.join(errors)}"
    )


def img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


# ---------------------------------------------------------------------------------------- page

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
.scroll{overflow-x:auto}
th{background:#f4f4f4} tbody th{text-align:left}
td.paper,td.quoted,tr.quoted th{color:#666} td.diff{color:#555;font-style:italic}
.missing{color:#b00} small{color:#777;font-weight:normal} img{max-width:100%}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:12px}
"""


def _benchmarks(benchmarks_dir: Path) -> list[tuple[str, float]]:
    """Wall time per Snakemake job from its benchmark: file."""
    rows = []
    for path in sorted(benchmarks_dir.rglob("*.tsv")) if benchmarks_dir.is_dir() else []:
        try:
            with open(path, newline="") as f:
                first = next(csv.DictReader(f, delimiter="\t"))
            rows.append((str(path.relative_to(benchmarks_dir).with_suffix("")), float(first["s"])))
        except (StopIteration, KeyError, ValueError, OSError):
            continue
    return rows


def _figure_images(results_dir, datasets: list[str], stem: str, label: str) -> list[str]:
    parts = []
    for d in datasets:
        files = figure_files(results_dir, d, stem)
        pngs = [(f, _png_or_none(f)) for f in files]
        shown = [img_tag(png, f"{label}, {DATASET_LABELS.get(d, d)}, {f.stem}") for f, png in pngs if png]
        if shown:
            parts.append(f"<h3>{esc(DATASET_LABELS.get(d, d))}</h3>" + "".join(shown))
        else:
            parts.append(f'<p class="missing">{esc(d)}: not drawn.</p>')
    return parts


def build_report(
    results_dir: str | Path = "results",
    out: str | Path = "report/index.html",
    config: dict | None = None,
    benchmarks_dir: str | Path = "benchmarks",
    data_root: str | Path | None = None,
    expected: list[str] | None = None,
) -> Path:
    """Write the report page; returns its path. ``expected``: result files the workflow asked for
    (those missing are listed as not run)."""
    config = config or {}
    results = read_results(results_dir)
    paper = paper_tables()
    datasets = list(config.get("datasets") or sorted({d for d, _ in results.metrics}))
    variants = list(config.get("variants") or VARIANTS)
    table_variants = table_rows(variants)
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Multi-scale residual pooling: reproduction report</title>"
        f"<style>{STYLE}</style></head><body>",
        "<h1>Multi-scale residual pooling re-ID: reproduction report</h1>",
        "<p>He, Liu, Zhu, <i>Person re-identification method based on multi-scale residual pooling</i>, "
        "Proc. SPIE 12506, 125066I. Our numbers are measured by this suite (mean ± std over seeds); the "
        "paper's are printed beside them, with the difference Δ = ours − paper. All in percent.</p>",
    ]
    missing = [p for p in (expected or []) if not Path(p).exists()]
    if missing:
        items = "".join(f"<li>{esc(p)}</li>" for p in missing)
        parts.append(
            f'<div class="missing"><h2>Not run</h2><p>These results were asked for but do not exist '
            f"(see logs/ for why):</p><ul>{items}</ul></div>"
        )
    parts.append(
        '<h2>Table 2: the variants</h2><div class="scroll">'
        + table2(results, datasets, table_variants, paper)
        + "</div>"
    )
    parts.append(
        '<h2>Table 3: comparison with other methods</h2><div class="scroll">'
        + table3(results, datasets, paper)
        + "</div>"
    )
    parts.append(
        "<h2>Table 4: parameters, computation, inference time</h2>"
        "<p>fvcore and thop count multiply-accumulates (MACs) and differ in what they include; "
        "FLOPs = 2 × MACs. The paper's FLOPs/G column (10.82 for ResNet50 at 288x144) matches 2 × MACs. "
        "Parameters are counted with the identity classifiers of "
        f"{esc(next(iter(results.profiles.values()), {}).get('num_classes', '?'))} classes.</p>"
        + table4(results, variants, paper)
    )
    parts.append(
        "<h2>Figure 4: ranked lists of the residual model</h2>"
        "<p>Each row: a query, then its ten nearest gallery images (same identity and camera excluded, as "
        "the metric ranks them). Solid green border: the same identity; dashed red: another. Queries are "
        "spread from the best to the worst average precision, not hand-picked.</p>"
    )
    parts += _figure_images(results_dir, datasets, "ranked_lists", "Figure 4")
    parts.append("<h2>Figure 5: accuracy and loss per epoch</h2>")
    for d in datasets:
        logs = {v: results.logs.get((d, v), {}) for v in ("avg", "max", "residual")}
        png = learning_curves(
            logs, f"{DATASET_LABELS.get(d, d)}: accuracy and loss per epoch (mean over seeds, band = min-max)"
        )
        parts.append(
            img_tag(png, f"Figure 5, {DATASET_LABELS.get(d, d)}")
            if png
            else f'<p class="missing">{esc(d)}: no training logs.</p>'
        )
    parts.append(
        "<h2>Figure 6: Grad-CAM of avg, max and residual</h2>"
        "<p>(a) the query images, then the class activation maps of the (b) avg, (c) max and (d) residual "
        "models on them (Grad-CAM on the last block of layer4, for the training identity each model finds "
        "most likely: query identities are not among the classifier's classes).</p>"
    )
    parts += _figure_images(results_dir, datasets, "gradcam", "Figure 6")
    parts.append("<h2>Datasets</h2>" + datasets_table(results, datasets))
    prov = {
        "commit": git_commit() or "unknown",
        "packages": package_versions(),
        "config": config,
        "devices": sorted({m.get("device", "") for per in results.metrics.values() for m in per.values()} - {""}),
    }
    if results.datasets:
        prov["datasets"] = {
            d: {k: v for k, v in results.datasets[d].items() if k != "error"} for d in datasets if d in results.datasets
        }
    elif data_root is not None:  # results made without the workflow's dataset step
        from reid.data.market import read_marker

        prov["datasets"] = {d: read_marker(Path(data_root) / d) for d in datasets}
    parts.append(
        f"<h2>Provenance</h2><p>Commit {esc(prov['commit'])}; measured on {esc(', '.join(prov['devices']) or '?')}."
        "</p><details><summary>Config, package versions, datasets</summary><pre>"
        + esc(json.dumps(prov, indent=2, sort_keys=True, default=str))
        + "</pre></details>"
    )
    timing = _benchmarks(Path(benchmarks_dir))
    if timing:
        stages: dict[str, list[float]] = {}
        for job, seconds in timing:
            stages.setdefault(job.split("/")[0], []).append(seconds)
        summary = "".join(
            f"<tr><th>{esc(stage)}</th><td>{len(v)}</td><td>{sum(v):.1f}</td><td>{max(v):.1f}</td></tr>"
            for stage, v in stages.items()
        )
        total = sum(s for _, s in timing)
        parts.append(
            "<h3>Wall time per rule</h3><p>From the jobs' Snakemake <code>benchmark:</code> files, "
            f'{total / 60:.1f} minutes of jobs in all.</p><table id="timing-summary"><thead><tr><th>rule</th>'
            f"<th>jobs</th><th>seconds in all</th><th>longest job</th></tr></thead><tbody>{summary}</tbody></table>"
        )
        rows = "".join(f"<tr><th>{esc(job)}</th><td>{s:.1f}</td></tr>" for job, s in timing)
        parts.append(
            f'<details><summary>Wall time per job</summary><table id="timing"><tr><th>job</th>'
            f"<th>seconds</th></tr>{rows}</table></details>"
        )
    parts.append("</body></html>")
    out = Path(out)
    atomic_write_text(out, "\n".join(parts))
    return out
