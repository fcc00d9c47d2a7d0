"""C5: Table 4's claim, "the method in Residual has more model Parameters, but ... less computation
(FLOPs) and consumes less time for reasoning in a single image", judged from the profiles
(results/profile/<variant>.json, ``python -m reid profile``).

The paper compares Residual with other published methods, which this suite does not build; what
it can test is what the claim says of the residual pooling module: it adds parameters but
(almost) no computation or time. So residual is compared with each other variant profiled:

    params (%)   residual's parameters over the other's, less 1, in percent. Exact counts: the
                 interval is the point. The paper's side: more (``supported`` when above zero).
    FLOPs (%)    the same for FLOPs; the interval spans fvcore's and thop's counts. The claim:
    latency (%)  at most ``MARGIN`` percent more (``supported`` when the whole interval lies
                 at or below it, ``contradicted`` when it lies above, else ``inconclusive``).
                 Latency: the batch-1 medians on the same device (the GPU if both were profiled
                 on one), the interval a bootstrap of the two sets of timed runs. The variants
                 are timed one after another in one job: a drift of the machine between them
                 is not counted.

Where the paper gives a relative number, it is Residual against SVDNet in Table 4 (a ResNet50
with one more FC layer, the nearest of its rows to a plain ResNet50): it stands beside
``residual vs plain_baseline``. And the absolute counts, ``residual``'s params (M) and FLOPs
(G), against the paper's 30.55 M and 10.82 G: only for a profile of the paper's setting
(ResNet50 at 288x144 with Market-1501's 751 classes), ``supported`` within ``TOLERANCE``
percent (counting conventions differ: fvcore and thop disagree, and whether a head's BN or
classifier bias is counted is not said), else ``contradicted``. The paper's 4.15 ms is a GTX
1080Ti's: not comparable with our machines, so untestable, our number shown.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reid.claims.claim import Claim
from reid.paper import paper_tables, paper_value

MARGIN = 5.0  # percent: "no more computation or time" read as at most 5% more
TOLERANCE = 5.0  # percent: an absolute count within 5% of the paper's is the same model
PAPER_SETTING = {"backbone": "resnet50", "input": [288, 144], "num_classes": 751}
PAPER_REFERENCE = ("plain_baseline", "SVDNet")  # our variant, the paper's Table 4 row beside it
BOOTSTRAP = 2000


def read_profiles(results_dir: str | Path) -> dict[str, dict]:
    profiles = {}
    for path in sorted(Path(results_dir, "profile").glob("*.json")):
        try:
            profiles[path.stem] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue  # a damaged file is not a result
    return profiles


def _percent(a: float, b: float) -> float:
    return 100.0 * (a / b - 1.0)


def _margin_verdict(low: float, high: float) -> str:
    return "supported" if high <= MARGIN else "contradicted" if low > MARGIN else "inconclusive"


def latency_device(a: dict, b: dict) -> str | None:
    """The device both profiles were timed on, the GPU first."""
    common = set(a.get("latency", {})) & set(b.get("latency", {}))
    return next((d for d in sorted(common, key=lambda d: (d == "cpu", d))), None)


def median_ratio_interval(runs_a, runs_b, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of 100 * (median(A) / median(B) - 1)."""
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
    """The paper's Residual against the Table 4 row that stands for ``other_name``, in percent."""
    if other_name != PAPER_REFERENCE[0]:
        return None
    a, b = _paper("Residual", column), _paper(PAPER_REFERENCE[1], column)
    return None if a is None or b is None else _percent(a, b)


def absolute_cost(p: dict | None) -> list[Claim]:
    """Residual's params, FLOPs and latency beside the paper's."""
    claims = [
        Claim("C5", "residual", "all", "params (M)", _paper("Residual", "params_M")),
        Claim("C5", "residual", "all", "FLOPs (G)", _paper("Residual", "flops_G")),
        Claim("C5", "residual", "all", "latency (ms)", _paper("Residual", "inference_ms")),
    ]
    if p is None:
        for claim in claims:
            claim.note = "not profiled: residual"
        return claims
    params, flops, latency = claims
    params.ours = params.ci_low = params.ci_high = p["params_M"]
    counts = (p["fvcore_GFLOPs"], p["thop_GFLOPs"])
    flops.ours, flops.ci_low, flops.ci_high = counts[0], min(counts), max(counts)
    params.interval, flops.interval = "exact count", "fvcore to thop"
    paper_setting = all(p.get(k) == v for k, v in PAPER_SETTING.items())
    for claim in (params, flops):
        if not paper_setting:
            claim.note = f"profiled as {_setting(p)}; the paper's count is for {_setting(PAPER_SETTING)}"
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


def relative_cost(residual: dict, other_name: str, other: dict) -> list[Claim]:
    """Residual against one other variant: params, FLOPs and latency, in percent more."""
    claim = f"residual vs {other_name}"
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
                note=f"profiled in different settings ({_setting(residual)}, {_setting(other)})",
            )
            for m, c in RELATIVE
        ]
    params = Claim("C5", claim, "all", "params (%)", paper("params_M"), interval="exact count", note=note)
    params.ours = params.ci_low = params.ci_high = _percent(residual["params_M"], other["params_M"])
    params.verdict = "supported" if params.ours > 0 else "contradicted"
    flops = Claim("C5", claim, "all", "FLOPs (%)", paper("flops_G"), interval="fvcore to thop", note=note)
    ratios = [_percent(residual[k], other[k]) for k in ("fvcore_GFLOPs", "thop_GFLOPs")]
    flops.ours, flops.ci_low, flops.ci_high = ratios[0], min(ratios), max(ratios)
    flops.verdict = _margin_verdict(flops.ci_low, flops.ci_high)
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
        latency.interval = "no per-run times in a profile: rerun it"
        return [params, flops, latency]
    latency.ci_low, latency.ci_high = median_ratio_interval(a["latency_ms_runs"], b["latency_ms_runs"])
    latency.interval = "bootstrap over the timed runs"
    latency.verdict = _margin_verdict(latency.ci_low, latency.ci_high)
    return [params, flops, latency]


def cost_claims(results_dir: str | Path, variants: list[str]) -> list[Claim]:
    """C5 from the profiles of ``variants`` (residual's absolute counts, and residual against
    each other variant profiled)."""
    profiles = read_profiles(results_dir)
    residual = profiles.get("residual") if "residual" in variants else None
    claims = absolute_cost(residual)
    for name in variants:
        if name == "residual":
            continue
        if residual is None or name not in profiles:
            missing = ", ".join(v for v, p in (("residual", residual), (name, profiles.get(name))) if p is None)
            claims += [
                Claim("C5", f"residual vs {name}", "all", m, relative_paper(name, c), note=f"not profiled: {missing}")
                for m, c in RELATIVE
            ]
            continue
        claims += relative_cost(residual, name, profiles[name])
    return claims
