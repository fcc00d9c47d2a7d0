import numpy as np
import pytest
import torch

from reid.eval import cmc_map


def test_hand_computed_single_query():
    # gallery order by distance: g0 (same pid, same cam: removed), g1 (neg), g2 (hit), g3 (neg), g4 (hit)
    dist = np.array([[0.0, 0.1, 0.2, 0.3, 0.4]])
    q_pids, q_cams = np.array([1]), np.array([1])
    g_pids = np.array([1, 2, 1, 0, 1])
    g_cams = np.array([1, 2, 2, 3, 3])
    r = cmc_map(dist, q_pids, g_pids, q_cams, g_cams, max_rank=4)
    # kept ranking: neg, hit, neg(distractor), hit -> hits at ranks 2 and 4
    assert r["ap"][0] == pytest.approx((1 / 2 + 2 / 4) / 2)
    # official trapezoid, hits at kept 0-based rows [1, 3]: each hit averages the precision just
    # before it (i / row) and at it ((i + 1) / (row + 1)), weighted by 1 / number of hits
    expected_official = 0.5 * (0 + 0.5) / 2 + 0.5 * (1 / 3 + 0.5) / 2
    assert r["mAP_official"] == pytest.approx(expected_official)
    assert r["mINP"] == pytest.approx(2 / 4)
    assert list(r["cmc"]) == [0, 1, 1, 1]
    assert r["first_hit"][0] == 1 and r["num_skipped"] == 0


def test_first_rank_hit_official_equals_one():
    dist = np.array([[0.0, 1.0]])
    r = cmc_map(dist, [5], [5, 6], [1], [2, 2])
    assert r["mAP"] == 1.0 and r["mAP_official"] == 1.0 and r["cmc"][0] == 1.0


def test_ties_broken_by_gallery_order():
    # all distances equal: a stable sort keeps gallery order, so the hit at index 2 is rank 3
    dist = np.zeros((1, 4))
    r = cmc_map(dist, [1], [2, 3, 1, 4], [1], [2, 2, 2, 2])
    assert r["first_hit"][0] == 2
    assert r["ap"][0] == pytest.approx(1 / 3)


def test_query_without_match_is_skipped():
    dist = np.array([[0.0, 1.0], [0.5, 0.2]])
    # query 0 (pid 1, cam 1): its only match is in cam 1 -> skipped
    r = cmc_map(dist, [1, 2], [1, 2], [1, 1], [1, 2])
    assert r["num_skipped"] == 1 and np.isnan(r["ap"][0]) and r["first_hit"][0] == -1
    assert r["mAP"] == 1.0 and r["cmc"][0] == 1.0


def test_no_valid_query_raises():
    with pytest.raises(ValueError, match="no query"):
        cmc_map(np.zeros((1, 1)), [1], [1], [1], [1])


def _brute_force(dist, q_pids, g_pids, q_cams, g_cams):
    aps, firsts = [], []
    for i in range(len(q_pids)):
        order = np.argsort(dist[i], kind="stable")
        keep = ~((g_pids[order] == q_pids[i]) & (g_cams[order] == q_cams[i]))
        matches = (g_pids[order] == q_pids[i])[keep]
        if not matches.any():
            aps.append(np.nan); firsts.append(-1)
            continue
        hits = np.flatnonzero(matches)
        aps.append(np.mean([(k + 1) / (r + 1) for k, r in enumerate(hits)]))
        firsts.append(hits[0])
    return np.array(aps), np.array(firsts)


@pytest.mark.parametrize("chunk", [1, 7, 256])
def test_matches_brute_force_on_random_problem(chunk):
    rng = np.random.default_rng(0)
    nq, ng = 40, 120
    q_pids = rng.integers(1, 15, nq)
    g_pids = rng.integers(0, 15, ng)  # 0 = distractors
    q_cams = rng.integers(1, 4, nq)
    g_cams = rng.integers(1, 4, ng)
    dist = rng.random((nq, ng)).round(2)  # rounding creates ties
    r = cmc_map(torch.as_tensor(dist), q_pids, g_pids, q_cams, g_cams, chunk=chunk)
    aps, firsts = _brute_force(dist, q_pids, g_pids, q_cams, g_cams)
    np.testing.assert_allclose(r["ap"], aps, rtol=1e-12)
    np.testing.assert_array_equal(r["first_hit"], firsts)
    valid = firsts >= 0
    assert r["num_skipped"] == int((~valid).sum())
    assert r["mAP"] == pytest.approx(np.nanmean(aps))
    assert r["cmc"][0] == pytest.approx(np.mean(firsts[valid] == 0))
