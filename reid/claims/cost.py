"""Cost claims (kind cost in reid/resources/claims.yaml; the paper's C5, Table 4's claim, "the
method in Residual has more model Parameters, but ... less computation (FLOPs) and consumes less
time for reasoning in a single image"), judged from the costs measured (results/cost/<variant>.json,
``python -m reid cost``).

The paper compares Residual with other published methods, which this suite does not build; what
it can test is what the claim says of the residual pooling module: it adds parameters but
(almost) no computation or time. So residual is compared with each other variant measured. No
row here is a 95% interval of a sampled quantity, and each says what its figure is:

    params (%)   residual's parameters over the other's, less 1, in percent: an exact count.
                 The paper's side: more (``supported`` when above zero).
    FLOPs (%)    the same for FLOPs: exact counts, but two counters (fvcore and thop) count
                 differently; the range spans the two. The claim: at most ``margin`` percent
                 more (``supported`` when the whole range lies at or below it, ``contradicted``
                 when it lies above, else ``inconclusive``). The margin is ours (config
                 ``claims.cost_margin``, 5% by default): the paper gives none.
    latency (%)  the batch-1 medians on the same device (the GPU if both were timed on one),
                 the range a bootstrap of the two sets of timed runs of one measuring session,
                 one variant timed after the other: it counts the spread of the timed runs, not
                 how the machine drifts between variants or sessions, so it is no 95% interval
                 of the latency ratio. Judged against the margin as FLOPs are.

Where the paper gives a relative number, it is Residual against SVDNet in Table 4 (a ResNet50
with one more FC layer, the nearest of its rows to a plain ResNet50): it stands beside
``residual vs plain_baseline``. And the absolute counts, ``residual``'s params (M) and FLOPs
(G), against the paper's 30.55 M and 10.82 G: only for a measurement in the paper's setting
(ResNet50 at 288x144 with Market-1501's 751 classes), ``supported`` within ``TOLERANCE``
percent (counting conventions differ: fvcore and thop disagree, and whether a head's BN or
classifier bias is counted is not said), else ``contradicted``. The paper's 4.15 ms is a GTX
1080Ti's: not comparable with our machines, so untestable, our number shown.

None of these calls is a statistical test at the 5% level, so none joins the family-wise
adjustment (reid.claims.claim.adjust_family_wise) or the count of tests on the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reid.claims.claim import Claim
from reid.claims.declared import COST_MARGIN, ClaimSpec
from reid.paper import paper_tables, paper_value

TOLERANCE = 5.0  # In percent: an absolute count within 5% of the paper's counts as the same model.
PAPER_SETTING = {"backbone": "resnet50", "input": [288, 144], "num_classes": 751}
# Our variant comes first, then the paper's Table 4 row that stands beside it.
PAPER_REFERENCE = ("plain_baseline", "SVDNet")
BOOTSTRAP = 2000


def read_costs(results_dir: str | Path) -> dict[str, dict]:
    costs = {}
    for path in sorted(Path(results_dir, "cost").glob("*.json")):
        try:
            costs[path.stem] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue  # A damaged file is not a result, so it is skipped.
    return costs


def _percent(a: float, b: float) -> float:
    return 100.0 * (a / b - 1.0)


def _margin_verdict(low: float, high: float, margin: float = COST_MARGIN) -> str:
    return "supported" if high <= margin else "contradicted" if low > margin else "inconclusive"


def latency_device(a: dict, b: dict) -> str | None:
    """Return the device both variants were timed on, trying the GPU first."""
    common = set(a.get("latency", {})) & set(b.get("latency", {}))
    return next((d for d in sorted(common, key=lambda d: (d == "cpu", d))), None)


def median_ratio_interval(runs_a, runs_b, seed: int = 0) -> tuple[float, float]:
    """Return the 95% percentile-bootstrap interval of 100 * (median(A) / median(B) - 1)."""
    rng = np.random.default_rng(seed)
    a, b = np.asarray(runs_a, dtype=np.float64), np.asarray(runs_b, dtype=np.float64)
    ma = np.median(a[rng.integers(0, len(a), (BOOTSTRAP, len(a)))], axis=1)
    mb = np.median(b[rng.integers(0, len(b), (BOOTSTRAP, len(b)))], axis=1)
    low, high = np.percentile(100.0 * (ma / mb - 1.0), [2.5, 97.5])
    return float(low), float(high)


def _setting(p: dict) -> str:
    return f"{p.get('backbone')} at {'x'.join(str(x) for x in p.get('input', []))} with {p.get('num_classes')} classes"


def _paper(method: str, column: str) -> float | None:
    return paper_value(paper_tables(), 4, method, "", column)


RELATIVE = (("params (%)", "params_M"), ("FLOPs (%)", "flops_G"), ("latency (%)", "inference_ms"))


def relative_paper(other_name: str, column: str) -> float | None:
    """Return the paper's Residual against the Table 4 row that stands for ``other_name``, in percent."""
    if other_name != PAPER_REFERENCE[0]:
        return None
    a, b = _paper("Residual", column), _paper(PAPER_REFERENCE[1], column)
    return None if a is None or b is None else _percent(a, b)


