"""The top of the report: what ran, then the paper's claims with their verdicts, in words a
skimming reader will not misread.

The verdicts come judged (the claims step, reid.claims, writes them to report/claims.json);
nothing here judges. Each function returns what its part of the page says, as plain data;
templates/claims.html lays it out.
"""

from __future__ import annotations

from reid.claims import (
    NOT_SUPPLIED,
    READING_WORDS,
    TRAINING_READINGS,
    Claim,
    JudgedClaims,
    Sensitivity,
    statistical_tests,
)
from reid.claims.claim import CALLS
from reid.config import train_config
from reid.paper import DATASET_LABELS, PAPER_DATASETS

# These words say what each verdict means, per kind of claim, for the page's tooltips and legend.
# The rules themselves are in reid/stats.py and reid/claims/.
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
    """Put the row in words, direction and size together, so that "the direction holds but the
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
    """Return the call a row's colour shows: a size claim's size where the paper gives one, else the
    verdict."""
    if c.kind == "size" and c.size not in ("", "untestable"):
        return {"as_claimed": "supported", "smaller": "contradicted", "larger": "contradicted"}.get(
            c.size, "inconclusive"
        )
    return c.verdict


def run_summary(
    config: dict, datasets: list[str], variants: list[str], devices: list[str], job_seconds: float | None
) -> dict:
    """Say what ran (datasets, variants, seeds, epochs, device and the jobs' wall time) and whether
    the run used none of the paper's datasets, since then the page says it tests the suite, not the paper."""
    recipe = train_config(config)
    return {
        "datasets": ", ".join(DATASET_LABELS.get(d, d) for d in datasets) or "none",
        "variants": ", ".join(variants),
        "reranked": "residual" in variants,
        "seeds": ", ".join(str(s) for s in config["seeds"]),
        "recipe": recipe,
        "devices": ", ".join(devices) or "unknown",
        "minutes": None if job_seconds is None else f"{job_seconds / 60:.1f}",
        "suite_only": not any(d in PAPER_DATASETS for d in datasets),
    }


def _paper_cell(c: Claim) -> dict:
    """Fill the paper column with the paper's number, or for a curve (Figure 5 has no numbers) the
    side it shows, and name the dataset the number is from where it is not the row's."""
    from_other = c.paper is not None and c.paper_dataset and c.paper_dataset != c.dataset
    return {
        "number": _number(c.paper),
        "side": CURVE_SIDES.get(c.metric, "") if c.kind == "curve" else None,
        "dataset": DATASET_LABELS.get(c.paper_dataset, c.paper_dataset) if from_other else None,
    }


def claim_row(c: Claim) -> dict:
    """Return one row of the claims table, in the words and numbers the page shows."""
    adjusted = c.verdict_adjusted + (f" / {SIZE_LABELS[c.size_adjusted]}" if c.size_adjusted in SIZE_LABELS else "")
    return {
        "headline": headline(c),
        "kind": c.kind,
        "id": c.claim_id,
        "claim": c.claim,
        "dataset": DATASET_WORDS.get(c.dataset, c.dataset),
        "metric": c.metric,
        "paper": _paper_cell(c),
        "ours": _number(c.ours),
        "interval": "—" if c.ci_low is None else f"[{c.ci_low:.2f}, {c.ci_high:.2f}]",
        "verdict": c.verdict,
        "verdict_words": VERDICT_WORDS.get(GROUPS.get(c.kind, "comparison"), {}).get(c.verdict, UNTESTABLE),
        "size_class": headline(c) if c.kind == "size" else "none",
        "size": SIZE_LABELS.get(c.size, ""),
        "size_words": SIZE_WORDS.get(c.size, ""),
        "reads": reads(c),
        "adjusted": adjusted,
        "seeds": c.seeds,
        "note": "; ".join(x for x in (c.interval, c.note) if x),
    }


def chance(claims: list[Claim]) -> dict:
    """Count the verdicts the page makes, the false calls chance alone would give, and the calls
    that survive the family-wise adjustment."""
    tests = statistical_tests(claims)
    calls = [(c, col) for c, col in tests if getattr(c, col) in CALLS]
    return {
        "rows": sum(c.verdict != "untestable" for c in claims),
        "tests": len(tests),
        "expected": f"{0.05 * len(tests):.1f}",
        "calls": len(calls),
        "kept": sum(getattr(c, f"{col}_adjusted") in CALLS for c, col in calls),
        "families": len({c.dataset for c, _ in tests}),
    }


def claims_section(judged: JudgedClaims) -> dict:
    """Return the claims, one row per claim, dataset and metric; the datasets that this run did not
    have are folded into one line. With the claims' words, the legend's settings and the
    chance paragraph's counts."""
    claims = judged.claims
    ran = {c.dataset for c in claims if c.note != NOT_SUPPLIED}
    absent = sorted({c.dataset for c in claims} - ran)
    statements = {}  # Each claim id gets one line, so C1's two entries share one.
    for s in judged.specs:
        statements.setdefault(s.claim_id, s)
    return {
        "statements": list(statements.values()),
        "band": f"±{judged.tolerance:g}",
        "margin": f"{judged.margin:g}",
        "untestable": UNTESTABLE,
        "chance": chance(claims),
        "rows": [claim_row(c) for c in claims if c.dataset in ran],
        "absent": ", ".join(DATASET_LABELS.get(d, d) for d in absent),
        "absent_rows": [claim_row(c) for c in claims if c.dataset in absent],
        "method": METHOD,
        "across": across_section(judged.across),
    }


def across_section(rows: list[dict]) -> dict | None:
    """Return each comparison's verdict on every dataset (and cross-dataset pair) that tested it,
    with its reading across them (reid.claims.across), or None when none was tested on two."""
    if not rows:
        return None
    places = list(dict.fromkeys(d for r in rows for d in r["verdicts"]))
    return {
        "datasets": [DATASET_LABELS.get(d, d) for d in places],
        "rows": [
            {
                "id": r["claim_id"],
                "claim": r["claim"],
                "metric": r["metric"],
                "verdicts": [r["verdicts"].get(d, "") for d in places],
                "reading": r["reading"],
                "words": r["words"],
            }
            for r in rows
        ],
    }


def sensitivity_section(rows: list[Sensitivity]) -> dict | None:
    """Return each claim's verdict under each reading of the test distance, with a changed verdict
    marked, or None without rows (the page then has no such table)."""
    if not rows:
        return None
    names = list(rows[0].verdicts)
    return {
        "readings": [READING_WORDS[name] for name in names],
        "rows": [
            {
                "id": r.claim.claim_id,
                "claim": r.claim.claim,
                "dataset": DATASET_LABELS.get(r.claim.dataset, r.claim.dataset),
                "metric": r.claim.metric,
                "verdicts": [r.verdicts[n] for n in names],
                "changes": r.changes,
            }
            for r in rows
        ],
        "changed": sum(r.changes for r in rows),
        "untrained": any(name not in names for name in TRAINING_READINGS),
    }
