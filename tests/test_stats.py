"""The intervals of reid/stats.py, proven by simulation: many experiments with a known true
effect, a known seed-to-seed spread and a known test-set structure, in which a 95% interval
must cover the truth 93-97% of the time and a zero effect must be called at most 6% of the time.

Each scenario is simulated 1,000 times (the standard error of a 95% rate is then 0.7 points;
2,000 times for a zero effect's call rate), with fixed random seeds, so the tests are
deterministic. The data of a batch of experiments is
drawn at once, as arrays of experiments x seeds x queries.
"""

import numpy as np
import pytest
from scipy import integrate, special, stats

from reid.stats import (
    Interval,
    against_published_mean,
    difference_interval,
    holm,
    mean_interval,
    seed_difference_interval,
)

EXPERIMENTS = 1000  # per scenario and criterion
# A zero effect's call rate is held to 6% where a right method's is 5%: 1.5 standard errors of
# 1,000 experiments, 2 of 2,000. Its test runs 2,000, so that it cannot pass or fail by chance.
ZERO_EXPERIMENTS = 2000
BATCH = 100  # experiments drawn at once (100 x 3 x 3,368 scores: 8 MB an array)
SEEDS = 3  # per variant, unless a scenario says otherwise

# ------------------------------------------------------------------------------ the test sets


def market_identities(queries=3368, identities=750, seed=0):
    """Each query's identity, Market-1501-like: 3,368 queries of 750 people, 1 to 10 queries a
    person (unequal: the sizes are drawn, then nudged until they add up)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, identities)
    while sizes.sum() != queries:
        i = rng.integers(identities)
        step = 1 if sizes.sum() < queries else -1
        if 1 <= sizes[i] + step <= 10:
            sizes[i] += step
    return np.repeat(np.arange(identities), sizes)


MARKET = market_identities()


# ----------------------------------------------------------------- independent queries (no people)

# (seed spread, query spread, correlation of the two variants' query effects, interaction)
INDEPENDENT = {
    "seeds dominate": (0.02, 0.20, 0.8, 0.10),
    "queries dominate": (0.002, 0.25, 0.3, 0.05),
    "balanced": (0.01, 0.25, 0.6, 0.20),
}


def independent(rng, n, effect, seed_sd, query_sd, rho, noise_sd, seeds=SEEDS, queries=300):
    """n experiments' per-query scores of variants A and B (n x seeds x queries): every query its
    own unit, a query effect shared in part by the two variants, a seed effect and seed-by-query
    noise; mean(A) - mean(B) = ``effect`` in the population."""
    shared = rng.normal(0, query_sd, (n, 1, queries))
    own = rho * shared + np.sqrt(1 - rho**2) * rng.normal(0, query_sd, (n, 1, queries))
    a = 0.5 + effect + shared + rng.normal(0, seed_sd, (n, seeds, 1)) + rng.normal(0, noise_sd, (n, seeds, queries))
    b = 0.5 + own + rng.normal(0, seed_sd, (n, seeds, 1)) + rng.normal(0, noise_sd, (n, seeds, queries))
    return a, b


# -------------------------------------------------------------- identity-clustered queries (Market)

# The parts of a score, as standard deviations: the person (shared by both variants and all
# seeds), the query within the person (shared), each variant's own query effect, how much A's
# advantage over B differs from person to person, the seed, the seed-by-person interaction and
# the seed-by-query noise; ``base`` is the score's centre, ``kind`` how the latent score becomes
# a per-query score: as it is ("linear"), AP clipped to [0, 1] with heavy-tailed (student-t, 3
# degrees of freedom) query effects ("ap"), or a 0/1 first-rank hit of probability
# sigmoid(latent) ("hit": in logits; the draw of the hit is the seed-by-query noise).
_MARKET = dict(kind="linear", base=0.7, person=0.15, query=0.1, own=0.05, advantage=0.1, seed=0.003, seed_person=0.01)
CLUSTERED = {
    "market": {**_MARKET, "noise": 0.05},
    "market, seeds matter": {**_MARKET, "advantage": 0.05, "seed": 0.006, "noise": 0.05},
    "bounded AP": {
        **_MARKET,
        "kind": "ap",
        "base": 0.6,
        "person": 0.3,
        "seed": 0.01,
        "seed_person": 0.02,
        "noise": 0.1,
    },
    "R1 hits": dict(
        kind="hit", base=1.5, person=1.0, query=0.5, own=0.2, advantage=0.5, seed=0.05, seed_person=0.1, noise=0
    ),
}


def clustered(rng, n, effect, p, seeds=(SEEDS, SEEDS), labels=MARKET):
    """n experiments' per-query scores of A and B (n x seeds x queries) on a test set of people
    drawn anew each time (the queries of one person share the person's effect and the person's
    A-over-B advantage), with ``effect`` added to A's latent score and taken from B's, half each."""
    people, queries = labels.max() + 1, len(labels)

    def per_person(sd, rows=1):
        return rng.normal(0, sd, (n, rows, people))[..., labels]

    shared = per_person(p["person"])
    if p["kind"] == "ap":  # heavy tails: a few catastrophic queries
        shared = shared + p["query"] * rng.standard_t(3, (n, 1, queries))
    else:
        shared = shared + rng.normal(0, p["query"], (n, 1, queries))
    advantage = per_person(p["advantage"]) / 2
    tables = []
    for sign, s in ((1, seeds[0]), (-1, seeds[1])):
        latent = (
            p["base"]
            + sign * (effect / 2 + advantage)
            + shared
            + rng.normal(0, p["own"], (n, 1, queries))
            + rng.normal(0, p["seed"], (n, s, 1))
            + per_person(p["seed_person"], s)
            + rng.normal(0, p["noise"], (n, s, queries))
        )
        if p["kind"] == "ap":
            latent = np.clip(latent, 0.0, 1.0)
        elif p["kind"] == "hit":
            latent = (rng.random(latent.shape) < special.expit(latent)).astype(np.float64)
        tables.append(latent)
    return tables


def _normal_sd(p):
    """The standard deviation of the normal part of one variant's latent score."""
    parts = [p["person"], p["own"], p["advantage"] / 2, p["seed"], p["seed_person"], p["noise"]]
    if p["kind"] != "ap":
        parts.append(p["query"])
    return float(np.sqrt(sum(x * x for x in parts)))