def absolute_cost(p: dict | None) -> list[Claim]:
    """Judge Residual's params, FLOPs and latency beside the paper's."""
    claims = [
        Claim("C5", "residual", "all", "params (M)", _paper("Residual", "params_M")),
        Claim("C5", "residual", "all", "FLOPs (G)", _paper("Residual", "flops_G")),
        Claim("C5", "residual", "all", "latency (ms)", _paper("Residual", "inference_ms")),
    ]
    if p is None:
        for claim in claims:
            claim.note = "not measured: residual"
        return claims
    params, flops, latency = claims
    params.ours = params.ci_low = params.ci_high = p["params_M"]
    counts = (p["fvcore_GFLOPs"], p["thop_GFLOPs"])
    flops.ours, flops.ci_low, flops.ci_high = counts[0], min(counts), max(counts)
    params.interval, flops.interval = "exact count", "range: fvcore to thop"
    paper_setting = all(p.get(k) == v for k, v in PAPER_SETTING.items())
    for claim in (params, flops):
        if not paper_setting:
            claim.note = f"measured as {_setting(p)}; the paper's count is for {_setting(PAPER_SETTING)}"
            continue
        near = claim.ci_low * (1 - TOLERANCE / 100) <= claim.paper <= claim.ci_high * (1 + TOLERANCE / 100)
        claim.verdict = "supported" if near else "contradicted"
        claim.note = f"supported within {TOLERANCE:.0f}% of ours (counting conventions differ)"
    device = "cuda" if "cuda" in p.get("latency", {}) else "cpu" if "cpu" in p.get("latency", {}) else None
    if device is not None:
        timing = p["latency"][device]
        latency.ours = timing["latency_ms_median"]
        latency.interval = "batch-1 median"
        latency.note = (
            f"ours on {timing.get('device', device)}; the paper's on a GTX 1080Ti: not comparable "
            "(the latency ratios between variants are)"
        )
    return claims


def relative_cost(
    residual: dict, other_name: str, other: dict, margin: float = COST_MARGIN, a: str = "residual"
) -> list[Claim]:
    """Compare ``a`` (residual) with one other variant on params, FLOPs and latency, in percent more."""
    claim = f"{a} vs {other_name}"
    reference = PAPER_REFERENCE[1] if other_name == PAPER_REFERENCE[0] else None

    def paper(column: str) -> float | None:
        return relative_paper(other_name, column)

    note = f"paper: Residual vs {reference} in Table 4" if reference else ""
    if not all(residual.get(k) == other.get(k) for k in ("backbone", "input", "num_classes")):
        return [
            Claim(
                "C5",
                claim,
                "all",
                m,
                paper(c),
                note=f"measured in different settings ({_setting(residual)}, {_setting(other)})",
            )
            for m, c in RELATIVE
        ]
    params = Claim("C5", claim, "all", "params (%)", paper("params_M"), interval="exact count", note=note)
    params.ours = params.ci_low = params.ci_high = _percent(residual["params_M"], other["params_M"])
    params.verdict = "supported" if params.ours > 0 else "contradicted"
    flops = Claim("C5", claim, "all", "FLOPs (%)", paper("flops_G"), interval="range: fvcore to thop", note=note)
    ratios = [_percent(residual[k], other[k]) for k in ("fvcore_GFLOPs", "thop_GFLOPs")]
    flops.ours, flops.ci_low, flops.ci_high = ratios[0], min(ratios), max(ratios)
    flops.verdict = _margin_verdict(flops.ci_low, flops.ci_high, margin)
    flops.add_note(f"supported: at most +{margin:g}% (our margin, not the paper's)")
    latency = Claim("C5", claim, "all", "latency (%)", paper("inference_ms"), note=note)
    device = latency_device(residual, other)
    if device is None:
        latency.note = "not timed on a common device"
        return [params, flops, latency]
    a, b = residual["latency"][device], other["latency"][device]
    latency.ours = _percent(a["latency_ms_median"], b["latency_ms_median"])
    words = f"batch-1 medians on {a.get('device', device)}, timed one after another"
    latency.note = "; ".join(x for x in (note, words) if x)
    if not a.get("latency_ms_runs") or not b.get("latency_ms_runs"):
        latency.interval = "no per-run times in the cost file: rerun the cost job"
        return [params, flops, latency]
    latency.ci_low, latency.ci_high = median_ratio_interval(a["latency_ms_runs"], b["latency_ms_runs"])
    latency.interval = "range: bootstrap of one session's timed runs (not a 95% interval)"
    latency.verdict = _margin_verdict(latency.ci_low, latency.ci_high, margin)
    latency.add_note(f"supported: at most +{margin:g}% (our margin, not the paper's)")
    return [params, flops, latency]


def cost_claims(
    results_dir: str | Path, variants: list[str], specs: list[ClaimSpec], margin: float = COST_MARGIN
) -> list[Claim]:
    """Judge the cost claims of ``specs`` from the costs of ``variants``: A's absolute counts when
    A is residual (the paper's Table 4 row), and A against each of B that the config has."""
    costs = read_costs(results_dir)
    claims = []
    for spec in (s for s in specs if s.kind == "cost"):
        rows = []
        own = costs.get(spec.a) if spec.a in variants else None
        if spec.a == "residual" and spec.source == "the paper":
            rows += absolute_cost(own)
        for name in spec.b:
            if name not in variants or name == spec.a:
                continue
            if own is None or name not in costs:
                missing = ", ".join(v for v, p in ((spec.a, own), (name, costs.get(name))) if p is None)
                rows += [
                    Claim(
                        "C5", f"{spec.a} vs {name}", "all", m, relative_paper(name, c), note=f"not measured: {missing}"
                    )
                    for m, c in RELATIVE
                ]
                continue
            rows += relative_cost(own, name, costs[name], margin, spec.a)
        for row in rows:
            row.claim_id, row.kind = spec.claim_id, spec.kind
        claims += [r for r in rows if r.metric.split(" ")[0] in spec.metrics]
    return claims
