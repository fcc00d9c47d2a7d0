"""The report's tables: Tables 2-4 beside the paper's numbers, and the datasets. Only measured
numbers appear in our columns; a cell with no result says so. Every string from a config or
a file name is HTML-escaped."""

from __future__ import annotations

import html

from reid.paper import DATASET_LABELS, PAPER_ROWS, paper_value
from reid.report.inputs import Results, _metric, mean_std

METRICS = ("mAP", "rank1", "rank5", "rank10")
METRIC_LABELS = {"mAP": "mAP", "rank1": "R1", "rank5": "R5", "rank10": "R10"}


def esc(value) -> str:
    return html.escape(str(value), quote=True)


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
    devices = sorted({d for p in results.costs.values() for d in p.get("latency", {})})
    names = {d: p["latency"][d].get("device", d) for p in results.costs.values() for d in p.get("latency", {})}
    dev_heads = "".join(
        f"<th>{esc(names[d])}: latency ms (median / p90)</th><th>{esc(names[d])}: images/s</th>" for d in devices
    )
    if not devices:  # no cost measured yet: keep the latency columns for the paper's value
        dev_heads = "<th>latency ms</th><th>images/s</th>"
    latency_columns = 2 * max(len(devices), 1)
    for variant in variants:
        p = results.costs.get(variant)
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