def _clipped_mean(m, s):
    """E[clip(Y, 0, 1)] for Y ~ N(m, s^2): the integral of P(Y > y) over [0, 1]."""

    def psi(x):  # an antiderivative of the normal distribution function
        return x * stats.norm.cdf(x) + stats.norm.pdf(x)

    return s * (psi(m / s) - psi((m - 1) / s))


def population_mean(p, shift):
    """The exact population mean of one variant's per-query score (its latent centre moved by
    ``shift``): for AP, the clipped normal's mean integrated over the student-t query effect; for
    hits, the mean of sigmoid(normal) by Gauss-Hermite quadrature; both to ~1e-9."""
    m, s = p["base"] + shift, _normal_sd(p)
    if p["kind"] == "linear":
        return m
    if p["kind"] == "ap":
        value, _ = integrate.quad(lambda t: stats.t.pdf(t, 3) * _clipped_mean(m + p["query"] * t, s), -np.inf, np.inf)
        return value
    x, w = np.polynomial.hermite_e.hermegauss(80)
    return float((w * special.expit(m + s * x)).sum() / np.sqrt(2 * np.pi))


def true_difference(p, effect):
    """The population difference mean(A) - mean(B): exact (0 by symmetry with no effect)."""
    return population_mean(p, effect / 2) - population_mean(p, -effect / 2)


# ------------------------------------------------------------------------------- the scenarios


def _independent_scenario(name):
    def make(rng, n, effect):
        a, b = independent(rng, n, effect, *INDEPENDENT[name])
        return a, b, None, False

    return make, lambda effect: effect


def _clustered_scenario(name):
    p = CLUSTERED[name]

    def make(rng, n, effect):
        a, b = clustered(rng, n, effect, p)
        return a, b, MARKET, False

    return make, lambda effect: true_difference(p, effect)


