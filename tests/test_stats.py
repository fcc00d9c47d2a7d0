"""The interval of a difference between two variants, proven by simulation: experiments with a
known effect, a known seed-to-seed spread and per-query noise (3 seeds, 300 queries)."""

import numpy as np
import pytest

from reid.stats import Interval, difference_interval, mean_interval

SEEDS, QUERIES = 3, 300
# (seed spread, query spread, correlation of the two variants' query effects, interaction)
SCENARIOS = {
    "seeds dominate": (0.02, 0.20, 0.8, 0.10),
    "queries dominate": (0.002, 0.25, 0.3, 0.05),
    "balanced": (0.01, 0.25, 0.6, 0.20),
}


def experiment(rng, effect, seed_sd, query_sd, rho, noise_sd, seeds=SEEDS, queries=QUERIES):
    """Per-query scores of variants A and B (seeds x queries); mean(A) - mean(B) = effect."""
    shared = rng.normal(0, query_sd, queries)
    own = rho * shared + np.sqrt(1 - rho**2) * rng.normal(0, query_sd, queries)
    a = 0.5 + effect + shared + rng.normal(0, seed_sd, (seeds, 1)) + rng.normal(0, noise_sd, (seeds, queries))
    b = 0.5 + own + rng.normal(0, seed_sd, (seeds, 1)) + rng.normal(0, noise_sd, (seeds, queries))
    return a, b


def rates(scenario, effect, n, seed):
    rng = np.random.default_rng(seed)
    covered = called = 0
    for _ in range(n):
        iv = difference_interval(*experiment(rng, effect, *SCENARIOS[scenario]))
        covered += iv.contains(effect)
        called += iv.verdict() != "inconclusive"
    return covered / n, called / n


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_interval_covers_a_known_effect_95_percent_of_the_time(scenario):
    coverage, _ = rates(scenario, effect=0.02, n=1500, seed=1)
    # 1,500 experiments: the standard error of a 95% rate is 0.56 points; +-2.5 points is 4.5 of them
    assert 0.925 <= coverage <= 0.975, coverage


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_zero_effect_is_rarely_called(scenario):
    _, called = rates(scenario, effect=0.0, n=1500, seed=2)
    assert called <= 0.05 + 0.01, called  # 5%, plus 1.8 standard errors of the simulation


def test_a_seed_level_t_interval_alone_undercovers_when_queries_dominate():
    """What the method is for: the seeds share the queries, so their spread misses the test set's."""
    from scipy import stats

    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(1000):
        a, b = experiment(rng, 0.02, *SCENARIOS["queries dominate"])
        d = a.mean(1) - b.mean(1)
        half = stats.t.ppf(0.975, SEEDS - 1) * d.std(ddof=1) / np.sqrt(SEEDS)
        covered += abs(d.mean() - 0.02) <= half
    assert covered / 1000 < 0.8


def test_one_seed_gives_the_query_part_and_says_the_seed_spread_is_unknown():
    rng = np.random.default_rng(4)
    a, b = experiment(rng, 0.02, *SCENARIOS["balanced"], seeds=1)
    iv = difference_interval(a, b)
    assert not iv.seed_spread_known and iv.seeds == (1, 1)
    three = difference_interval(*experiment(rng, 0.02, *SCENARIOS["balanced"]))
    assert three.seed_spread_known and three.seeds == (3, 3)


def test_mean_interval_of_a_known_mean():
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(1000):
        scores, _ = experiment(rng, 0.0, *SCENARIOS["balanced"])
        covered += mean_interval(scores).contains(0.5)
    assert 0.925 <= covered / 1000 <= 0.975


def test_verdicts_follow_the_papers_side():
    iv = Interval(2.0, 0.5, 3.5, (3, 3), 300, 10.0, True)
    assert iv.verdict() == "supported" and iv.verdict(paper_side=-1) == "contradicted"
    assert Interval(0.1, -0.5, 0.7, (3, 3), 300, 10.0, True).verdict() == "inconclusive"


def test_tables_must_hold_the_same_queries():
    with pytest.raises(ValueError, match="different queries"):
        difference_interval(np.zeros((3, 10)), np.zeros((3, 11)))


def test_paired_seeds_cancel_the_seed_effect():
    """Re-ranking re-evaluates the same models: the pairing removes their seed spread."""
    rng = np.random.default_rng(6)
    covered, widths = 0, []
    for _ in range(1000):
        a, _ = experiment(rng, 0.0, *SCENARIOS["seeds dominate"])
        b = a - 0.02 + rng.normal(0, 0.05, a.shape)  # the same models, scored another way
        paired = difference_interval(a, b, paired=True)
        covered += paired.contains(0.02)
        widths.append((paired.high - paired.low) / (lambda u: u.high - u.low)(difference_interval(a, b)))
    assert 0.925 <= covered / 1000 <= 0.975
    assert np.median(widths) < 0.5
