"""The top of the report: what ran, then the paper's claims with their verdicts (reid.claims),
in words a skimming reader will not misread."""

from __future__ import annotations

from reid.claims import NOT_SUPPLIED, READING_WORDS, TRAINING_READINGS, Claim, ClaimSpec, Sensitivity, statistical_tests
from reid.claims.claim import CALLS
from reid.claims.declared import COST_MARGIN, TOLERANCE
from reid.config import train_config
from reid.paper import DATASET_LABELS, PAPER_DATASETS
from reid.report.tables import esc

# what each verdict means, per kind of claim: the page's tooltips and legend (the rules are in
# reid/stats.py and reid/claims/)
VERDICT_WORDS = {
    "comparison": {
        "supported": "the whole 95% interval of A − B lies on the claim's side of zero",
        "contradicted": "the whole 95% interval of A − B lies on the other side of zero: the opposite holds",
        "inconclusive": "the interval holds zero, or a side has one seed: this run cannot tell the direction",
    },
    "absolute": {
        "supported": "the whole 95% interval of ours − paper lies within ±tolerance points",
        "contradicted": "the whole 95% interval of ours − paper lies beyond ±tolerance on one side",
        "inconclusive": "the interval reaches past ±tolerance without lying beyond it, or one seed: cannot tell",
    },
    "cost": {
        "supported": "params: more parameters (an exact count); FLOPs and latency: the whole range at or below +margin%",
        "contradicted": "params: no more parameters; FLOPs and latency: the whole range above +margin%",
        "inconclusive": "the range straddles +margin%",
    },
}
VERDICT_WORDS["curve"] = VERDICT_WORDS["comparison"]
UNTESTABLE = "not measured in this run, or no value to compare with"
SIZE_WORDS = {
    "as_claimed": "our difference agrees with the paper's: the whole 95% interval of ours − paper lies within ±tolerance",
    "smaller": "our difference is smaller than the paper's: the whole interval lies more than tolerance short of it "
    "(the direction may still be the claimed one)",
    "larger": "our difference is larger than the paper's by more than tolerance",
    "inconclusive": "the interval reaches past ±tolerance without lying beyond it, or one seed: the size is not settled",
    "untestable": "the paper gives no number on this dataset: only the direction is tested",
}
GROUPS = {"direction": "comparison", "size": "comparison", "absolute": "absolute", "cost": "cost", "curve": "curve"}
METHOD = (
    "Each accuracy interval counts both sources of uncertainty: the seeds (another training gives another "
    "model) and the test set (other people would give another mean). The unit of the test set is the "
    "identity, not the query: Market-1501's 3,368 queries are 750 people, whose queries share clothes, "
    "background and difficulty, and a variant's advantage differs from person to person, so queries of one "
    "person are not independent (treated as independent, a 95% interval covered 87% of the time in "
    "simulation). From each evaluation's per-query AP (for mAP) or first-rank hit (for R1), the variance of "
    "a difference is the spread of the per-seed metrics over the number of seeds, for each variant, plus "
    "the cluster-robust (by identity) variance of the mean per-query difference, less the seed-by-query "
    "interaction that the first part already holds (a method-of-moments estimate); the 95% interval is a "
    "t-interval with Welch-Satterthwaite degrees of freedom. Re-ranking re-evaluates the same models, so "
    "residual + re-ranking is compared with residual seed by seed. With one seed the seed-to-seed spread "
    "cannot be estimated: no interval is shown and no call is made. C4 compares our seeds' mean with the "
    "paper's mean of three runs on the same test set: its interval counts the seed-to-seed spread of both "
    "(the paper's is not published and is estimated by ours) and not query sampling. The coverage and the "
    "rate of false calls were checked by simulation (tests/test_stats.py)."
)


