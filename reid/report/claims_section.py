"""The top of the report: what ran, then the paper's claims with their verdicts (reid.claims),
in words a skimming reader will not misread."""

from __future__ import annotations

from reid.claims import NOT_SUPPLIED, READING_WORDS, TRAINING_READINGS, Claim, Sensitivity
from reid.claims.cost import MARGIN, TOLERANCE
from reid.claims.curves import CURVES
from reid.paper import DATASET_LABELS, PAPER_DATASETS
from reid.report.tables import esc
from reid.targets import DEFAULT_SEEDS

VERDICT_WORDS = {
    "supported": "our whole 95% interval lies on the paper's side",
    "contradicted": "our whole 95% interval lies on the other side of the paper's claim",
    "inconclusive": "our 95% interval contains zero: this run cannot tell",
    "untestable": "not measured in this run",
}
METHOD = (
    "Each interval counts both sources of uncertainty: the seeds (another training gives another model) and "
    "the finite test set (other queries would give another mean). From each evaluation's per-query AP (for "
    "mAP) or first-rank hit (for R1), the variance of a difference is the spread of the per-seed metrics "
    "over the number of seeds, for each variant, plus the spread of the per-query differences over the "
    "number of queries, less their seed-by-query interaction counted twice (a method-of-moments estimate); "
    "the 95% interval is a t-interval with Welch-Satterthwaite degrees of freedom. Re-ranking re-evaluates "
    "the same models, so residual + re-ranking is compared with residual seed by seed. With one seed the "
    "seed-to-seed spread cannot be estimated: such an interval counts the queries only and says so. The "
    "coverage was checked by simulation (tests/test_stats.py)."
)


def run_summary(
    config: dict, datasets: list[str], variants: list[str], devices: list[str], job_seconds: float | None
) -> str:
    """What ran: datasets, variants, seeds, epochs, device and the jobs' wall time."""
    train = config.get("train") or {}
    seeds = config.get("seeds") or DEFAULT_SEEDS
    labels = ", ".join(DATASET_LABELS.get(d, d) for d in datasets) or "none"
    items = [
        f"<li><b>Datasets:</b> {esc(labels)}</li>",
        f"<li><b>Variants:</b> {esc(', '.join(variants))}{', and residual re-ranked' if 'residual' in variants else ''}</li>",
        f"<li><b>Seeds:</b> {esc(', '.join(str(s) for s in seeds))}</li>",
        f"<li><b>Recipe:</b> {esc(train.get('epochs', 220))} epochs, {esc(train.get('backbone', 'resnet50'))} at "
        f"{esc(train.get('height', 288))}x{esc(train.get('width', 144))}</li>",
        f"<li><b>Device:</b> {esc(', '.join(devices) or 'unknown')}</li>",
    ]
    if job_seconds is not None:
        items.append(
            f"<li><b>Wall time:</b> {job_seconds / 60:.1f} minutes of jobs (per rule: bottom of the page)</li>"
        )
    text = '<div id="summary"><h2>What ran</h2><ul>' + "".join(items) + "</ul>"
    if not any(d in PAPER_DATASETS for d in datasets):
        text += (
            '<p class="caveat"><b>This run tests the suite, not the paper.</b> It used no dataset of the paper '
            "(Market-1501, DukeMTMC-reID), so its verdicts say whether the suite can tell the variants apart on "
            "this data at this scale, not whether the paper's claims hold. For those, run "
            "<code>configs/paper.yaml</code> on the paper's datasets.</p>"
        )
    return text + "</div>"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}" if value < 0 else f"{value:.2f}"


CURVE_SIDES = {metric: "lower" if side < 0 else "higher" for metric, _, side in CURVES}
DATASET_WORDS = DATASET_LABELS | {"all": "all (no data)"}


def _rows(claims: list[Claim]) -> str:
    rows = []
    for c in claims:
        interval = "—" if c.ci_low is None else f"[{c.ci_low:.2f}, {c.ci_high:.2f}]"
        paper = _number(c.paper)
        if c.claim_id == "C6":  # Figure 5 has no numbers: its direction
            paper = f"<small>{CURVE_SIDES.get(c.metric, '')}</small>"
        if c.paper is not None and c.paper_dataset and c.paper_dataset != c.dataset:
            paper += f" <small>({esc(DATASET_LABELS.get(c.paper_dataset, c.paper_dataset))})</small>"
        rows.append(
            f'<tr class="verdict-{esc(c.verdict)}"><td>{esc(c.claim_id)}</td><th>{esc(c.claim)}</th>'
            f"<td>{esc(DATASET_WORDS.get(c.dataset, c.dataset))}</td><td>{esc(c.metric)}</td><td>{paper}</td>"
            f"<td>{_number(c.ours)}</td><td>{interval}</td>"
            f'<td class="verdict" title="{esc(VERDICT_WORDS[c.verdict])}">{esc(c.verdict)}</td>'
            f'<td>{esc(c.seeds)}</td><td class="note">{esc(c.interval)}{"; " if c.interval and c.note else ""}'
            f"{esc(c.note)}</td></tr>"
        )
    return "".join(rows)


