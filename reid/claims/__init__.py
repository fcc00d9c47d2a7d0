"""What the suite concludes about each claim: the paper's value, ours, a 95% interval (or what
the figure is, where it is not one) and verdicts (supported | contradicted | inconclusive |
untestable; for comparisons also a size: as_claimed | smaller | larger | inconclusive |
untestable), each also after a family-wise adjustment.

The claims are data (reid.claims.declared): the paper's in reid/resources/claims.yaml, a
user's own in the config's ``claims.declared``. Each kind is judged by one module:

    direction, size, absolute  accuracy, from the evaluations' per-query scores   reid.claims.accuracy
    cost                       Table 4's, from the costs measured                  reid.claims.cost
    curve                      Figure 5's, from the training logs                  reid.claims.curves

A comparison is also judged on the cross-dataset evaluations, and summed up over every
dataset where it was tested (reid.claims.across). Each module's docstring says how its
verdicts are made; ``judge`` runs them all, and ``judge_run`` adds the readings' sensitivity
table and the summary across datasets: everything the claims step
(``python -m reid claims``) decides about a run, which ``write_claims`` writes as
report/claims.csv and report/claims.json (reid.claims.judged). The report reads that record and
only renders it.
"""

from __future__ import annotations

from pathlib import Path

from reid.claims.accuracy import (
    DISTANCE_READINGS,
    READING_WORDS,
    Scores,
    Sensitivity,
    load_scores,
    paper_claims,
    run_folder,
    sensitivity,
)
from reid.claims.across import across_datasets, cross_claims
from reid.claims.claim import (
    CSV_COLUMNS,
    NOT_SUPPLIED,
    VERDICTS,
    Claim,
    adjust_family_wise,
    statistical_tests,
    write_claims_csv,
)
from reid.claims.cost import cost_claims
from reid.claims.curves import curve_claims
from reid.claims.declared import ACCURACY_KINDS, ClaimSpec, claim_settings, claim_specs
from reid.claims.judged import JudgedClaims, read_judged, write_judged
from reid.stats import SIZES
from reid.variants import TRAINING_READINGS, table_rows


def judge(
    results_dir: str | Path,
    config: dict,
    datasets: list[str],
    variants: list[str],
    specs: list[ClaimSpec] | None = None,
) -> list[Claim]:
    """Judge every claim of the paper and of the config on what ``results_dir`` holds, and fill in
    the family-wise adjusted verdicts. The caller passes ``specs`` if it has read them already."""
    specs = claim_specs(config) if specs is None else specs
    tolerance, margin = claim_settings(config)
    claims = (
        paper_claims(results_dir, datasets, table_rows(variants), specs=specs, tolerance=tolerance)
        + cross_claims(results_dir, datasets, list(variants), specs, tolerance)
        + cost_claims(results_dir, variants, specs, margin)
        + curve_claims(results_dir, datasets, specs)
    )
    adjust_family_wise(claims)
    return claims


def judge_run(results_dir: str | Path, config: dict) -> JudgedClaims:
    """Judge every claim on a (completed) config's run, with each accuracy claim's verdict under
    each reading of the paper (the sensitivity table), because that is what the report shows."""
    datasets, variants = list(config["datasets"]), config["variants"]
    specs, (tolerance, margin) = claim_specs(config), claim_settings(config)
    claims = judge(results_dir, config, datasets, variants, specs)  # The claims file is read and validated once here.
    accuracy = [c for c in claims if c.kind in ACCURACY_KINDS]
    readings = sensitivity(results_dir, datasets, table_rows(variants), own=accuracy, specs=specs, tolerance=tolerance)
    return JudgedClaims(claims, readings, specs, tolerance, margin, across_datasets(claims))


def write_claims(judged: JudgedClaims, csv_path: str | Path, json_path: str | Path) -> None:
    """Write the claims step's two files: claims.csv for readers, and the full record for the report."""
    write_claims_csv(judged.claims, csv_path)
    write_judged(judged, json_path)


__all__ = [
    "ACCURACY_KINDS",
    "CSV_COLUMNS",
    "DISTANCE_READINGS",
    "NOT_SUPPLIED",
    "READING_WORDS",
    "SIZES",
    "TRAINING_READINGS",
    "VERDICTS",
    "Claim",
    "ClaimSpec",
    "JudgedClaims",
    "Scores",
    "Sensitivity",
    "across_datasets",
    "adjust_family_wise",
    "claim_settings",
    "claim_specs",
    "cost_claims",
    "cross_claims",
    "curve_claims",
    "judge",
    "judge_run",
    "load_scores",
    "paper_claims",
    "read_judged",
    "run_folder",
    "sensitivity",
    "statistical_tests",
    "write_claims",
    "write_claims_csv",
    "write_judged",
]