def _reranking(rng, n, effect, labels=MARKET):
    """Re-ranking: b is the same models (the same rows) scored another way, a gain of ``effect``
    on average that differs from person to person (5 points), a little from model to model (0.1
    point) and from query to query; compared pairwise.

    (A one-table interval of three seeds, paired or mean_interval, whose seed part dominates
    while the people's part is 5-100% of it, covers only 92-94%: the Welch-Satterthwaite degrees
    of freedom of a 2-df part plus a known part. The gain's small model-to-model spread keeps
    this scenario out of that range.)"""
    a, _ = clustered(rng, n, 0.0, CLUSTERED["market"])
    people, queries = labels.max() + 1, len(labels)
    gain = (
        effect
        + rng.normal(0, 0.05, (n, 1, people))[..., labels]
        + rng.normal(0, 0.001, (n, SEEDS, 1))
        + rng.normal(0, 0.03, (n, SEEDS, queries))
    )
    return a, a - gain, labels, True


# name -> (make(rng, n, effect) -> (A, B, clusters, paired), the true difference of an effect,
# the effect whose coverage is tested)
SCENARIOS = {
    **{f"independent: {name}": (*_independent_scenario(name), 0.02) for name in INDEPENDENT},
    "market": (*_clustered_scenario("market"), 0.02),
    "bounded AP": (*_clustered_scenario("bounded AP"), 0.03),
    "R1 hits": (*_clustered_scenario("R1 hits"), 0.2),
    "paired re-ranking": (_reranking, lambda effect: effect, 0.02),
}


def rates(name, effect, seed, clustered_by_identity=True, n=EXPERIMENTS):
    """In n experiments of a scenario: how often the 95% interval of A - B covers the true
    difference, and how often its verdict calls a direction."""
    make, truth_of, _ = SCENARIOS[name]
    truth = truth_of(effect)
    rng = np.random.default_rng(seed)
    covered = called = 0
    for start in range(0, n, BATCH):
        a, b, labels, paired = make(rng, min(BATCH, n - start), effect)
        clusters = labels if clustered_by_identity else None
        for k in range(len(a)):
            iv = difference_interval(a[k], b[k], clusters=clusters, paired=paired)
            covered += iv.contains(truth)
            called += iv.verdict() != "inconclusive"
    return covered / n, called / n


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_interval_covers_the_true_effect_95_percent_of_the_time(name):
    """A 95% interval is what it says: over 1,000 test sets and trainings it holds the true
    difference 93-97% of the time (+-2 points: 2.9 standard errors of the simulation), with
    independent queries, with queries clustered in people whose advantage differs, with bounded
    AP, with 0/1 hits and with paired re-ranking."""
    coverage, _ = rates(name, SCENARIOS[name][2], seed=[1, list(SCENARIOS).index(name)])
    assert 0.93 <= coverage <= 0.97, coverage


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_zero_effect_is_rarely_called(name):
    """A verdict is a test at 5%: when the variants do not differ in the population, the
    interval excludes zero (a direction is called) at most 6% of the time (5%, plus 2 standard
    errors of the simulation's 2,000 experiments)."""
    coverage, called = rates(name, 0.0, seed=[2, list(SCENARIOS).index(name)], n=ZERO_EXPERIMENTS)
    assert called <= 0.06, called
    assert 0.93 <= coverage, coverage  # the truth is 0: covering it is not calling it


def test_the_query_level_method_fails_on_people():
    """Why the test set's unit is the person: on the Market-like test set, treating every query
    as independent (clusters=None, the method this replaced) makes the interval too narrow, as
    one person's queries move together and the advantage differs from person to person; it
    covers the truth less than 90% of the time and calls a zero effect more than 8% of the time."""
    coverage, _ = rates("market", 0.02, seed=3, clustered_by_identity=False)
    assert coverage < 0.90, coverage
    _, called = rates("market", 0.0, seed=4, clustered_by_identity=False)
    assert called > 0.08, called


