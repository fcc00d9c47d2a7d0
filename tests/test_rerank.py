import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from reid.metrics import cmc_map
from reid.rerank import (
    _FeatureSource,
    _MatrixSource,
    _rerank,
    _stable_topk,
    _to_tensor,
    k_reciprocal,
    k_reciprocal_from_features,
)


@pytest.fixture(scope="module")
def reference():
    """torchreid's re_ranking (torchreid==0.2.5, in the test extra), loaded by file path so that
    torchreid's package __init__ is not executed."""
    spec = importlib.util.find_spec("torchreid")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torchreid is not installed (pip install torchreid==0.2.5)")
    path = Path(list(spec.submodule_search_locations)[0]) / "reid" / "utils" / "rerank.py"
    mod_spec = importlib.util.spec_from_file_location("_torchreid_rerank_reference", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module.re_ranking


def _problem(seed, num_query=60, num_gallery=300, dim=16, num_ids=12):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((num_ids, dim))
    q_pids = rng.integers(0, num_ids, num_query)
    g_pids = rng.integers(0, num_ids, num_gallery)
    feats = np.concatenate([centres[q_pids], centres[g_pids]]) + 0.9 * rng.standard_normal(
        (num_query + num_gallery, dim)
    )
    feats = feats.astype(np.float32)
    t = torch.from_numpy(feats).double()
    d = torch.cdist(t, t, compute_mode="donot_use_mm_for_euclid_dist").float().numpy()
    Q = num_query
    ids = dict(
        q_pids=q_pids, g_pids=g_pids, q_camids=rng.integers(0, 6, num_query), g_camids=rng.integers(0, 6, num_gallery)
    )
    return feats[:Q], feats[Q:], d[:Q, Q:].copy(), d[:Q, :Q].copy(), d[Q:, Q:].copy(), ids


def _by_definition(qg, qq, gg, k1, k2, lam):
    """k-reciprocal re-ranking written out from Zhong et al.'s definitions, one item at a time,
    in numpy (slow: for small problems): the re-ranked (Q, G) distances, and how many expansion
    candidates sat exactly on the 2/3 boundary (where ``>`` and ``>=`` differ)."""
    Q, G = qg.shape
    N = Q + G
    full = np.block([[qq, qg], [qg.T, gg]]).astype(np.float32) ** 2
    w = (full / full.max(axis=0)).T  # each column over its maximum; row i is column i
    rank = np.argsort(w, axis=1, kind="stable")

    def reciprocal(i, k):  # R(i, k): i's k + 1 nearest that have i among their own k + 1 nearest
        return [c for c in rank[i, : k + 1] if i in rank[c, : k + 1]]

    half = int(np.around(k1 / 2))
    v = np.zeros((N, N), dtype=np.float32)
    on_boundary = 0
    for i in range(N):
        r_i = reciprocal(i, k1)
        members = set(r_i)
        for c in r_i:
            r_c = reciprocal(c, half)
            overlap = len(set(r_c) & set(r_i))
            on_boundary += 3 * overlap == 2 * len(r_c)
            if overlap > 2 / 3 * len(r_c):
                members |= set(r_c)
        cols = sorted(members)
        weights = np.exp(-w[i, cols])
        v[i, cols] = weights / weights.sum()
    if k2 > 1:
        v = np.stack([v[rank[i, :k2]].mean(axis=0) for i in range(N)])
    shared = np.array([[np.minimum(v[i], v[Q + j]).sum() for j in range(G)] for i in range(Q)])
    jaccard = 1 - shared / (2 - shared)
    return jaccard * (1 - lam) + w[:Q, Q:] * lam, on_boundary


@pytest.mark.parametrize("seed, k1, k2, lam", [(0, 20, 6, 0.3), (1, 4, 1, 0.5), (2, 5, 3, 0.0), (3, 7, 2, 0.8)])
def test_matches_the_definition_on_small_problems(seed, k1, k2, lam):
    """Our own check of the algorithm, without torchreid: the blocked, sparse version equals
    the definitions written out one item at a time, including the expansion rule's strict
    "more than 2/3", which these problems reach exactly."""
    _, _, qg, qq, gg, _ = _problem(seed, num_query=25, num_gallery=90, num_ids=8)
    expected, on_boundary = _by_definition(qg, qq, gg, k1, k2, lam)
    assert on_boundary > 0
    np.testing.assert_allclose(k_reciprocal(qg, qq, gg, k1=k1, k2=k2, lambda_value=lam), expected, atol=2e-6)


def _assert_same_metrics(a, b, ids, decimals=None):
    if decimals is not None:
        # with lambda = 0 the result is the Jaccard distance alone, which takes the same value
        # (e.g. exactly 0.8) for several gallery items; float32 rounding, which differs between
        # numpy's exp and torch's, then orders those ties (0.79999995 vs 0.8). Rounding both to
        # 1e-5 makes them exact ties again, broken by gallery order in both.
        a, b = np.round(a, decimals), np.round(b, decimals)
    ea, eb = cmc_map(a, **ids), cmc_map(b, **ids)
    assert abs(ea["mAP"] - eb["mAP"]) <= 1e-4
    assert np.abs(np.asarray(ea["cmc"]) - np.asarray(eb["cmc"])).max() <= 1e-4


@pytest.mark.parametrize(
    "seed,k1,k2,lam",
    [
        (0, 20, 6, 0.3),  # the paper's setting
        (1, 20, 1, 0.3),  # no query expansion
        (2, 5, 3, 0.0),  # odd k1 (round(5 / 2) = 2, half to even), pure jaccard
        (3, 7, 2, 0.8),  # round(7 / 2) = 4
        (4, 1, 1, 0.5),  # smallest k
        (5, 10, 12, 0.3),  # k2 > k1 + 1: more neighbours kept than the k-reciprocal sets use
    ],
)
@pytest.mark.torchreid
def test_matches_reference(reference, seed, k1, k2, lam):
    _, _, qg, qq, gg, ids = _problem(seed)
    expected = reference(qg, qq, gg, k1=k1, k2=k2, lambda_value=lam)
    got = k_reciprocal(qg, qq, gg, k1=k1, k2=k2, lambda_value=lam)
    assert got.shape == expected.shape == (60, 300)
    assert np.abs(got - expected).max() <= 1e-4
    _assert_same_metrics(got, expected, ids, decimals=5 if lam == 0 else None)
    # blocks of rows that straddle the query / gallery boundary, tiny join steps
    src = _MatrixSource(*(_to_tensor(x) for x in (qg, qq, gg)))
    blocked = _rerank(src, k1, k2, lam, block_rows=7, query_rows=4).numpy()
    assert np.abs(blocked - expected).max() <= 1e-4


@pytest.mark.torchreid
def test_re_ranking_changes_the_ranking(reference):
    # guards the parity tests against a trivial pass: the re-ranked order differs from the original
    _, _, qg, qq, gg, _ = _problem(0)
    got = k_reciprocal(qg, qq, gg)
    assert (np.argsort(got, 1, kind="stable")[:, :10] != np.argsort(qg, 1, kind="stable")[:, :10]).any()


@pytest.mark.torchreid
def test_asymmetric_and_float64_inputs_match_reference(reference):
    # the reference normalises columns of the all x all matrix and works on its transpose: with
    # asymmetric query-query / gallery-gallery blocks the orientation matters
    _, _, qg, qq, gg, ids = _problem(6, num_query=40, num_gallery=200)
    rng = np.random.default_rng(0)
    qq = (qq * rng.uniform(0.8, 1.2, qq.shape)).astype(np.float64)
    gg = (gg * rng.uniform(0.8, 1.2, gg.shape)).astype(np.float64)
    qg = qg.astype(np.float64)
    expected = reference(qg, qq, gg, k1=8, k2=3, lambda_value=0.3)
    got = k_reciprocal(qg, qq, gg, k1=8, k2=3, lambda_value=0.3)
    assert np.abs(got - expected).max() <= 1e-4
    src = _MatrixSource(*(_to_tensor(x) for x in (qg, qq, gg)))
    blocked = _rerank(src, 8, 3, 0.3, block_rows=9, query_rows=5).numpy()
    assert np.abs(blocked - expected).max() <= 1e-4
    _assert_same_metrics(got, expected, ids)


def _lambda_one_by_hand(qg, qq):
    # lambda = 1 leaves the original term only: query-gallery distance squared, over the largest
    # squared distance in that query's column of the all x all matrix (its query-query column
    # and its query-gallery row)
    sq_max = np.maximum((qq.astype(np.float32) ** 2).max(0), (qg.astype(np.float32) ** 2).max(1))
    return (qg.astype(np.float32) ** 2) / sq_max[:, None]


def test_lambda_one_is_normalised_squared_distance():
    _, _, qg, qq, gg, _ = _problem(7, num_query=20, num_gallery=50)
    qq = qq * np.random.default_rng(1).uniform(0.5, 1.5, qq.shape).astype(np.float32)  # column, not row
    got = k_reciprocal(qg, qq, gg, lambda_value=1.0)
    np.testing.assert_allclose(got, _lambda_one_by_hand(qg, qq), rtol=1e-6, atol=0)


@pytest.mark.torchreid
def test_reference_lambda_one_is_the_same(reference):
    _, _, qg, qq, gg, _ = _problem(7, num_query=20, num_gallery=50)
    qq = qq * np.random.default_rng(1).uniform(0.5, 1.5, qq.shape).astype(np.float32)
    np.testing.assert_allclose(reference(qg, qq, gg, lambda_value=1.0), _lambda_one_by_hand(qg, qq), rtol=1e-6, atol=0)


def test_jaccard_term_in_unit_interval():
    _, _, qg, qq, gg, _ = _problem(8, num_query=20, num_gallery=80)
    jac = k_reciprocal(qg, qq, gg, lambda_value=0.0)
    assert jac.min() >= 0.0 and jac.max() <= 1.0 + 1e-6
    # a query shares neighbours with some gallery item: not every entry is 1
    assert (jac < 0.99).sum(1).min() > 0


@pytest.mark.parametrize("k1,k2,lam,chunk", [(20, 6, 0.3, None), (6, 1, 0.5, 13), (4, 9, 0.0, 1)])
def test_from_features_equals_distances(k1, k2, lam, chunk):
    qf, gf, qg, qq, gg, _ = _problem(9, num_query=30, num_gallery=120)
    expected = k_reciprocal(qg, qq, gg, k1=k1, k2=k2, lambda_value=lam)
    got = k_reciprocal_from_features(qf, gf, k1=k1, k2=k2, lambda_value=lam, chunk=chunk)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (30, 120)
    assert np.abs(got - expected).max() <= 1e-4
    got_t = k_reciprocal_from_features(
        torch.from_numpy(qf), torch.from_numpy(gf), k1=k1, k2=k2, lambda_value=lam, chunk=chunk
    )
    assert isinstance(got_t, torch.Tensor)
    assert np.abs(got_t.numpy() - expected).max() <= 1e-4


def test_types_shapes_and_dtypes():
    _, _, qg, qq, gg, _ = _problem(10, num_query=12, num_gallery=40)
    out_np = k_reciprocal(qg, qq, gg, k1=5, k2=2)
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float32 and out_np.shape == (12, 40)
    out_t = k_reciprocal(torch.from_numpy(qg), torch.from_numpy(qq), torch.from_numpy(gg), k1=5, k2=2)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32 and tuple(out_t.shape) == (12, 40)
    assert out_t.device.type == "cpu"
    out_64 = k_reciprocal(*(torch.from_numpy(x).double() for x in (qg, qq, gg)), k1=5, k2=2)
    assert out_64.dtype == torch.float32
    np.testing.assert_allclose(out_t.numpy(), out_np, atol=1e-6)
    np.testing.assert_allclose(out_64.numpy(), out_np, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(k1=0), "k1"),
        (dict(k1=2.5), "k1"),
        (dict(k1=True), "k1"),
        (dict(k2=0), "k2"),
        (dict(k2=-3), "k2"),
        (dict(k2=1.0), "k2"),
        (dict(lambda_value=1.5), "lambda_value"),
        (dict(lambda_value=float("nan")), "lambda_value"),
    ],
)
def test_invalid_parameters(kwargs, match):
    _, _, qg, qq, gg, _ = _problem(11, num_query=5, num_gallery=10)
    with pytest.raises(ValueError, match=match):
        k_reciprocal(qg, qq, gg, **kwargs)
    with pytest.raises(ValueError, match=match):
        k_reciprocal_from_features(np.zeros((5, 3), np.float32), np.ones((10, 3), np.float32), **kwargs)


