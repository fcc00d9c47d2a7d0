"""The report: the paper's Tables 2-4 and Figure 5 beside our measurements, as one static page.

Reads what the workflow wrote under ``results/``:
    results/<dataset>/dataset.json                      (python -m reid data prepare: ok or the error)
    results/<dataset>/<variant>/seed<N>/metrics.json   (python -m reid evaluate)
    results/<dataset>/<variant>/seed<N>/log.csv        (python -m reid train)
    results/<dataset>/figures/*.png                     (python -m reid figure: Figures 4 and 6)
    results/cost/<variant>.json                         (python -m reid cost)
and writes ``report/index.html`` with its figures inline (one file that opens from disk).
Every string that comes from a config or a file name is HTML-escaped. Only measured numbers
appear in our columns; a cell with no result says so.
"""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

from reid.claims import ACCURACY_KINDS, claim_settings, claim_specs, judge, sensitivity, write_claims_csv
from reid.figures import learning_curves
from reid.paper import DATASET_LABELS, paper_tables, paper_value
from reid.provenance import git_commit, package_versions
from reid.report.claims_section import claims_table, run_summary, sensitivity_table
from reid.report.inputs import Results, mean_std, read_results
from reid.report.tables import datasets_table, esc, table2, table3, table4
from reid.utils import atomic_write_text
from reid.variants import table_rows

__all__ = ["build_report", "mean_std", "paper_tables", "paper_value", "read_results", "Results"]


def figure_files(results_dir: str | Path, dataset: str, stem: str) -> list[Path]:
    """The PNGs of one figure for a dataset (one per seed it was drawn for), oldest seed first."""
    return sorted(Path(results_dir, dataset, "figures").glob(f"{stem}_seed*.png"))


def _png_or_none(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if data.startswith(b"\x89PNG\r\n\x1a\n") else None  # a damaged file is not a figure


def img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
.scroll{overflow-x:auto}
th{background:#f4f4f4} tbody th{text-align:left}
td.paper,td.quoted,tr.quoted th{color:#666} td.diff{color:#555;font-style:italic}
.missing{color:#b00} small{color:#777;font-weight:normal} img{max-width:100%}
.caveat{background:#fff4d6;border-left:4px solid #e0a800;padding:.5em .8em}
.verdict-supported{background:#e3f4e1} .verdict-contradicted{background:#fbe0e0}
.verdict-inconclusive{background:#fff4d6} .verdict-untestable{color:#777}
td.verdict,td.size,td.reads{font-weight:bold;text-align:left} td.adjusted{text-align:left} td.note{text-align:left;white-space:normal;min-width:20em;font-size:12px}
ul.legend span{padding:0 .3em;font-weight:bold}
#table4 th,#table4 td{white-space:normal}
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
    results_dir: str | Path,
    out: str | Path,
    config: dict,
    benchmarks_dir: str | Path = "benchmarks",
    data_root: str | Path | None = None,
    expected: list[str] | None = None,
) -> Path:
    """Write the report page for a (completed) config's run; returns its path. ``expected``:
    result files the workflow asked for (those missing are listed as not run)."""
    results = read_results(results_dir)
    paper = paper_tables()
    datasets, variants = list(config["datasets"]), config["variants"]
    table_variants = table_rows(variants)
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Multi-scale residual pooling: reproduction report</title>"
        f"<style>{STYLE}</style></head><body>",
        "<h1>Multi-scale residual pooling re-ID: reproduction report</h1>",
        "<p>He, Liu, Zhu, <i>Person re-identification method based on multi-scale residual pooling</i>, "
        "Proc. SPIE 12506, 125066I. Our numbers are measured by this suite (mean ± std over seeds); the "
        "paper's are printed beside them, with the difference Δ = ours − paper. All in percent.</p>",
    ]
    devices = sorted({m.get("device", "") for per in results.metrics.values() for m in per.values()} - {""})
    timing = _benchmarks(Path(benchmarks_dir))
    parts.append(run_summary(config, datasets, variants, devices, sum(s for _, s in timing) if timing else None))
    specs, (tolerance, margin) = claim_specs(config), claim_settings(config)
    claims = judge(results_dir, config, datasets, variants, specs)  # the claims file read and validated once
    write_claims_csv(claims, Path(out).with_name("claims.csv"))
    parts.append(claims_table(claims, specs, tolerance, margin))
    accuracy = [c for c in claims if c.kind in ACCURACY_KINDS]
    parts.append(
        sensitivity_table(
            sensitivity(results_dir, datasets, table_variants, own=accuracy, specs=specs, tolerance=tolerance)
        )
    )
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
        f"{esc(next(iter(results.costs.values()), {}).get('num_classes', '?'))} classes.</p>"
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
        "devices": devices,
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
