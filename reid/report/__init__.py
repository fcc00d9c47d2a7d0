"""The report: the paper's Tables 2-4 and Figure 5 beside our measurements, as one static page.

Reads what the workflow wrote under ``results/``:
    results/<dataset>/dataset.json                      (python -m reid data prepare: ok or the error)
    results/<dataset>/<variant>/seed<N>/metrics.json   (python -m reid evaluate)
    results/<dataset>/<variant>/seed<N>/log.csv        (python -m reid train)
    results/<dataset>/figures/*.png                     (python -m reid figure: Figures 4 and 6)
    results/cost/<variant>.json                         (python -m reid cost)
    results/cross/<trained on>/<evaluated on>/<variant>/seed<N>/metrics.json   (snakemake cross)
and the claims as judged by the claims step (report/claims.json, python -m reid claims), and
writes ``report/index.html`` with its figures inline (one file that opens from disk). The report
judges nothing: it renders what it is given.

The page is rendered from the Jinja2 templates in reid/report/templates/ (page.html includes
the others). The Python modules here gather what each part of the page says, as plain data
(tables.py, claims_section.py, images.py); the templates hold all the markup, with
autoescaping on, so every string that comes from a config or a file name stays text. Only
measured numbers appear in our columns; a cell with no result says so.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from reid.claims import JudgedClaims, read_judged
from reid.data.market import read_marker
from reid.paper import paper_tables, paper_value
from reid.provenance import git_commit, package_versions
from reid.report.claims_section import claims_section, run_summary, sensitivity_section
from reid.report.images import figures
from reid.report.inputs import Results, mean_std, read_results
from reid.report.render import render
from reid.report.tables import cross_table, datasets_table, table2, table3, table4
from reid.utils import atomic_write_text
from reid.variants import table_rows

__all__ = ["build_report", "mean_std", "paper_tables", "paper_value", "read_results", "Results"]


def _benchmarks(benchmarks_dir: Path) -> list[tuple[str, float]]:
    """Read the wall time per Snakemake job from its benchmark: file."""
    rows = []
    for path in sorted(benchmarks_dir.rglob("*.tsv")) if benchmarks_dir.is_dir() else []:
        try:
            with open(path, newline="") as f:
                first = next(csv.DictReader(f, delimiter="\t"))
            rows.append((str(path.relative_to(benchmarks_dir).with_suffix("")), float(first["s"])))
        except (StopIteration, KeyError, ValueError, OSError):
            continue
    return rows


def _timing(timing: list[tuple[str, float]]) -> dict | None:
    """Return the wall-time tables, per rule (the job's first path part) and per job, or None when
    there are no benchmark files."""
    if not timing:
        return None
    stages: dict[str, list[float]] = {}
    for job, seconds in timing:
        stages.setdefault(job.split("/")[0], []).append(seconds)
    return {
        "minutes": f"{sum(s for _, s in timing) / 60:.1f}",
        "stages": [
            {"rule": stage, "jobs": len(v), "seconds": f"{sum(v):.1f}", "longest": f"{max(v):.1f}"}
            for stage, v in stages.items()
        ],
        "jobs": [{"name": job, "seconds": f"{s:.1f}"} for job, s in timing],
    }


def _provenance(results: Results, config: dict, devices: list[str], data_root: str | Path | None) -> dict:
    """Say where the numbers come from: the commit, the package versions, the config, the devices
    and the datasets' fingerprints (read from the dataset step's files, or from the data
    folder's markers for results made without the workflow)."""
    datasets = list(config["datasets"])
    prov = {"commit": git_commit() or "unknown", "packages": package_versions(), "config": config, "devices": devices}
    if results.datasets:
        prov["datasets"] = {
            d: {k: v for k, v in results.datasets[d].items() if k != "error"} for d in datasets if d in results.datasets
        }
    elif data_root is not None:  # Results made without the workflow's dataset step have only the markers.
        prov["datasets"] = {d: read_marker(Path(data_root) / d) for d in datasets}
    return {
        "commit": prov["commit"],
        "devices": ", ".join(prov["devices"]) or "?",
        "json": json.dumps(prov, indent=2, sort_keys=True, default=str),
    }


def _tables(results: Results, config: dict) -> dict:
    """Gather Tables 2-4 and the datasets' table, beside the paper's numbers."""
    paper, datasets, variants = paper_tables(), list(config["datasets"]), config["variants"]
    return {
        "table2": table2(results, datasets, table_rows(variants), paper),
        "table3": table3(results, datasets, paper),
        "table4": table4(results, variants, paper),
        "num_classes": next(iter(results.costs.values()), {}).get("num_classes", "?"),
        "datasets": datasets_table(results, datasets),
        "cross": cross_table(results, datasets, variants),
    }


def build_report(
    results_dir: str | Path,
    out: str | Path,
    config: dict,
    claims: JudgedClaims | str | Path,
    benchmarks_dir: str | Path = "benchmarks",
    data_root: str | Path | None = None,
    expected: list[str] | None = None,
) -> Path:
    """Write the report page for a (completed) config's run and return its path. ``claims``: the
    claims step's record (reid.claims.judge_run), or the path of the report/claims.json it
    wrote; the page shows its verdicts as they are. ``expected``: result files the workflow
    asked for (those missing are listed as not run)."""
    judged = claims if isinstance(claims, JudgedClaims) else read_judged(claims)
    results = read_results(results_dir)
    datasets = list(config["datasets"])
    devices = sorted({m.get("device", "") for per in results.metrics.values() for m in per.values()} - {""})
    timing = _benchmarks(Path(benchmarks_dir))
    job_seconds = sum(s for _, s in timing) if timing else None
    page = render(
        "page.html",
        summary=run_summary(config, datasets, config["variants"], devices, job_seconds),
        claims=claims_section(judged),
        sensitivity=sensitivity_section(judged.sensitivity),
        missing=[p for p in (expected or []) if not Path(p).exists()],
        tables=_tables(results, config),
        figures=figures(results_dir, results, datasets),
        provenance=_provenance(results, config, devices, data_root),
        timing=_timing(timing),
    )
    out = Path(out)
    atomic_write_text(out, page)
    return out