def run_summary(
    config: dict, datasets: list[str], variants: list[str], devices: list[str], job_seconds: float | None
) -> str:
    """What ran: datasets, variants, seeds, epochs, device and the jobs' wall time."""
    recipe, seeds = train_config(config), config["seeds"]
    labels = ", ".join(DATASET_LABELS.get(d, d) for d in datasets) or "none"
    items = [
        f"<li><b>Datasets:</b> {esc(labels)}</li>",
        f"<li><b>Variants:</b> {esc(', '.join(variants))}{', and residual re-ranked' if 'residual' in variants else ''}</li>",
        f"<li><b>Seeds:</b> {esc(', '.join(str(s) for s in seeds))}</li>",
        f"<li><b>Recipe:</b> {esc(recipe.epochs)} epochs, {esc(recipe.backbone)} at "
        f"{esc(recipe.height)}x{esc(recipe.width)}</li>",
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


CURVE_SIDES = {"loss, early (% of epoch 1)": "lower", "train acc": "higher", "R1 in training": "higher"}
DATASET_WORDS = DATASET_LABELS | {"all": "all (no data)"}
SIZE_LABELS = {
    "as_claimed": "as claimed",
    "smaller": "smaller than claimed",
    "larger": "larger than claimed",
    "inconclusive": "size not settled",
    "untestable": "no size to compare",
}


def reads(c: Claim) -> str:
    """The row in words, direction and size together, so that "the direction holds but the
    effect is far smaller than the paper's" cannot pass for a success."""
    if c.verdict == "untestable":
        return "not tested"
    if c.kind not in ("direction", "size"):
        return {"supported": "holds", "contradicted": "does not hold", "inconclusive": "cannot tell"}[c.verdict]
    direction = {
        "supported": "the claimed direction",
        "contradicted": "the opposite direction",
        "inconclusive": "direction not settled",
    }[c.verdict]
    size = {
        "as_claimed": "the paper's size",
        "smaller": "smaller than the paper's",
        "larger": "larger than the paper's",
        "inconclusive": "size not settled",
    }.get(c.size)
    return f"{direction}; {size}" if size else direction


def headline(c: Claim) -> str:
    """The call a row's colour shows: a size claim's size where the paper gives one, else the
    verdict."""
    if c.kind == "size" and c.size not in ("", "untestable"):
        return {"as_claimed": "supported", "smaller": "contradicted", "larger": "contradicted"}.get(
            c.size, "inconclusive"
        )
    return c.verdict


def _rows(claims: list[Claim]) -> str:
    rows = []
    for c in claims:
        interval = "—" if c.ci_low is None else f"[{c.ci_low:.2f}, {c.ci_high:.2f}]"
        paper = _number(c.paper)
        if c.kind == "curve":  # Figure 5 has no numbers: its direction
            paper = f"<small>{CURVE_SIDES.get(c.metric, '')}</small>"
        if c.paper is not None and c.paper_dataset and c.paper_dataset != c.dataset:
            paper += f" <small>({esc(DATASET_LABELS.get(c.paper_dataset, c.paper_dataset))})</small>"
        words = VERDICT_WORDS.get(GROUPS.get(c.kind, "comparison"), {}).get(c.verdict, UNTESTABLE)
        size = (
            f'<td class="size verdict-{esc(headline(c) if c.kind == "size" else "none")}" '
            f'title="{esc(SIZE_WORDS.get(c.size, ""))}">{esc(SIZE_LABELS.get(c.size, ""))}</td>'
        )
        adjusted = c.verdict_adjusted + (f" / {SIZE_LABELS[c.size_adjusted]}" if c.size_adjusted in SIZE_LABELS else "")
        rows.append(
            f'<tr class="verdict-{esc(headline(c))}" data-kind="{esc(c.kind)}"><td>{esc(c.claim_id)}</td>'
            f"<th>{esc(c.claim)}</th><td>{esc(DATASET_WORDS.get(c.dataset, c.dataset))}</td><td>{esc(c.metric)}</td>"
            f"<td>{paper}</td><td>{_number(c.ours)}</td><td>{interval}</td>"
            f'<td class="verdict" title="{esc(words)}">{esc(c.verdict)}</td>{size}'
            f'<td class="reads">{esc(reads(c))}</td><td class="adjusted">{esc(adjusted)}</td>'
            f'<td>{esc(c.seeds)}</td><td class="note">{esc(c.interval)}{"; " if c.interval and c.note else ""}'
            f"{esc(c.note)}</td></tr>"
        )
    return "".join(rows)


HEAD = (
    "<thead><tr><th>claim</th><th>what</th><th>dataset</th><th>metric</th><th>paper</th><th>ours</th>"
    '<th title="a 95% interval where the next-to-last column says so; a range or an exact count for C5">'
    "interval</th><th>verdict</th><th>size</th><th>reads</th>"
    "<th title=\"the verdict (and size) after Holm's adjustment over the dataset's tests\">adjusted</th>"
    "<th>seeds</th><th>interval counts; note</th></tr></thead>"
)


def chance_paragraph(claims: list[Claim]) -> str:
    """How many verdicts the page makes, how many false calls chance alone would give, and how
    many calls survive the family-wise adjustment."""
    made = [c for c in claims if c.verdict != "untestable"]
    tests = statistical_tests(claims)
    calls = [(c, col) for c, col in tests if getattr(c, col) in CALLS]
    kept = [(c, col) for c, col in calls if getattr(c, f"{col}_adjusted") in CALLS]
    families = len({c.dataset for c, _ in tests})
    return (
        f'<p id="chance"><b>Many verdicts at once.</b> This page judges {len(made)} rows; {len(tests)} of their '
        f"verdicts and sizes are statistical tests at the 5% level (the others are exact counts, ranges or "
        f"one-seed rows with no call). If none of the tested effects were real, chance alone would still make "
        f"about {0.05 * len(tests):.1f} of them a call (5% each). {len(calls)} calls were made; "
        f"{len(kept)} of them survive Holm's adjustment, which keeps the chance of even one false call at 5% "
        f"within each of the {families} dataset{'s' if families != 1 else ''} tested (the <i>adjusted</i> "
        "column; <code>verdict_adjusted</code> and <code>size_adjusted</code> in claims.csv).</p>"
    )


def claims_table(
    claims: list[Claim], specs: list[ClaimSpec] | None = None, tolerance: float = TOLERANCE, margin: float = COST_MARGIN
) -> str:
    """The claims, one row per claim, dataset and metric, verdicts colour-coded and in words; the
    datasets that this run did not have are folded into one line."""
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
    listed = "".join(
        f"<li><b>{esc(s.claim_id)}</b> ({esc(s.kind)}{'' if s.source == 'the paper' else ', ' + esc(s.source)}): "
        f"{esc(s.words)}</li>"
        for s in _unique_words(specs or [])
    )
    band = f"±{tolerance:g}"
    legend = (
        '<ul class="legend">'
        f'<li><span class="verdict-supported">supported</span> / <span class="verdict-contradicted">contradicted'
        f'</span> / <span class="verdict-inconclusive">inconclusive</span>, for a comparison (C1-C3, C6): the '
        "whole 95% interval of A − B lies on the claim's side of zero / on the other side / it holds zero. For "
        f"an absolute number (C4): the whole interval of ours − paper lies within {band} points / wholly beyond "
        f"{band} on one side / neither. For C5: more parameters (an exact count), and FLOPs and latency at most "
        f"+{margin:g}% (our margin, not the paper's; FLOPs: the range between two counters; latency: a bootstrap "
        "of one session's timed runs, not a 95% interval).</li>"
        f"<li><b>size</b> (comparisons of accuracy): <i>as claimed</i>: the whole interval of ours − paper lies "
        f"within {band} points of the paper's difference; <i>smaller</i> / <i>larger than claimed</i>: it lies "
        f"wholly beyond {band} on that side (a supported direction can still be far smaller than the paper's); "
        "<i>size not settled</i>: neither; <i>no size to compare</i>: the paper has no number on this dataset. "
        'C2 says "by a wide margin": it is judged by its size first, and its row is coloured by it.</li>'
        "<li><b>reads</b> puts the direction and the size in one phrase; <b>no call on one seed</b>: with fewer "
        "than two seeds on either side the verdict and the size read inconclusive and the note says why.</li>"
        f'<li><span class="verdict-untestable">untestable</span>: {UNTESTABLE}.</li></ul>'
    )
    return (
        '<div id="claims"><h2>The paper\'s claims</h2>'
        f'<ul class="claim-list">{listed}</ul>'
        "<p>For a comparison, <i>paper</i> and <i>ours</i> are differences A − B in percentage points (for C5, "
        "percent more cost; for C6, only the side Figure 5 shows); for C4 they are the metric itself. The "
        "claims are data: the paper's in <code>reid/resources/claims.yaml</code>, your own in the config's "
        "<code>claims.declared</code>. Also in <code>claims.csv</code> beside this page.</p>"
        f"{legend}{chance_paragraph(claims)}"
        f'<div class="scroll"><table id="claims-table">{HEAD}<tbody>{_rows(shown)}</tbody></table>{folded}</div>'
        f'<p class="method"><b>How the intervals are made.</b> {esc(METHOD)}</p></div>'
    )


def _unique_words(specs: list[ClaimSpec]) -> list[ClaimSpec]:
    """One line per claim id (C1's two entries share one line, their words joined)."""
    seen: dict[str, ClaimSpec] = {}
    for s in specs:
        seen.setdefault(s.claim_id, s)
    return list(seen.values())


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
