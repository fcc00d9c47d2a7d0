import numpy as np
import pytest
import torch

from reid.metrics import cmc_map


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
            aps.append(np.nan)
            firsts.append(-1)
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


@pytest.mark.parametrize("max_rank", [1, 5, 30, 119, 120, 500])
def test_cmc_curve_is_the_fraction_of_queries_with_a_hit_at_or_before_each_rank(max_rank):
    """The whole curve, by its definition, at cut-offs below, at and above the gallery's size:
    cmc[k] is the fraction of evaluated queries whose first valid match is at 0-based rank k or
    before; it has min(max_rank, gallery) entries, and a query whose first hit lies beyond the
    curve counts at none of its ranks."""
    rng = np.random.default_rng(4)
    nq, ng = 60, 120
    q_pids, g_pids = rng.integers(1, 9, nq), rng.integers(0, 9, ng)
    q_cams, g_cams = rng.integers(1, 4, nq), rng.integers(1, 4, ng)
    dist = rng.random((nq, ng))
    _, firsts = _brute_force(dist, q_pids, g_pids, q_cams, g_cams)
    firsts = firsts[firsts >= 0]
    assert firsts.max() >= 5  # some first hits lie beyond the short curves
    r = cmc_map(dist, q_pids, g_pids, q_cams, g_cams, max_rank=max_rank)
    expected = [np.mean(firsts <= k) for k in range(min(max_rank, ng))]
    np.testing.assert_allclose(r["cmc"], expected, rtol=0, atol=1e-12)


def test_the_cmc_curve_runs_to_rank_50_by_default():
    """The Market-1501 convention the evaluation writes to metrics.json: ranks 1 to 50, or the
    gallery's size where it is smaller."""
    dist, *ids = _random_problem(0, nq=10, ng=120)
    assert len(cmc_map(dist, *ids)["cmc"]) == 50
    assert len(cmc_map(dist[:, :30], ids[0], ids[1][:30], ids[2], ids[3][:30])["cmc"]) == 30


def test_integer_distances_keep_their_order_beyond_float32():
    """Integer distances are ranked exactly (as float64): in float32, 2**24 + 1 and 2**24 are one
    value, and the gallery order would then rank the true match g0 first."""
    dist = np.array([[2**24 + 1, 2**24]], dtype=np.int64)
    r = cmc_map(dist, [1], [1, 2], [1], [2, 2])
    assert r["first_hit"][0] == 1 and r["ap"][0] == 0.5


# ---------------------------------------------------------------- exactness beyond the fast path


def _reference(dist, q_pids, g_pids, q_cams, g_cams):
    """Per query, by the definitions on a stable arg-sort: AP (mean precision at hits), AP by the
    official trapezoid rule, INP (hits / 1-based rank of the last hit), first hit."""
    out = {"ap": [], "official": [], "inp": [], "first": []}
    for i in range(len(q_pids)):
        order = np.argsort(dist[i], kind="stable")
        keep = ~((g_pids[order] == q_pids[i]) & (g_cams[order] == q_cams[i]))
        hits = np.flatnonzero((g_pids[order] == q_pids[i])[keep])
        if len(hits) == 0:
            for k, v in (("ap", np.nan), ("official", np.nan), ("inp", np.nan), ("first", -1)):
                out[k].append(v)
            continue
        out["ap"].append(np.mean([(k + 1) / (r + 1) for k, r in enumerate(hits)]))
        out["official"].append(np.mean([((k / r if r else 1.0) + (k + 1) / (r + 1)) / 2 for k, r in enumerate(hits)]))
        out["inp"].append(len(hits) / (hits[-1] + 1))
        out["first"].append(hits[0])
    return {k: np.array(v) for k, v in out.items()}


def _check_against_reference(r, dist, q_pids, g_pids, q_cams, g_cams):
    ref = _reference(np.asarray(dist), q_pids, g_pids, q_cams, g_cams)
    np.testing.assert_array_equal(r["first_hit"], ref["first"])
    np.testing.assert_allclose(r["ap"], ref["ap"], rtol=1e-12)
    valid = ref["first"] >= 0
    assert r["mAP"] == pytest.approx(ref["ap"][valid].mean(), rel=1e-12)
    assert r["mAP_official"] == pytest.approx(ref["official"][valid].mean(), rel=1e-12)
    assert r["mINP"] == pytest.approx(ref["inp"][valid].mean(), rel=1e-12)
    assert r["num_skipped"] == int((~valid).sum())


def _random_problem(seed, nq=60, ng=300, ids=20, cams=4, decimals=None):
    rng = np.random.default_rng(seed)
    q_pids = rng.integers(1, ids + 3, nq)  # pids ids+1, ids+2 never in the gallery: skipped
    g_pids = rng.integers(0, ids + 1, ng)  # 0 = distractors
    q_cams, g_cams = rng.integers(1, cams + 1, nq), rng.integers(1, cams + 1, ng)
    dist = rng.random((nq, ng))
    if decimals is not None:
        dist = dist.round(decimals)
    return dist, q_pids, g_pids, q_cams, g_cams


def test_junk_ahead_and_ties_hand_computed():
    # stable order: g0 junk (same pid, same cam; tied with g1 but earlier), g1 hit, g2 negative,
    # g3 hit tied with g2 but later in the gallery -> after junk removal hits at ranks 1 and 3
    dist = np.array([[0.5, 0.5, 0.7, 0.7]])
    r = cmc_map(dist, [4], [4, 4, 9, 4], [2], [2, 1, 3, 3])
    assert r["first_hit"][0] == 0
    assert r["ap"][0] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert r["mAP_official"] == pytest.approx(((1 + 1) / 2 + (1 / 2 + 2 / 3) / 2) / 2)
    assert r["mINP"] == pytest.approx(2 / 3)
    # the same tie the other way round in gallery order: the hit now comes before the negative
    r = cmc_map(np.array([[0.5, 0.5, 0.7, 0.7]]), [4], [4, 4, 4, 9], [2], [2, 1, 3, 3])
    assert r["ap"][0] == 1.0 and r["mINP"] == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_random_problems_with_ties_match_the_definitions(seed):
    dist, *ids = _random_problem(seed, decimals=2)  # heavy ties
    r = cmc_map(dist, *ids, chunk=16)
    assert r["num_skipped"] > 0
    _check_against_reference(r, dist, *ids)


