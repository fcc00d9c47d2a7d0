"""Intervals that count both sources of uncertainty in a re-ID result: the seeds and the queries.

A metric of a variant (mAP, R1) is the mean over queries of a per-query score (AP; a first-rank
hit), and a variant is trained with several seeds. Two things make the number move:
- training randomness (another seed gives another model), and
- the finite test set (other queries from the same population give another mean).
The queries are shared by every model, so a seed-level t-interval alone misses the second
source, and a bootstrap over queries alone misses the first.

The method (``difference_interval``, ``mean_interval``): for each variant, a seeds x queries
table ``X[s, q]`` of per-query scores, read as ``X = mu + a(q) + b(s) + e(s, q)`` (query
effect, seed effect, their interaction). The mean difference ``D = mean(X_A) - mean(X_B)``
has the variance

    Var(D) = var(M_A) / S_A + var(M_B) / S_B + max(0, var_q(d) / Q - (v_A / S_A + v_B / S_B) / Q)

where ``M_v`` are the per-seed metrics (their spread holds the seed effect and the
interaction), ``d`` the per-query differences of the seed-averaged scores (their spread holds
the query effect, plus the interaction once more, which ``v_v``, the two-way residual mean
square of each table, takes out again). The 95% interval is ``D +- t * sqrt(Var(D))`` with
Welch-Satterthwaite degrees of freedom (S_A - 1 and S_B - 1 for the seed parts, Q - 1 for the
query part). With one seed the seed part cannot be estimated: the interval is then the query
part alone and says so (``seed_spread_known`` is False). tests/test_stats.py checks the
coverage by simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    seeds: tuple[int, ...]  # seeds per variant (one entry for a mean, two for a difference)
    queries: int
    df: float
    seed_spread_known: bool  # False with a single seed: the interval is the query part only

    def verdict(self, paper_side: float = 1.0) -> str:
        """supported: the whole interval on the paper's side of zero (``paper_side`` > 0: above);
        contradicted: the whole interval on the other side; inconclusive: it contains zero."""
        low, high = (self.low, self.high) if paper_side > 0 else (-self.high, -self.low)
        if low > 0:
            return "supported"
        if high < 0:
            return "contradicted"
        return "inconclusive"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def _table(scores) -> np.ndarray:
    table = np.asarray(scores, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 2:
        raise ValueError(f"expected a seeds x queries table of per-query scores, got shape {table.shape}")
    return table


def _residual_mean_square(table: np.ndarray) -> float:
    """The two-way (seeds x queries) interaction mean square; 0 with one seed (not estimable)."""
    s, q = table.shape
    if s < 2:
        return 0.0
    resid = table - table.mean(1, keepdims=True) - table.mean(0, keepdims=True) + table.mean()
    return float((resid**2).sum() / ((s - 1) * (q - 1)))


def _interval(
    estimate: float,
    seed_parts: list[tuple[float, int]],
    query_part: float,
    queries: int,
    seeds: tuple[int, ...],
    level: float,
) -> Interval:
    known = all(s > 1 for s in seeds)
    terms = [(v, s - 1) for v, s in seed_parts if s > 1] + [(query_part, queries - 1)]
    var = sum(v for v, _ in terms)
    denom = sum(v * v / df for v, df in terms if df > 0)
    df = var * var / denom if denom > 0 else float("inf")
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, df)) * np.sqrt(var) if var > 0 else 0.0
    return Interval(float(estimate), float(estimate - half), float(estimate + half), seeds, queries, float(df), known)


def mean_interval(scores, level: float = LEVEL) -> Interval:
    """The interval of a variant's metric (the mean of a seeds x queries table of per-query scores)."""
    x = _table(scores)
    s, q = x.shape
    per_seed = x.mean(1)
    seed_part = float(per_seed.var(ddof=1)) / s if s > 1 else 0.0
    query_part = max(0.0, float(x.mean(0).var(ddof=1)) / q - _residual_mean_square(x) / (s * q))
    return _interval(x.mean(), [(seed_part, s)], query_part, q, (s,), level)


def difference_interval(scores_a, scores_b, level: float = LEVEL, paired: bool = False) -> Interval:
    """The interval of ``metric(A) - metric(B)`` from their seeds x queries tables (the same
    queries in the same order). Seeds are independent trainings (any number each), unless
    ``paired``: row s of both tables comes from the same model (e.g. with and without
    re-ranking), and the difference table is then one variant's table."""
    a, b = _table(scores_a), _table(scores_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two tables hold different queries ({a.shape[1]} and {b.shape[1]} columns)")
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired tables must have the same seeds: {a.shape[0]} and {b.shape[0]} rows")
        return mean_interval(a - b, level)
    (sa, q), sb = a.shape, b.shape[0]
    parts = [(float(x.mean(1).var(ddof=1)) / n if n > 1 else 0.0, n) for x, n in ((a, sa), (b, sb))]
    d = a.mean(0) - b.mean(0)
    interaction = (_residual_mean_square(a) / sa + _residual_mean_square(b) / sb) / q
    query_part = max(0.0, float(d.var(ddof=1)) / q - interaction)
    return _interval(a.mean() - b.mean(), parts, query_part, q, (sa, sb), level)


def seed_difference_interval(values_a, values_b, level: float = LEVEL) -> Interval | None:
    """The Welch t-interval of ``mean(A) - mean(B)`` from one number per seed and variant (e.g.
    a training curve's mean), for results with no per-query part; None unless both variants
    have at least two seeds (with one, the seed-to-seed spread is unknown)."""
    a, b = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return None
    parts = [(float(x.var(ddof=1)) / len(x), len(x)) for x in (a, b)]
    return _interval(a.mean() - b.mean(), parts, 0.0, 1, (len(a), len(b)), level)