HEAD = (
    "<thead><tr><th>claim</th><th>what</th><th>dataset</th><th>metric</th><th>paper</th><th>ours</th>"
    "<th>95% interval</th><th>verdict</th><th>seeds</th><th>interval counts; note</th></tr></thead>"
)


def claims_table(claims: list[Claim]) -> str:
    """The claims, one row per claim, dataset and metric, verdicts colour-coded and in words; the
    paper's datasets that this run did not have are folded into one line."""
    ran = {c.dataset for c in claims if c.note != NOT_SUPPLIED}
    shown = [c for c in claims if c.dataset in ran]
    absent = sorted({c.dataset for c in claims} - ran)
    folded = ""
    if absent:
        names = ", ".join(DATASET_LABELS.get(d, d) for d in absent)
        folded = (
            f'<details class="absent"><summary>{esc(names)}: not supplied to this run, so its '
            f"{sum(c.dataset in absent for c in claims)} claims are untestable (the paper's values)</summary>"
            f'<table class="claims">{HEAD}<tbody>{_rows([c for c in claims if c.dataset in absent])}</tbody>'
            "</table></details>"
        )
    legend = "".join(
        f'<li><span class="verdict-{v}">{v}</span>: {esc(words)}</li>' for v, words in VERDICT_WORDS.items()
    )
    return (
        '<div id="claims"><h2>The paper\'s claims</h2>'
        "<p>C1: residual beats avg and max. C2: residual beats the ResNet50 baseline by a wide margin. C3: "
        "re-ranking improves residual. C4: the paper's absolute numbers for residual and residual + re-ranking "
        "(Table 2). For a comparison (C1-C3), <i>paper</i> and <i>ours</i> are differences A − B in "
        "percentage points; for C4 they are the metric itself and the verdict asks whether the paper's value "
        "lies inside our interval.</p>"
        "<p>C5 (Table 4): the residual module adds parameters but (almost) no computation or time. "
        "<i>params (%)</i>, <i>FLOPs (%)</i> and <i>latency (%)</i> are how much more residual costs than "
        "the other variant; more parameters is the paper's side, and for FLOPs and latency "
        f"<i>supported</i> means the whole interval lies at or below +{MARGIN:.0f}% (at most a "
        f"{MARGIN:.0f}% overhead), <i>contradicted</i> that it lies above. Residual's own parameter and FLOP "
        f"counts are set beside the paper's (within {TOLERANCE:.0f}%) only for a profile of the paper's "
        "setting, ResNet50 at 288x144. C6 (Figure 5): residual's training loss falls faster and its "
        "accuracy is higher than avg's and max's; each seed's curve is taken as its mean over the epochs, "
        "and the interval counts the seeds. Figure 5 has no numbers, so only its direction is tested.</p>"
        "<p>Also in <code>claims.csv</code> beside this page.</p>"
        f'<ul class="legend">{legend}</ul>'
        f'<div class="scroll"><table id="claims-table">{HEAD}<tbody>{_rows(shown)}</tbody></table>{folded}</div>'
        f'<p class="method"><b>How the intervals are made.</b> {esc(METHOD)}</p></div>'
    )


def sensitivity_table(rows: list[Sensitivity]) -> str:
    """Each claim's verdict under each reading of the test distance; a changed verdict is marked."""
    if not rows:
        return ""
    names = list(rows[0].verdicts)
    body = []
    for r in rows:
        c = r.claim
        cells = "".join(f'<td class="verdict-{esc(r.verdicts[n])}">{esc(r.verdicts[n])}</td>' for n in names)
        body.append(
            f"<tr><td>{esc(c.claim_id)}</td><th>{esc(c.claim)}</th><td>{esc(DATASET_LABELS.get(c.dataset, c.dataset))}</td>"
            f"<td>{esc(c.metric)}</td>{cells}<td>{'<b>changes</b>' if r.changes else 'same'}</td></tr>"
        )
    changed = sum(r.changes for r in rows)
    heads = "".join(f"<th>{esc(READING_WORDS[name])}</th>" for name in names)
    untrained = [name for name in TRAINING_READINGS if name not in names]
    return (
        '<div id="sensitivity"><h3>Sensitivity to the readings</h3>'
        "<p>Where the paper is silent, the test distance can be taken on the raw retrieval features or on "
        "L2-normalised ones (BoT normalises); the concatenated feature is dominated by its largest scale "
        "unless normalised. Every evaluation is scored both ways (no retraining), and each claim is judged "
        "under each. Equation (2)'s triplet can see the six pooled backbone features (the literal "
        "reading, our default) or the fused features (BoT's arrangement): that needs trainings of its own, "
        "<code>snakemake readings</code> (avg, max and residual again), and joins this table once run"
        f"{' (not run here)' if untrained else ''}. <b>{changed} of {len(rows)}</b> verdicts change with "
        "the reading.</p>"
        '<div class="scroll"><table id="sensitivity-table"><thead><tr><th>claim</th><th>what</th><th>dataset</th>'
        f"<th>metric</th>{heads}<th>verdict</th></tr></thead><tbody>{''.join(body)}</tbody></table></div></div>"
    )