@pytest.mark.parametrize("limit", [0, 10**9])
def test_both_tie_strategies_are_exact(monkeypatch, limit):
    # limit 0: every row with a tie is arg-sorted; huge: every tie is resolved pairwise
    import reid.metrics

    monkeypatch.setattr(reid.metrics, "TIE_PAIRS_PER_ROW", limit)
    dist, *ids = _random_problem(7, decimals=1)
    _check_against_reference(cmc_map(dist, *ids, chunk=9), dist, *ids)


def test_nan_distances_rank_last():
    dist, *ids = _random_problem(3)
    dist[np.random.default_rng(0).random(dist.shape) < 0.05] = np.nan
    _check_against_reference(cmc_map(dist, *ids), dist, *ids)


def test_chunk_size_and_input_types_do_not_change_anything():
    dist, q_pids, g_pids, q_cams, g_cams = _random_problem(5, decimals=3)
    ref = cmc_map(dist, q_pids, g_pids, q_cams, g_cams, chunk=1000)
    for chunk in (1, 3, 17):
        r = cmc_map(
            torch.as_tensor(dist), torch.as_tensor(q_pids), list(g_pids), q_cams, torch.as_tensor(g_cams), chunk=chunk
        )
        for key in ("ap", "first_hit", "cmc"):
            np.testing.assert_array_equal(r[key], ref[key])
        assert (r["mAP"], r["mAP_official"], r["mINP"], r["num_skipped"]) == (
            ref["mAP"],
            ref["mAP_official"],
            ref["mINP"],
            ref["num_skipped"],
        )
    # float32 and float16 inputs are ranked in their own precision (no new ties, none lost)
    for dtype in (torch.float32, torch.float16):
        t = torch.as_tensor(dist).to(dtype)
        _check_against_reference(
            cmc_map(t, q_pids, g_pids, q_cams, g_cams), t.double().numpy(), q_pids, g_pids, q_cams, g_cams
        )


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="2x3"):
        cmc_map(np.zeros((2, 3)), [1, 2], [1, 2], [1, 1], [2, 2, 2])


def test_ranked_gallery_is_a_stable_argsort_prefix():
    from reid.metrics import ranked_gallery

    dist, *_ = _random_problem(2, nq=30, ng=50, decimals=1)
    dist[0, :] = 0.5
    dist[1, 3] = np.nan
    for k in (1, 10, 50, 80):
        np.testing.assert_array_equal(
            ranked_gallery(dist, k, chunk=7), np.argsort(dist, axis=1, kind="stable")[:, : min(k, 50)]
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    dist, *ids = _random_problem(4, nq=200, ng=1000, decimals=3)
    cpu = cmc_map(dist, *ids)
    gpu = cmc_map(torch.as_tensor(dist, device="cuda"), *[torch.as_tensor(x, device="cuda") for x in ids])
    np.testing.assert_array_equal(gpu["first_hit"], cpu["first_hit"])
    np.testing.assert_allclose(gpu["ap"], cpu["ap"], rtol=1e-12)


# ---------------------------------------------------------------- parity with torchreid


@pytest.fixture(scope="module")
def torchreid_rank():
    """torchreid==0.2.5's reid/metrics/rank.py, loaded by path (its package __init__ needs cv2 and more)."""
    from reid.bench.eval_bench import load_torchreid_rank

    try:
        return load_torchreid_rank()
    except ImportError as err:
        pytest.skip(str(err))


@pytest.mark.parametrize(
    "seed,nq,ng,ids,cams", [(0, 50, 400, 25, 6), (1, 80, 250, 10, 3), (2, 120, 600, 60, 6), (3, 30, 100, 5, 2)]
)
@pytest.mark.torchreid
def test_matches_torchreid_eval_market1501(torchreid_rank, seed, nq, ng, ids, cams):
    dist, q_pids, g_pids, q_cams, g_cams = _random_problem(seed, nq, ng, ids, cams)  # float64: no ties
    assert (g_pids == 0).any()
    cmc_ref, map_ref = torchreid_rank.eval_market1501(dist, q_pids, g_pids, q_cams, g_cams, 50)
    r = cmc_map(dist, q_pids, g_pids, q_cams, g_cams, max_rank=50)
    assert r["num_skipped"] > 0  # queries without a match are skipped by both
    assert r["mAP"] == pytest.approx(map_ref, abs=1e-6)
    np.testing.assert_allclose(r["cmc"], cmc_ref, atol=1e-6)
    # and on a float32 tensor without ties (distinct integers): torchreid on the same values
    d32 = np.random.default_rng(seed).permutation(dist.size).reshape(dist.shape).astype(np.float32)
    cmc_ref32, map_ref32 = torchreid_rank.eval_market1501(d32, q_pids, g_pids, q_cams, g_cams, 20)
    r32 = cmc_map(torch.from_numpy(d32), q_pids, g_pids, q_cams, g_cams, max_rank=20, chunk=7)
    assert r32["mAP"] == pytest.approx(map_ref32, abs=1e-6)
    np.testing.assert_allclose(r32["cmc"], cmc_ref32, atol=1e-6)
