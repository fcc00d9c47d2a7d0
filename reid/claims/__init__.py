"""What the suite concludes about each of the paper's claims: the paper's value, ours, a 95%
interval and a verdict (supported | contradicted | inconclusive | untestable).

    C1-C4  accuracy (Table 2), from the evaluations' per-query scores   reid.claims.accuracy
    C5     cost (Table 4), from the profiles                            reid.claims.cost
    C6     the training curves (Figure 5), from the training logs       reid.claims.curves

Each module's docstring says how its verdicts are made.
"""

from __future__ import annotations

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
from reid.claims.claim import CSV_COLUMNS, NOT_SUPPLIED, VERDICTS, Claim, write_claims_csv
from reid.claims.cost import cost_claims
from reid.claims.curves import curve_claims
from reid.variants import TRAINING_READINGS

__all__ = [
    "CSV_COLUMNS",
    "DISTANCE_READINGS",
    "NOT_SUPPLIED",
    "READING_WORDS",
    "TRAINING_READINGS",
    "VERDICTS",
    "Claim",
    "Scores",
    "Sensitivity",
    "cost_claims",
    "curve_claims",
    "load_scores",
    "paper_claims",
    "run_folder",
    "sensitivity",
    "write_claims_csv",
]