def test_invalid_shapes():
    _, _, qg, qq, gg, _ = _problem(12, num_query=5, num_gallery=10)
    with pytest.raises(ValueError, match="g_g_dist"):
        k_reciprocal(qg, qq, gg[:9, :9])
    with pytest.raises(ValueError, match="features"):
        k_reciprocal_from_features(np.zeros((5, 3), np.float32), np.ones((10, 4), np.float32))
    with pytest.raises(ValueError, match="chunk"):
        k_reciprocal_from_features(np.zeros((5, 3), np.float32), np.ones((10, 3), np.float32), chunk=0)


def test_ties_broken_by_lower_index():
    # integer distances: many ties, also across the k-th place
    rng = np.random.default_rng(13)
    block = torch.from_numpy(rng.integers(0, 4, (50, 40)).astype(np.float32))
    for k in (1, 5, 12, 39, 40):
        got = _stable_topk(block, k)
        assert torch.equal(got, torch.from_numpy(np.argsort(block.numpy(), 1, kind="stable")[:, :k]))


def test_duplicate_features_give_finite_result():
    qf, gf, *_ = _problem(14, num_query=10, num_gallery=60)
    gf[1::2] = gf[::2]  # exact duplicates: ties at distance 0
    out = k_reciprocal_from_features(qf, gf, k1=6, k2=3)
    assert np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6


