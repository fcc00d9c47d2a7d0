"""Intervals that count both sources of uncertainty in a re-ID result: the seeds and the test
identities.

A metric of a variant (mAP, R1) is the mean over queries of a per-query score (AP; a first-rank
hit), and a variant is trained with several seeds. Two things make the number move:
- training randomness (another seed gives another model), and
- the finite test set (other people from the same population give another mean).
The queries are shared by every model, so a seed-level t-interval alone misses the second
source, and a bootstrap over queries alone misses the first.

**The unit of the test set is the identity, not the query.** Market-1501 has 3,368 queries of
750 people: the queries of one person share their clothes, their background and how hard
they are, and one variant's advantage over another differs from person to person. Queries
of one person are therefore correlated, and treating them as independent makes the query
part of an interval too narrow (in simulation, a 95% interval covered 87% of the time and a
zero effect was called 13% of the time). Here the queries are clustered by identity: what
varies from one test set to another is which people are in it.

The method (``difference_interval``, ``mean_interval``): for each variant, a seeds x queries
table ``X[s, q]`` of per-query scores, read as ``X = mu + a(q) + b(s) + e(s, q)`` (the test
set's effect, the seed's effect, their interaction; ``a`` and ``e`` may be correlated within an
identity). The mean difference ``D = mean(X_A) - mean(X_B)`` has the variance

    Var(D) = var(M_A) / S_A + var(M_B) / S_B + (identity part)

where ``M_v`` are the per-seed metrics (their spread holds the seed effect and the
interaction) and the identity part is the cluster-robust variance of the mean of ``d``, the
per-query differences of the seed-averaged scores: ``G / (G - 1) * sum_g C_g^2 / Q^2`` with
``C_g`` the sum of ``d - mean(d)`` over identity g's queries (G identities, Q queries). That
part holds the interaction once more, which is taken out again: per seed, the two-way
residuals of the table summed per identity, squared, summed, over ``S - 1``, divided by
``S * Q^2``. The 95% interval is ``D +- t * sqrt(Var(D))`` with Welch-Satterthwaite degrees of
freedom (S_A - 1 and S_B - 1 for the seed parts, G - 1 for the identity part). Without
clusters every query is its own identity: the query-level method this replaced, kept for the
simulation that shows why it was replaced (tests/test_stats.py).

**No call on one seed.** With one seed the seed part cannot be estimated, and an interval of
the identities alone misses the seed-to-seed spread (in simulation it called a zero effect
20-58% of the time). Such an interval says so (``seed_spread_known`` is False), and its
``verdict`` and ``size`` are always ``inconclusive``.

A known limit, measured by simulation: an interval of one table (``mean_interval``, and a
paired difference such as re-ranking against the same models) with three seeds covers 92-94%
instead of 95% when the seed part dominates and the identity part is 5-100% of it (the
Welch-Satterthwaite degrees of freedom are then too generous to a two-degree seed part); with
either part dominant it covers 95%. Differences of two independently trained variants cover
95-96% throughout.

Two questions are asked of an interval of a difference (``verdict`` and ``size``): which
side of zero it lies on (the direction), and whether it agrees with a value within a band of
``+-tolerance`` (the size: an equivalence test). Each call comes with the p-value of the test
that makes it (``p_value``), so that the many calls of one report can be adjusted together
(``holm``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

LEVEL = 0.95
ALPHA = 1 - LEVEL
DIRECTIONS = ("supported", "contradicted", "inconclusive")
SIZES = ("as_claimed", "smaller", "larger", "inconclusive", "untestable")


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    # The seeds per variant have one entry for a mean and two for a difference.
    seeds: tuple[int, ...]
    queries: int
    df: float
    # This is False with a single seed on either side, and then no call is made.
    seed_spread_known: bool
    # The standard error behind the interval is the half-width over t.
    se: float = 0.0
    # These are the clusters of the test set, and 0 means that it is not clustered.
    identities: int = 0

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def _tail(self, t: float) -> float:
        """Return P(T > t) for the interval's t distribution."""
        return float(_scipy_stats.t.sf(t, self.df))

    def _one_sided(self, value: float, above: bool) -> float:
        """Return the p-value of "the truth lies above ``value``" (``above``) or below it. It is doubled
        so that it is below 0.05 exactly when the 95% two-sided interval lies wholly on that side."""
        if self.se <= 0:
            inside = self.estimate > value if above else self.estimate < value
            return 0.0 if inside else 1.0
        t = (self.estimate - value) / self.se
        return min(1.0, 2 * self._tail(t if above else -t))

    def verdict(self, paper_side: float = 1.0) -> str:
        """Call the direction of the difference. It is supported when the whole interval lies on the
        paper's side of zero (``paper_side`` > 0 means above), contradicted when the whole interval
        lies on the other side, and inconclusive when it contains zero or when the seed-to-seed
        spread is unknown (one seed)."""
        if not self.seed_spread_known:
            return "inconclusive"
        low, high = (self.low, self.high) if paper_side > 0 else (-self.high, -self.low)
        if low > 0:
            return "supported"
        if high < 0:
            return "contradicted"
        return "inconclusive"

    def direction_p(self) -> float:
        """Return the two-sided p-value of "no difference", which is below 0.05 exactly when ``verdict`` calls one."""
        return min(self._one_sided(0.0, True), self._one_sided(0.0, False))

    def band(self, claimed: float, tolerance: float) -> tuple[str, float]:
        """Say where the interval of (truth - ``claimed``) lies against the band +-``tolerance``, and
        return the p-value of that call. The interval lies wholly "inside" the band, wholly "below"
        or "above" it, or "neither". Each p-value is below 0.05 exactly when the call is made, and
        the call "inside" takes two one-sided tests."""
        above_low = self._one_sided(claimed - tolerance, True)
        below_high = self._one_sided(claimed + tolerance, False)
        low, high = self.low - claimed, self.high - claimed
        if -tolerance < low and high < tolerance:
            return "inside", max(above_low, below_high)
        if high < -tolerance:
            return "below", self._one_sided(claimed - tolerance, False)
        if low > tolerance:
            return "above", self._one_sided(claimed + tolerance, True)
        return "neither", min(1.0, max(above_low, below_high))

    def size(self, claimed: float | None, tolerance: float, paper_side: float = 1.0) -> tuple[str, float | None]:
        """Say whether the difference agrees with ``claimed`` within +-``tolerance``, and return the
        p-value of the call. It is as_claimed when the whole interval of (ours - claimed) lies
        inside the band. It is smaller or larger when the interval lies wholly beyond the band on
        one side, and smaller means less far in the claim's direction (``paper_side``). It is
        inconclusive otherwise or with one seed, and untestable when there is no claimed value."""
        if claimed is None:
            return "untestable", None
        where, p = self.band(claimed, tolerance)
        if not self.seed_spread_known:
            return "inconclusive", None
        toward = paper_side > 0
        words = {"inside": "as_claimed", "below": "smaller" if toward else "larger"}
        words["above"] = "larger" if toward else "smaller"
        return words.get(where, "inconclusive"), p


