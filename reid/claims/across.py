"""Whether a comparison claim holds beyond the dataset it was made on.

Two readings, both from data that the run has, never from the paper's numbers:

- **cross-dataset rows.** ``snakemake cross`` evaluates every model trained on one dataset of
  the config on each other one (results/cross/<trained on>/<evaluated on>/<run>/seed<N>/). A
  comparison claim (kinds direction and size: C1, C2 and a user's own) is judged there as on
  any dataset, with the evaluated set's identities as the unit, under the name
  "<trained on>→<evaluated on>". The paper has no numbers there, so only the direction is
  tested. Each such name is its own family in Holm's adjustment, as each dataset is.
- **across datasets.** Each comparison, per metric, is summed up over every dataset and
  cross-dataset pair where it was tested: it *holds across datasets* when its adjusted verdict
  is supported on every one of them (at least two); it is *contradicted* on those where the
  opposite was shown; otherwise it is *not shown everywhere*, naming where the test could not
  tell. A claim tested on one dataset only gets no such reading.

  The verdicts summed up are the Holm-adjusted ones, each controlled within its own dataset or
  pair. "Holds" needs a call on every one of them, so it is no easier to reach than any one
  call; "contradicted" needs a call on any one, and with many datasets the chance that one of
  them is a false call adds up: the page says so beside the table.
"""

from __future__ import annotations

from pathlib import Path

from reid.claims.accuracy import comparison_claim, load_scores
from reid.claims.claim import Claim
from reid.claims.declared import ClaimSpec
from reid.targets import CROSS_DIR

ARROW = "→"
COMPARISON_KINDS = ("direction", "size")
ACROSS_WORDS = {
    "holds": "holds across datasets",
    "contradicted": "contradicted on some",
    "open": "not shown everywhere",
}


def cross_label(trained_on: str, evaluated_on: str) -> str:
    """Return the dataset name under which a cross-dataset row is judged and shown."""
    return f"{trained_on}{ARROW}{evaluated_on}"


def cross_pairs(results_dir: str | Path, datasets: list[str]) -> list[tuple[str, str]]:
    """Return the (trained on, evaluated on) pairs of the config's datasets that have cross-dataset
    results, in the config's order."""
    root = Path(results_dir, CROSS_DIR)
    return [(a, b) for a in datasets for b in datasets if a != b and (root / a / b).is_dir()]


def cross_claims(
    results_dir: str | Path, datasets: list[str], runs: list[str], specs: list[ClaimSpec], tolerance: float
) -> list[Claim]:
    """Judge every comparison claim whose runs were evaluated across datasets, one row per pair,
    comparison and metric."""
    claims = []
    for trained_on, evaluated_on in cross_pairs(results_dir, datasets):
        folder = Path(results_dir, CROSS_DIR, trained_on, evaluated_on)
        loaded = {run: load_scores(folder / run) if (folder / run).is_dir() else None for run in runs}
        label = cross_label(trained_on, evaluated_on)
        for spec in (s for s in specs if s.kind in COMPARISON_KINDS):
            for a, b in spec.pairs():
                if a not in runs or b not in runs:  # Re-ranking is not part of the cross-dataset evaluations.
                    continue
                for metric in spec.metrics:
                    claim = comparison_claim(spec, a, b, metric, label, loaded, tolerance)
                    claim.add_note(f"trained on {trained_on}, evaluated on {evaluated_on}")
                    claims.append(claim)
    return claims


def across_datasets(claims: list[Claim]) -> list[dict]:
    """Sum up each comparison, per metric, over the datasets and pairs where it was tested (see
    the module docstring); only comparisons tested on two or more get a row."""
    groups: dict[tuple[str, str, str], list[Claim]] = {}
    for c in claims:
        if c.kind in COMPARISON_KINDS and c.verdict != "untestable":
            groups.setdefault((c.claim_id, c.claim, c.metric), []).append(c)
    rows = []
    for (claim_id, what, metric), tested in groups.items():
        if len(tested) < 2:
            continue
        verdicts = {c.dataset: c.verdict_adjusted or c.verdict for c in tested}
        against = [d for d, v in verdicts.items() if v == "contradicted"]
        untold = [d for d, v in verdicts.items() if v != "supported" and d not in against]
        if against:
            reading, where = "contradicted", against
        elif untold:
            reading, where = "open", untold
        else:
            reading, where = "holds", []
        rows.append(
            {
                "claim_id": claim_id,
                "claim": what,
                "metric": metric,
                "verdicts": verdicts,
                "reading": reading,
                "words": ACROSS_WORDS[reading] + (f" ({', '.join(where)})" if where else ""),
            }
        )
    return rows