@pytest.mark.torchreid
def test_bench_measure_small(reference):
    from reid.bench.rerank_bench import measure

    r = measure(num_query=30, num_gallery=150, dim=16, seed=1, reference=True)
    assert r["max_abs_diff"] <= 1e-4 and r["mAP_diff"] <= 1e-4 and r["cmc_max_diff"] <= 1e-4
    assert r["entries_over_1e-4"] == 0
    for m in ("ours", "reference"):
        assert r[m]["time_s"] > 0 and r[m]["peak_rss_bytes"] >= r[m]["peak_beyond_inputs_bytes"] >= 0
        assert 0.0 <= r[m]["mAP"] <= 1.0
    assert r["time_ratio_reference_over_ours"] == pytest.approx(r["reference"]["time_s"] / r["ours"]["time_s"])


def test_feature_distances_are_exactly_zero_from_an_item_to_itself():
    """|a|^2 + |b|^2 - 2 a.b in float32 leaves a rounding residue where a is b (up to about 0.06
    for these features, far from the origin). The rows the neighbours are ranked on are exactly
    0 there, as a distance matrix's diagonal is and as the single entries the weights are
    computed on are, whichever block of rows they come in; elsewhere the two agree to rounding."""
    rng = np.random.default_rng(15)
    q, g = (torch.from_numpy(100 + rng.standard_normal((n, 16)).astype(np.float32)) for n in (6, 20))
    src = _FeatureSource(q, g)
    every = torch.arange(src.N)
    entries = src.entries(every.repeat_interleave(src.N), every.repeat(src.N)).view(src.N, src.N)
    assert torch.equal(entries.diagonal(), torch.zeros(src.N))
    for a, b in ((0, 26), (3, 9), (20, 26)):
        rows = torch.empty((b - a, src.N))
        src.rows(a, b, rows)
        assert all(rows[i - a, i] == 0 for i in range(a, b)), (a, b)
        torch.testing.assert_close(rows, entries[a:b], rtol=0, atol=0.2)


def test_from_features_with_the_cosine_distance_is_k_reciprocal_of_cosine_distances():
    """The evaluation's cosine reading of a large test set re-ranks from the features: it must be
    the re-ranking of reid.features.cosine_distances, as the dense path computes it, not of the
    euclidean distances between normalised features (the same neighbours, other weights)."""
    from reid.features import cosine_distances

    g = torch.Generator().manual_seed(3)
    centres = torch.randn(20, 32, generator=g)
    q = centres[torch.arange(60) % 20] + 0.4 * torch.randn(60, 32, generator=g)
    gal = centres[torch.arange(300) % 20] + 0.4 * torch.randn(300, 32, generator=g)
    dense = k_reciprocal(cosine_distances(q, gal), cosine_distances(q, q), cosine_distances(gal, gal))
    blocked = k_reciprocal_from_features(q, gal, distance="cosine", chunk=64)
    assert torch.allclose(blocked, dense, atol=2e-6), (blocked - dense).abs().max()
    with pytest.raises(ValueError, match="euclidean or cosine"):
        k_reciprocal_from_features(q, gal, distance="manhattan")