def _table(scores) -> np.ndarray:
    table = np.asarray(scores, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 2:
        raise ValueError(f"expected a seeds x queries table of per-query scores, got shape {table.shape}")
    return table


def _clusters(clusters, queries: int) -> tuple[np.ndarray, int]:
    """Return each query's cluster index (0..G-1) and G; without clusters, each query is its own cluster."""
    if clusters is None:
        return np.arange(queries), queries
    labels = np.asarray(clusters).reshape(-1)
    if len(labels) != queries:
        raise ValueError(f"{len(labels)} cluster labels for {queries} queries")
    _, index = np.unique(labels, return_inverse=True)
    return index, int(index.max()) + 1 if len(index) else 0


def _cluster_sums(values: np.ndarray, index: np.ndarray, groups: int) -> np.ndarray:
    """Return the sums of ``values`` (rows x queries, or queries) over each cluster's queries."""
    if values.ndim == 1:
        return np.bincount(index, weights=values, minlength=groups)
    return np.stack([np.bincount(index, weights=row, minlength=groups) for row in values])


def _interaction(table: np.ndarray, index: np.ndarray, groups: int) -> float:
    """Return how much the seed-by-query interaction adds to the identity part, times S * Q^2.
    It is the two-way residuals summed per identity, squared and summed, over S - 1; with one
    seed it cannot be estimated, so it is 0."""
    s = table.shape[0]
    if s < 2:
        return 0.0
    resid = table - table.mean(1, keepdims=True) - table.mean(0, keepdims=True) + table.mean()
    return float((_cluster_sums(resid, index, groups) ** 2).sum() / (s - 1))


def _identity_part(d: np.ndarray, tables: list[np.ndarray], index: np.ndarray, groups: int) -> float:
    """Return the cluster-robust variance of mean(d), less the interaction that the seed parts already hold."""
    q = len(d)
    if groups < 2:
        return 0.0
    raw = groups / (groups - 1) * float((_cluster_sums(d - d.mean(), index, groups) ** 2).sum())
    interaction = sum(_interaction(t, index, groups) / t.shape[0] for t in tables)
    return max(0.0, raw - interaction) / (q * q)


def _interval(
    estimate: float,
    seed_parts: list[tuple[float, int]],
    identity_part: float,
    identity_df: int,
    seeds: tuple[int, ...],
    queries: int,
    identities: int,
    level: float,
) -> Interval:
    known = all(s > 1 for s in seeds)
    terms = [(v, s - 1) for v, s in seed_parts if s > 1] + [(identity_part, identity_df)]
    var = sum(v for v, _ in terms)
    denom = sum(v * v / df for v, df in terms if df > 0)
    df = var * var / denom if denom > 0 else float("inf")
    se = float(np.sqrt(var)) if var > 0 else 0.0
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, df)) * se if se > 0 else 0.0
    return Interval(
        float(estimate),
        float(estimate - half),
        float(estimate + half),
        seeds,
        queries,
        float(df),
        known,
        se,
        identities,
    )