def test_one_seed_makes_no_call_because_its_interval_would_undercover():
    """With one seed per variant the seed-to-seed spread cannot be estimated: the interval is of
    the test set's people alone (seed_spread_known False), and neither a direction nor a size is
    ever called. Why: that interval misses the seed spread, and covers even a zero effect far
    less often than 95% of the time (it would call it often)."""
    p = CLUSTERED["market, seeds matter"]
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(EXPERIMENTS // BATCH):
        a, b = clustered(rng, BATCH, 0.0, p, seeds=(1, 1))
        for k in range(BATCH):
            iv = difference_interval(a[k], b[k], clusters=MARKET)
            assert not iv.seed_spread_known and iv.seeds == (1, 1)
            assert iv.verdict() == "inconclusive" and iv.verdict(paper_side=-1) == "inconclusive"
            assert iv.size(0.0, 0.015) == ("inconclusive", None)
            covered += iv.contains(0.0)
    assert covered / EXPERIMENTS < 0.85, covered / EXPERIMENTS


def test_three_seeds_of_the_same_set_cover_where_one_seed_does_not():
    """The other side of the previous test: with three seeds the same scenario is covered."""
    p = CLUSTERED["market, seeds matter"]
    rng = np.random.default_rng(6)
    covered = 0
    for _ in range(EXPERIMENTS // BATCH):
        a, b = clustered(rng, BATCH, 0.0, p)
        covered += sum(difference_interval(a[k], b[k], clusters=MARKET).contains(0.0) for k in range(BATCH))
    assert 0.93 <= covered / EXPERIMENTS <= 0.97, covered / EXPERIMENTS


def test_a_seed_level_t_interval_alone_undercovers_when_queries_dominate():
    """What the method is for: the seeds share the queries, so their spread misses the test set's."""
    rng = np.random.default_rng(7)
    a, b = independent(rng, EXPERIMENTS, 0.02, *INDEPENDENT["queries dominate"])
    d = a.mean(2) - b.mean(2)  # experiments x seeds
    half = stats.t.ppf(0.975, SEEDS - 1) * d.std(1, ddof=1) / np.sqrt(SEEDS)
    assert np.mean(np.abs(d.mean(1) - 0.02) <= half) < 0.8


@pytest.mark.parametrize("name", ["independent", "market"])
def test_mean_interval_covers_a_known_mean(name):
    """The interval of one variant's metric covers its population mean 93-97% of the time, with
    independent queries and with queries clustered in people (where the person's effect is
    shared by all of their queries)."""
    rng = np.random.default_rng(8)
    covered = 0
    for _ in range(EXPERIMENTS // BATCH):
        if name == "independent":
            scores, _ = independent(rng, BATCH, 0.0, *INDEPENDENT["balanced"])
            truth, clusters = 0.5, None
        else:
            scores, _ = clustered(rng, BATCH, 0.0, CLUSTERED["market"])
            truth, clusters = CLUSTERED["market"]["base"], MARKET
        covered += sum(mean_interval(scores[k], clusters).contains(truth) for k in range(BATCH))
    assert 0.93 <= covered / EXPERIMENTS <= 0.97, covered / EXPERIMENTS


def test_pairing_the_same_models_narrows_the_interval():
    """Re-ranking re-evaluates the same models: comparing them row by row takes their seed
    effects out, which an unpaired comparison counts twice; the paired interval is about a third
    narrower (the people's part, which pairing cannot remove, is the rest)."""
    a, b, labels, _ = _reranking(np.random.default_rng(9), BATCH, 0.02)
    paired = [difference_interval(a[k], b[k], clusters=labels, paired=True) for k in range(BATCH)]
    unpaired = [difference_interval(a[k], b[k], clusters=labels) for k in range(BATCH)]
    ratios = np.array([(p.high - p.low) / (u.high - u.low) for p, u in zip(paired, unpaired)])
    assert np.median(ratios) < 0.8, np.median(ratios)
    assert np.mean(ratios < 1) >= 0.75, np.mean(ratios < 1)


# ------------------------------------------------------------------- C4: against a published mean

PAPER_SD = 0.3  # the seed-to-seed spread of one training's metric, in points
C4_READING = {"inside": "supported", "below": "contradicted", "above": "contradicted"}  # reid/claims/accuracy.py


def published_calls(rng, ours_mean, ours_sd, paper_mean, paper_sd, n=EXPERIMENTS, tolerance=1.5):
    """n experiments of C4: our three seeds' metrics against the paper's mean of three runs;
    returns the intervals' coverage of the true difference, the band's calls (as the C4 claim
    reads them) and the estimates."""
    ours = rng.normal(ours_mean, ours_sd, (n, 3))
    paper = rng.normal(paper_mean, paper_sd, (n, 3)).mean(1)
    covered, calls, estimates = 0, [], []
    for k in range(n):
        iv = against_published_mean(ours[k], float(paper[k]), 3)
        estimates.append(iv.estimate)
        covered += iv.contains(ours_mean - paper_mean)
        where, p = iv.band(0.0, tolerance)
        assert (p < 0.05) == (where != "neither")
        calls.append(C4_READING.get(where, "inconclusive"))
    return covered / n, np.array(calls), np.array(estimates)


def test_c4_against_the_same_method_covers_and_rarely_contradicts():
    """When the paper's three runs come from the same method as ours (same mean, same seed
    spread), the interval of ours - paper covers 0 93-97% of the time, and the equivalence test
    with +-1.5 points reads "contradicted" (wholly outside the band) at most 6% of the time."""
    coverage, calls, _ = published_calls(np.random.default_rng(10), 85.0, PAPER_SD, 85.0, PAPER_SD)
    assert 0.93 <= coverage <= 0.97, coverage
    assert np.mean(calls == "contradicted") <= 0.06


def test_c4_a_noisy_method_at_the_papers_value_is_not_supported():
    """A method whose mean is the paper's but whose seeds spread by 4 points has an interval
    far wider than the +-1.5 band: it is not read as supported (which would need the interval
    inside the band), but as inconclusive in the large majority, although its point estimate
    lies within 1.5 points of the paper's often."""
    rng = np.random.default_rng(11)
    coverage, calls, estimates = published_calls(rng, 85.0, 4.0, 85.0, 0.0)
    assert np.mean(calls == "supported") <= 0.05
    assert np.mean(calls == "inconclusive") >= 0.9
    assert np.mean(np.abs(estimates) < 1.5) >= 0.3  # what a reading of the point estimate would call
    assert 0.93 <= coverage  # the truth (0) is inside, the interval just says little about it


def test_c4_a_method_three_points_below_is_contradicted():
    """A method 3 points below the paper's, with a small seed spread, is read as contradicted
    (its interval wholly below the band) most of the time, and never as supported."""
    _, calls, _ = published_calls(np.random.default_rng(12), 82.0, PAPER_SD, 85.0, PAPER_SD)
    assert np.mean(calls == "contradicted") >= 0.7
    assert np.mean(calls == "supported") == 0.0


def test_c4_needs_two_of_our_seeds():
    """With one seed of ours the seed spread of either side is unknown: no interval, no call."""
    assert against_published_mean([85.0], 85.0, 3) is None
    assert against_published_mean([85.0, 85.4], 85.0, 3).seed_spread_known


# ----------------------------------------------------------------------------- small unit tests


def interval(estimate, half, df=10.0, known=True):
    """An Interval of a difference built by hand, its standard error matching its half-width."""
    se = half / stats.t.ppf(0.975, df)
    return Interval(estimate, estimate - half, estimate + half, (3, 3), 300, df, known, se, 100)


def test_verdicts_follow_the_papers_side():
    """The direction is read against the claim: an interval above zero supports a claim that A is
    higher and contradicts one that it is lower; one that holds zero, or has one seed, is neither."""
    iv = Interval(2.0, 0.5, 3.5, (3, 3), 300, 10.0, True)
    assert iv.verdict() == "supported" and iv.verdict(paper_side=-1) == "contradicted"
    assert Interval(0.1, -0.5, 0.7, (3, 3), 300, 10.0, True).verdict() == "inconclusive"
    assert Interval(2.0, 0.5, 3.5, (1, 3), 300, 10.0, False).verdict() == "inconclusive"


def test_tables_must_hold_the_same_queries():
    """Per-query differences need the same queries in both tables, and a label for each query."""
    with pytest.raises(ValueError, match="different queries"):
        difference_interval(np.zeros((3, 10)), np.zeros((3, 11)))
    with pytest.raises(ValueError, match="cluster labels"):
        difference_interval(np.zeros((3, 10)), np.zeros((3, 10)), clusters=np.arange(9))


@pytest.mark.parametrize(
    "estimate, half, claimed, side, known, word",
    [
        (5.0, 0.5, 5.0, 1, True, "as_claimed"),  # inside 5 +- 1.5
        (2.0, 1.0, 5.0, 1, True, "smaller"),  # wholly below the band: less far up than claimed
        (8.0, 1.0, 5.0, 1, True, "larger"),
        (4.5, 1.5, 5.0, 1, True, "inconclusive"),  # reaches out of the band
        (5.0, 3.0, 5.0, 1, True, "inconclusive"),  # wider than the band
        (-2.0, 1.0, -5.0, -1, True, "smaller"),  # the claim is -5: -2 is less far down
        (-8.0, 1.0, -5.0, -1, True, "larger"),
        (-5.0, 0.5, -5.0, -1, True, "as_claimed"),
        (5.0, 0.5, 5.0, 1, False, "inconclusive"),  # one seed: no call
        (5.0, 0.5, None, 1, True, "untestable"),  # no claimed value
    ],
)
def test_size_reads_the_claims_direction(estimate, half, claimed, side, known, word):
    """size() compares the interval with the claimed difference +-1.5: "smaller" means less far
    in the claim's direction (so below the band for a positive claim, above it for a negative
    one); no call with one seed or no claimed value; the p-value is below 0.05 exactly when a
    call is made."""
    got, p = interval(estimate, half, known=known).size(claimed, 1.5, paper_side=side)
    assert got == word
    if word == "untestable" or not known:
        assert p is None
    else:
        assert (p < 0.05) == (word != "inconclusive"), p


def test_p_values_are_below_5_percent_exactly_when_a_call_is_made():
    """band() and direction_p() come with the p-value of the call: below 0.05 exactly when the
    95% interval makes it, so that Holm's adjustment acts on the same calls."""
    for df in (2.0, 4.3, 30.0, np.inf):
        for half in (0.4, 1.0, 2.0, 4.0):
            for estimate in np.linspace(-7.013, 7.013, 121):
                iv = interval(float(estimate), half, df)
                where, p = iv.band(0.0, 1.5)
                assert (p < 0.05) == (where != "neither"), (df, half, estimate, where, p)
                assert (iv.direction_p() < 0.05) == (iv.verdict() != "inconclusive"), (df, half, estimate)


def test_holm_on_a_hand_example():
    """Holm's step-down procedure, worked by hand: it stops at the first p-value above its bound."""
    # sorted: 0.005 <= 0.05/4 and 0.01 <= 0.05/3 rejected; 0.03 > 0.05/2 stops
    assert holm([0.01, 0.04, 0.03, 0.005], 0.05) == [True, False, False, True]
    assert holm([0.04, 0.04], 0.05) == [False, False]
    assert holm([], 0.05) == []


def test_seed_difference_interval_is_welchs():
    """With no per-query part the interval of a difference is Welch's t-interval, as scipy's."""
    rng = np.random.default_rng(13)
    for sa, sb in ((3, 3), (2, 5), (4, 3)):
        a, b = rng.normal(1.0, 0.5, sa), rng.normal(0.0, 2.0, sb)
        iv = seed_difference_interval(a, b)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
        assert iv.low == pytest.approx(ci.low) and iv.high == pytest.approx(ci.high)
    assert seed_difference_interval([1.0], [0.0, 1.0]) is None


def test_one_seed_identity_interval_worked_by_hand():
    """One seed, six queries of three people: only the identity part, the cluster-robust variance
    of the mean, G / (G - 1) * sum_g C_g^2 / Q^2, with G - 1 degrees of freedom.
    Scores 0.2 0.4 | 1.0 0.5 | 0.9 0.0, mean 0.5; the people's sums of deviations C = -0.4, 0.5,
    -0.1; sum C^2 = 0.42; variance 3/2 * 0.42 / 36 = 0.0175; t with 2 degrees of freedom."""
    iv = mean_interval([[0.2, 0.4, 1.0, 0.5, 0.9, 0.0]], clusters=["p", "p", "q", "q", "r", "r"])
    half = stats.t.ppf(0.975, 2) * np.sqrt(0.0175)
    assert iv.estimate == pytest.approx(0.5) and iv.df == pytest.approx(2.0)
    assert (iv.low, iv.high) == pytest.approx((0.5 - half, 0.5 + half))
    assert iv.identities == 3 and not iv.seed_spread_known


def test_two_seed_interval_worked_by_hand():
    """Two seeds, four queries of two people: each part of Var(D) written out.
        seeds' metrics 0.5 and 0.55: seed part var(ddof=1) / S = 0.00125 / 2 = 0.000625
        seed-averaged scores 0.3 0.5 | 0.8 0.5, mean 0.525: C = -0.25, 0.25, raw 2/1 * 0.125 = 0.25
        two-way residuals' sums per person: seed 1 -0.15, 0.15; seed 2 0.15, -0.15;
            squares summed 0.09, over S - 1 = 0.09, over S = 0.045: the interaction
        identity part (0.25 - 0.045) / 4^2
    Welch-Satterthwaite: one degree of freedom for each part."""
    iv = mean_interval([[0.2, 0.4, 0.9, 0.5], [0.4, 0.6, 0.7, 0.5]], clusters=[7, 7, 3, 3])
    seed_part, identity_part = 0.000625, (0.25 - 0.045) / 16
    var = seed_part + identity_part
    df = var**2 / (seed_part**2 / 1 + identity_part**2 / 1)
    assert iv.se**2 == pytest.approx(var) and iv.df == pytest.approx(df)
    half = stats.t.ppf(0.975, df) * np.sqrt(var)
    assert (iv.low, iv.high) == pytest.approx((0.525 - half, 0.525 + half))


def test_seeds_without_a_query_part_give_the_t_intervals():
    """Each seed's scores the same on every query: no test-set part is left, and the interval of
    the mean is the one-sample t-interval over the seeds' metrics, that of a difference Welch's."""
    a = np.repeat([[0.61], [0.63], [0.66]], 50, axis=1)
    b = np.repeat([[0.58], [0.62], [0.59], [0.60]], 50, axis=1)
    mean = mean_interval(a)
    expected = stats.ttest_1samp(a[:, 0], 0.0).confidence_interval(0.95)
    assert (mean.low, mean.high) == pytest.approx((expected.low, expected.high))
    diff = difference_interval(a, b)
    welch = stats.ttest_ind(a[:, 0], b[:, 0], equal_var=False).confidence_interval(0.95)
    assert (diff.low, diff.high) == pytest.approx((welch.low, welch.high))


def test_one_seed_on_either_side_makes_the_spread_unknown():
    """Three seeds of A against one of B: B's seed spread is not known, so no call is made."""
    rng = np.random.default_rng(14)
    a, b = rng.normal(0.8, 0.01, (3, 40)), rng.normal(0.2, 0.01, (1, 40))
    iv = difference_interval(a, b)
    assert iv.seeds == (3, 1) and not iv.seed_spread_known
    assert iv.verdict() == "inconclusive" and iv.size(0.6, 1.5) == ("inconclusive", None)


def test_c4_counts_the_papers_runs_by_our_spread_worked_by_hand():
    """Ours 1, 2 and 4 against a published mean of three runs, 3.0: the variance of the
    difference is s^2 (1/3 + 1/3) with s^2 = 7/3 from our seeds (ddof 1), 2 degrees of freedom."""
    iv = against_published_mean([1.0, 2.0, 4.0], 3.0, 3)
    half = stats.t.ppf(0.975, 2) * np.sqrt(7 / 3 * 2 / 3)
    assert iv.estimate == pytest.approx(7 / 3 - 3.0) and iv.df == pytest.approx(2.0)
    assert (iv.low, iv.high) == pytest.approx((7 / 3 - 3.0 - half, 7 / 3 - 3.0 + half))


def test_an_interval_that_touches_a_bound_makes_no_call():
    """The calls need the interval wholly on one side: one that ends exactly at zero holds zero
    (as ``contains`` says), and one that ends exactly at the band's edge is not inside it; the
    p-value there is 0.05 itself, not below it."""
    assert Interval(1.0, 0.0, 2.0, (3, 3), 300, 10.0, True).verdict() == "inconclusive"
    assert Interval(-1.0, -2.0, 0.0, (3, 3), 300, 10.0, True).verdict(paper_side=-1) == "inconclusive"
    edge = interval(0.0, 1.5)
    assert (edge.low, edge.high) == (-1.5, 1.5)
    where, p = edge.band(0.0, 1.5)
    assert where == "neither" and p == pytest.approx(0.05)


def test_holm_rejects_a_p_value_equal_to_its_bound():
    """Holm's procedure rejects the k-th smallest p-value when it is at most alpha / (m - k + 1):
    0.025 = 0.05 / 2 and then 0.05 = 0.05 / 1 are both rejected."""
    assert holm([0.05, 0.025], 0.05) == [True, True]
    assert holm([0.05, 0.0251], 0.05) == [False, False]