def mean_interval(scores, clusters=None, level: float = LEVEL) -> Interval:
    """Return the interval of a variant's metric, which is the mean of a seeds x queries table of
    per-query scores. ``clusters`` gives each query's identity, and None makes every query its own."""
    x = _table(scores)
    s, q = x.shape
    index, groups = _clusters(clusters, q)
    seed_part = float(x.mean(1).var(ddof=1)) / s if s > 1 else 0.0
    identity_part = _identity_part(x.mean(0), [x], index, groups)
    return _interval(
        x.mean(), [(seed_part, s)], identity_part, groups - 1, (s,), q, groups if clusters is not None else 0, level
    )


def difference_interval(scores_a, scores_b, clusters=None, level: float = LEVEL, paired: bool = False) -> Interval:
    """Return the interval of ``metric(A) - metric(B)`` from their seeds x queries tables, which
    must hold the same queries in the same order. ``clusters`` gives each query's identity, and
    None makes every query its own. Seeds are independent trainings (any number each) unless
    ``paired`` is set: then row s of both tables comes from the same model (e.g. with and without
    re-ranking), and the difference table is one variant's table."""
    a, b = _table(scores_a), _table(scores_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two tables hold different queries ({a.shape[1]} and {b.shape[1]} columns)")
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired tables must have the same seeds: {a.shape[0]} and {b.shape[0]} rows")
        return mean_interval(a - b, clusters, level)
    (sa, q), sb = a.shape, b.shape[0]
    index, groups = _clusters(clusters, q)
    parts = [(float(x.mean(1).var(ddof=1)) / n if n > 1 else 0.0, n) for x, n in ((a, sa), (b, sb))]
    identity_part = _identity_part(a.mean(0) - b.mean(0), [a, b], index, groups)
    return _interval(
        a.mean() - b.mean(),
        parts,
        identity_part,
        groups - 1,
        (sa, sb),
        q,
        groups if clusters is not None else 0,
        level,
    )


def seed_difference_interval(values_a, values_b, level: float = LEVEL) -> Interval | None:
    """Return the Welch t-interval of ``mean(A) - mean(B)`` from one number per seed and variant
    (e.g. a training curve's area), for results that have no per-query part. It is None unless
    both variants have at least two seeds, because with one the seed-to-seed spread is unknown."""
    a, b = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return None
    parts = [(float(x.var(ddof=1)) / len(x), len(x)) for x in (a, b)]
    return _interval(a.mean() - b.mean(), parts, 0.0, 0, (len(a), len(b)), 0, 0, level)


def against_published_mean(per_seed, published: float, published_runs: int, level: float = LEVEL) -> Interval | None:
    """Return the interval of ``mean(ours) - published``, where ``published`` is the mean of
    ``published_runs`` runs of the same method on the same test set (the paper's numbers are
    means of three runs). Both sides are means of trainings evaluated on one test set, so the
    interval counts the seed-to-seed spread of both and not query sampling. The paper's spread
    is not published, so it is estimated by ours (one pooled variance, S - 1 degrees of freedom).
    It is None with fewer than two of our seeds."""
    x = np.asarray(per_seed, dtype=np.float64)
    if len(x) < 2 or published_runs < 1:
        return None
    var = float(x.var(ddof=1)) * (1 / len(x) + 1 / published_runs)
    return _interval(x.mean() - published, [(var, len(x))], 0.0, 0, (len(x),), 0, 0, level)


def holm(p_values: list[float], alpha: float = ALPHA) -> list[bool]:
    """Apply Holm's step-down procedure: return which of a family of tests are rejected with a
    family-wise error rate of at most ``alpha``, under any dependence between them."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    m = len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (m - rank):
            break
        rejected[i] = True
    return rejected
