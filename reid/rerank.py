"""k-reciprocal re-ranking (Zhong, Zheng, Cao, Li, CVPR 2017), exact, fast and in bounded memory.

Same result as the authors' Python version as torchreid ships it
(``torchreid.reid.utils.rerank.re_ranking``), computed without any all x all matrix:

1. ``original``: the all x all matrix ``M = [[qq, qg], [qg^T, gg]]``, squared, and each column
   divided by its maximum; the reference then works on its transpose, so row ``i`` of the
   working matrix is column ``i`` of ``M`` squared over its maximum. We build it a block of
   rows at a time, take the row maximum, normalise and keep only the ``k1 + 1`` nearest
   neighbours of each row (``torch.topk``), plus the query x gallery block of the result,
   which is all of it the final sum needs.
2. ``V``: for each row, its k-reciprocal set ``R(i, k1)`` (neighbours among its ``k1 + 1``
   nearest that have it among their own ``k1 + 1`` nearest), expanded by the set
   ``R(c, round(k1 / 2))`` of each member ``c`` when more than 2/3 of that set lies in
   ``R(i, k1)``; weights ``exp(-d)`` normalised to sum 1. A few dozen non-zeros per row: kept
   as sparse rows (CSR), computed for all rows at once on tensors of shape
   ``(rows, k1 + 1, round(k1 / 2) + 1, k1 + 1)`` in blocks of rows.
3. Query expansion (``k2 > 1``): each row of ``V`` becomes the mean of the rows of its ``k2``
   nearest neighbours, done on the sparse rows.
4. Jaccard distance ``1 - m / (2 - m)`` with ``m[i, j] = sum_k min(V[i, k], V[j, k])`` over all
   ``N`` columns, for query rows ``i`` and gallery rows ``j``: only pairs that share a non-zero
   column contribute, so it is a join on the column (gallery side stored by column, padded to
   power-of-two widths), accumulated into a dense block of query rows.
5. ``final = jaccard * (1 - lambda) + original * lambda`` on the query x gallery block.

Arithmetic follows the reference: distances are squared in float32 (in float64 if given float64,
then rounded to float32, as the reference does) and everything after is float32. torch's exp
and the order of the sums differ from numpy's, so results agree to about 1e-7, not bit for bit.
The query expansion sums the neighbours' rows in index order, so that items with the same
neighbour set get bit-identical rows (and exactly tied distances, which the evaluation then
orders by gallery index); on CUDA the join's accumulation order (atomics) is not fixed, so
exactly tied values may differ there in the last bit from run to run.

Ties in the neighbour ranking are broken by the lower index (the order of a stable argsort of
each row of the normalised squared distance; the index runs over queries first, then gallery).
The reference uses numpy's unstable argsort, whose order among exactly equal distances is
unspecified, so where the k-th and (k+1)-th smallest values of a row are exactly equal (k =
k1 + 1, round(k1 / 2) + 1 or k2) the two can choose different neighbours; on distances without
such ties they agree. Such ties are not only from duplicate images: float32 normalised squared
distances collide now and then at Market-1501 size (7 of 19,281 rows in
``reid.bench.rerank_bench``'s synthetic problem; 3 of them chose differently, which moved
8,494 of the 53.6 M query x gallery entries, in 207 query rows, by more than 1e-4, at most by
3.2e-3, and the mAP by 1.3e-7; with numpy's argsort put in place of ours the difference was
4e-7).

Everything runs on the device of the inputs (CUDA tensors stay on the GPU). Memory beyond the
inputs: the ``Q x G`` float32 result, a block of rows of ``N`` distances (about 128 MB by
default), the sparse ``V`` (a few hundred bytes per row) and join buffers of a few tens of MB.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch

__all__ = ["k_reciprocal", "k_reciprocal_from_features"]

# One block of distance rows holds this many float32 elements by default (32 Mi elements = 128 MB).
_BLOCK_ELEMS = 32 * 1024 * 1024
# A join step takes at most this many (query entry, gallery entry) pairs at once, which bounds its memory.
_PAIR_BUDGET = 4 * 1024 * 1024
# The sparse steps take this many rows at once (query expansion) and this many elements of the
# (rows, k, k[, k]) tensors at once, again to bound memory.
_SPARSE_ROWS = 4096
_SPARSE_ELEMS = 4 * 1024 * 1024


def _check_params(k1, k2, lambda_value) -> None:
    for name, k in (("k1", k1), ("k2", k2)):
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {k!r}")
    if (
        isinstance(lambda_value, bool)
        or not isinstance(lambda_value, numbers.Real)
        or not (0.0 <= float(lambda_value) <= 1.0)
    ):
        raise ValueError(f"lambda_value must be a number in [0, 1], got {lambda_value!r}")


def _to_tensor(x, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if device is None else x.to(device)
    a = np.asarray(x)
    with warnings.catch_warnings():  # The warning is about read-only arrays, and we never write to them.
        warnings.simplefilter("ignore", UserWarning)
        t = torch.from_numpy(a) if a.dtype.isnative else torch.as_tensor(a.astype(a.dtype.newbyteorder("=")))
    return t if device is None else t.to(device)


def _square_into(dst: torch.Tensor, src: torch.Tensor) -> None:
    """Write src ** 2 into dst (float32), squaring in float32, or in float64 for float64 / integer input."""
    if src.dtype in (torch.float32, torch.float16, torch.bfloat16):
        dst.copy_(src)
        dst.mul_(dst)
    else:
        dst.copy_(src.to(torch.float64).square())


def _square(src: torch.Tensor) -> torch.Tensor:
    out = torch.empty(src.shape, dtype=torch.float32, device=src.device)
    _square_into(out, src)
    return out


def _copy_transposed_square(dst: torch.Tensor, src: torch.Tensor) -> None:
    """Write src.T ** 2 into dst for a column slice ``src`` of a row-major matrix.

    The copy is tiled on the CPU, where a plain strided copy is several times slower."""
    if dst.device.type != "cpu":
        _square_into(dst, src.T)
        return
    tile = 512
    for r in range(0, src.shape[0], tile):
        _square_into(dst[:, r : r + tile], src[r : r + tile].T)


class _MatrixSource:
    """Give rows of the reference's working matrix ``M^T`` (squared, not yet normalised), and single
    entries of it, from the three distance blocks, so that the all x all matrix is never built."""

    def __init__(self, qg, qq, gg):
        self.qg, self.qq, self.gg = qg, qq, gg
        self.Q, self.G = qg.shape
        self.N = self.Q + self.G
        self.device = qg.device

    def rows(self, a: int, b: int, buf: torch.Tensor) -> None:
        Q = self.Q
        nq = max(0, min(b, Q) - a)
        if nq:  # M^T[i, :Q] = qq[:, i], M^T[i, Q:] = qg[i, :]
            _copy_transposed_square(buf[:nq, :Q], self.qq[:, a : a + nq])
            _square_into(buf[:nq, Q:], self.qg[a : a + nq])
        ng = (b - a) - nq
        if ng:  # M^T[Q+g, :Q] = qg[:, g], M^T[Q+g, Q:] = gg[:, g]
            s = max(a, Q) - Q
            _copy_transposed_square(buf[nq:, :Q], self.qg[:, s : s + ng])
            _copy_transposed_square(buf[nq:, Q:], self.gg[:, s : s + ng])

    def entries(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Return the squared ``M^T[i, j] = M[j, i]`` for index vectors i, j (float32)."""
        Q = self.Q
        iq, jq = i < Q, j < Q
        out = torch.empty(i.shape, dtype=torch.float32, device=i.device)
        for m, block, r, c in (
            (iq & jq, self.qq, j, i),
            (iq & ~jq, self.qg, i, j - Q),
            (~iq & jq, self.qg, j, i - Q),
            (~iq & ~jq, self.gg, j - Q, i - Q),
        ):
            sel = m.nonzero().squeeze(1)
            if sel.numel():
                out[sel] = _square(block[r[sel], c[sel]])
        return out


class _FeatureSource:
    """Give squared distances between features (queries first, then gallery): euclidean, or the
    cosine distance ``1 - a.b`` of L2-normalised features, which is what ``k_reciprocal`` squares
    when it is given reid.features.cosine_distances.

    Euclidean ones are computed as ``|a|^2 + |b|^2 - 2 a.b`` in float32 and clamped at 0, and the
    distance from an item to itself is set to exactly 0, which rounding would otherwise miss."""

    def __init__(self, q_feats, g_feats, distance: str = "euclidean"):
        self.Q, self.G = q_feats.shape[0], g_feats.shape[0]
        self.N = self.Q + self.G
        self.device = q_feats.device
        self.cosine = distance == "cosine"
        f = torch.cat([q_feats.to(torch.float32), g_feats.to(self.device, torch.float32)], 0)
        self.f = torch.nn.functional.normalize(f, dim=1) if self.cosine else f
        self.sq = self.f.square().sum(1)

    def rows(self, a: int, b: int, buf: torch.Tensor) -> None:
        if self.cosine:
            torch.addmm(torch.ones(1, device=self.device), self.f[a:b], self.f.T, alpha=-1.0, out=buf)
            buf.square_()
            return
        torch.addmm(self.sq[None, :], self.f[a:b], self.f.T, alpha=-2.0, out=buf)
        buf.add_(self.sq[a:b, None]).clamp_(min=0)
        buf.diagonal(a).zero_()

    def entries(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        out = torch.empty(i.shape, dtype=torch.float32, device=i.device)
        step = max(1, _BLOCK_ELEMS // (4 * max(1, self.f.shape[1])))
        for s in range(0, i.numel(), step):
            ii, jj = i[s : s + step], j[s : s + step]
            dot = (self.f[ii] * self.f[jj]).sum(1)
            if self.cosine:
                out[s : s + step] = (1.0 - dot).square_()
                continue
            d = (self.sq[ii] + self.sq[jj] - 2.0 * dot).clamp_(min=0)
            out[s : s + step] = torch.where(ii == jj, torch.zeros_like(d), d)
        return out


def _stable_topk(block: torch.Tensor, k: int) -> torch.Tensor:
    """Return the indices of the k smallest entries of each row, in the order of a stable argsort."""
    n = block.shape[1]
    kk = min(k + 1, n)  # One more is taken to see whether the k-th place is tied.
    vals, idx = torch.topk(block, kk, dim=1, largest=False, sorted=True)
    # Ties inside the window are ordered by index, because topk leaves their order unspecified.
    o = torch.argsort(idx, dim=1)
    idx, vals = idx.gather(1, o), vals.gather(1, o)
    o = torch.argsort(vals, dim=1, stable=True)
    idx, vals = idx.gather(1, o), vals.gather(1, o)
    if kk > k:
        tied = (vals[:, k - 1] == vals[:, k]).nonzero().squeeze(1)
        # With a tie across the k-th place, which tied ones make it depends on index, so the row is sorted.
        if tied.numel():
            idx[tied] = torch.sort(block[tied], dim=1, stable=True).indices[:, :kk]
    return idx[:, :k]


def _neighbours(src, k: int, block_rows: int, out: torch.Tensor):
    """Make one pass over the rows of the working matrix, returning the k nearest of each row
    (stable order) and the row maxima, and writing the normalised query x gallery block into ``out``."""
    N, Q, dev = src.N, src.Q, src.device
    knn = torch.empty((N, k), dtype=torch.int64, device=dev)
    rowmax = torch.empty(N, dtype=torch.float32, device=dev)
    buf_all = torch.empty((min(block_rows, N), N), dtype=torch.float32, device=dev)
    for a in range(0, N, block_rows):
        b = min(a + block_rows, N)
        buf = buf_all[: b - a]
        src.rows(a, b, buf)
        m = buf.amax(dim=1)
        rowmax[a:b] = m
        buf.div_(m[:, None])
        if a < Q:
            out[a : min(b, Q)] = buf[: min(b, Q) - a, Q:]
        knn[a:b] = _stable_topk(buf, k)
    return knn, rowmax


def _reciprocal(knn: torch.Tensor, width: int) -> torch.Tensor:
    """Return mask[i, a], which says whether knn[i, a] has i among its own first ``width`` neighbours (a < width)."""
    N = knn.shape[0]
    nn = knn[:, :width]
    mask = torch.empty((N, width), dtype=torch.bool, device=knn.device)
    step = max(1, _SPARSE_ELEMS // (width * width))
    for a in range(0, N, step):
        b = min(a + step, N)
        me = torch.arange(a, b, device=knn.device)
        mask[a:b] = (nn[nn[a:b]] == me[:, None, None]).any(2)
    return mask


def _expanded_v(knn, src, rowmax, k1: int):
    """Return the sparse rows of V (CSR: row pointers, columns ascending, values)."""
    N, dev = knn.shape[0], knn.device
    kf = min(k1 + 1, N)
    kh = min(int(round(k1 / 2.0)) + 1, N)  # This rounds half to even, as numpy.around does.
    R = _reciprocal(knn, kf)
    Rh = _reciprocal(knn, kh)
    fwd, half = knn[:, :kf], knn[:, :kh]
    counts, cols, vals = [], [], []
    step = max(1, _SPARSE_ELEMS // (kf * kh * kf))
    for a in range(0, N, step):
        b = min(a + step, N)
        Ri, fi = R[a:b], fwd[a:b]  # (B, kf)
        cand, cmask = half[fi], Rh[fi]  # (B, kf, kh): R(c, kh) of each candidate c
        in_ri = ((cand[..., None] == fi[:, None, None, :]) & Ri[:, None, None, :]).any(-1)
        overlap = (in_ri & cmask).sum(-1)
        size = cmask.sum(-1)
        accept = Ri & (overlap.to(torch.float64) > (2.0 / 3.0) * size.to(torch.float64))
        members = torch.cat(
            [
                torch.where(Ri, fi, N),
                torch.where(cmask & accept[..., None], cand, N).flatten(1),
            ],
            1,
        )
        members = members.sort(dim=1).values
        dup = torch.zeros_like(members, dtype=torch.bool)
        dup[:, 1:] = members[:, 1:] == members[:, :-1]
        members = members.masked_fill(dup, N).sort(dim=1).values
        valid = members < N
        n = valid.sum(1)
        width = int(n.max()) if n.numel() else 0
        members, valid = members[:, :width], valid[:, :width]
        rows = torch.arange(a, b, device=dev)[:, None].expand_as(members)
        r_sel, c_sel = rows[valid], members[valid]
        d = torch.zeros(members.shape, dtype=torch.float32, device=dev)
        d[valid] = src.entries(r_sel, c_sel) / rowmax[r_sel]
        w = torch.exp(-d).masked_fill_(~valid, 0.0)
        w = w / w.sum(1, keepdim=True)
        counts.append(n)
        cols.append(c_sel)
        vals.append(w[valid])
    counts = torch.cat(counts)
    ptr = torch.zeros(N + 1, dtype=torch.int64, device=dev)
    ptr[1:] = counts.cumsum(0)
    return ptr, torch.cat(cols), torch.cat(vals)


def _gather_rows(ptr, cols, vals, rows: torch.Tensor):
    """Concatenate CSR rows ``rows`` in order, returning (owner position in ``rows``, column, value)."""
    lens = ptr[rows + 1] - ptr[rows]
    owner = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), lens)
    first = lens.cumsum(0) - lens
    pos = ptr[rows][owner] + (torch.arange(owner.numel(), device=rows.device) - first[owner])
    return owner, cols[pos], vals[pos]


def _query_expansion(ptr, cols, vals, knn, k2: int):
    """Replace row i by the mean of the rows of its k2 nearest neighbours (k2 > 1)."""
    N, dev = knn.shape[0], knn.device
    k2 = min(k2, N)
    # The neighbours are sorted by index, so that rows with the same neighbour set get bit-identical means.
    nb = knn[:, :k2].sort(dim=1).values
    counts, new_cols, new_vals = [], [], []
    for a in range(0, N, _SPARSE_ROWS):
        b = min(a + _SPARSE_ROWS, N)
        owner, c, v = _gather_rows(ptr, cols, vals, nb[a:b].reshape(-1))
        key = torch.div(owner, k2, rounding_mode="floor") * N + c  # The key encodes (row in block, column).
        key, order = torch.sort(key, stable=True)
        uniq, inv = torch.unique_consecutive(key, return_inverse=True)
        s = torch.zeros(uniq.numel(), dtype=torch.float32, device=dev).index_add_(0, inv, v[order])
        r = torch.div(uniq, N, rounding_mode="floor")
        counts.append(torch.bincount(r, minlength=b - a))
        new_cols.append(uniq - r * N)
        new_vals.append(s / k2)
    counts = torch.cat(counts)
    new_ptr = torch.zeros(N + 1, dtype=torch.int64, device=dev)
    new_ptr[1:] = counts.cumsum(0)
    return new_ptr, torch.cat(new_cols), torch.cat(new_vals)


def _jaccard_into(out, ptr, cols, vals, Q: int, lam: float, query_rows: int) -> None:
    """Turn ``out`` (Q x G, holding the normalised original distance) into the final distance."""
    N, dev = ptr.numel() - 1, ptr.device
    G = N - Q
    # The gallery side is stored by column (CSC) and padded per column to a power-of-two width bucket,
    # so that a few table shapes serve every column.
    g_start = int(ptr[Q])
    g_rows = torch.repeat_interleave(torch.arange(G, device=dev), ptr[Q + 1 :] - ptr[Q:-1])
    g_cols, g_vals = cols[g_start:], vals[g_start:]
    order = torch.argsort(g_cols, stable=True)
    g_cols, g_rows, g_vals = g_cols[order], g_rows[order], g_vals[order]
    g_cnt = torch.bincount(g_cols, minlength=N)
    g_ptr = torch.zeros(N + 1, dtype=torch.int64, device=dev)
    g_ptr[1:] = g_cnt.cumsum(0)
    bucket = torch.where(g_cnt > 0, torch.ceil(torch.log2(g_cnt.clamp(min=1).double())).long(), -1)
    slot = torch.zeros(N, dtype=torch.int64, device=dev)
    tables = {}
    for e in torch.unique(bucket).tolist():
        if e < 0:
            continue
        width = 1 << e
        cb = (bucket == e).nonzero().squeeze(1)
        slot[cb] = torch.arange(cb.numel(), device=dev)
        pos = g_ptr[cb][:, None] + torch.arange(width, device=dev)
        inside = torch.arange(width, device=dev) < g_cnt[cb][:, None]
        pos = torch.where(inside, pos, 0)
        # Padding points at column 0 of the row with value 0, so it adds nothing.
        tables[e] = (torch.where(inside, g_rows[pos], 0), torch.where(inside, g_vals[pos], 0.0))
    # The query side stays in CSR order, by row, so that the writes of a step stay within few rows.
    q_end = int(ptr[Q])
    q_cols, q_vals = cols[:q_end], vals[:q_end]
    q_rows = torch.repeat_interleave(torch.arange(Q, device=dev), ptr[1 : Q + 1] - ptr[:Q])
    q_bucket = bucket[q_cols]
    one_minus = 1.0 - lam
    for a in range(0, Q, query_rows):
        b = min(a + query_rows, Q)
        m = torch.zeros((b - a, G), dtype=torch.float32, device=dev)
        flat_m = m.view(-1)
        lo, hi = int(ptr[a]), int(ptr[b])
        for e, (t_rows, t_vals) in tables.items():
            sel = (q_bucket[lo:hi] == e).nonzero().squeeze(1) + lo
            step = max(1, _PAIR_BUDGET >> e)
            for s in range(0, sel.numel(), step):
                idx = sel[s : s + step]
                sl = slot[q_cols[idx]]
                target = t_rows[sl] + ((q_rows[idx] - a) * G)[:, None]
                contrib = torch.minimum(t_vals[sl], q_vals[idx][:, None])
                flat_m.index_add_(0, target.view(-1), contrib.view(-1))
        # This computes jaccard = 1 - m / (2 - m) and final = jaccard * (1 - lambda) + original * lambda
        # in place, to need no second block.
        m.div_(torch.rsub(m, 2.0)).neg_().add_(1.0).mul_(one_minus)
        out[a:b].mul_(lam).add_(m)
        del m, flat_m


@torch.no_grad()
def _rerank(src, k1, k2, lambda_value, block_rows=None, query_rows=None) -> torch.Tensor:
    N, Q, G = src.N, src.Q, src.G
    if block_rows is None:
        block_rows = max(1, _BLOCK_ELEMS // max(1, N))
    if query_rows is None:
        query_rows = max(1, _BLOCK_ELEMS // 2 // max(1, G))
    out = torch.empty((Q, G), dtype=torch.float32, device=src.device)
    if Q == 0 or G == 0:
        return out
    k = min(max(k1 + 1, k2), N)
    knn, rowmax = _neighbours(src, k, block_rows, out)
    ptr, cols, vals = _expanded_v(knn, src, rowmax, k1)
    if k2 != 1:
        ptr, cols, vals = _query_expansion(ptr, cols, vals, knn, k2)
    del knn
    _jaccard_into(out, ptr, cols, vals, Q, float(lambda_value), query_rows)
    return out


def k_reciprocal(q_g_dist, q_q_dist, g_g_dist, k1=20, k2=6, lambda_value=0.3):
    """Re-rank a query x gallery distance matrix by k-reciprocal encoding.

    Args:
        q_g_dist: (Q, G) query-gallery distances (euclidean, as torchreid computes them: they
            are squared here, as in the reference).
        q_q_dist: (Q, Q) query-query distances.
        g_g_dist: (G, G) gallery-gallery distances.
        k1, k2, lambda_value: as in the paper (20, 6, 0.3); ``k2 = 1`` means no query expansion.

    Returns the (Q, G) re-ranked distances, float32: a numpy array when ``q_g_dist`` is one, else
    a tensor on ``q_g_dist``'s device (the other two are moved there if they are not). Equal to
    torchreid's ``re_ranking`` to about 1e-7 on inputs without ties in the neighbour ranking;
    ties are broken by the lower index (queries first, then gallery), see the module docstring.
    """
    _check_params(k1, k2, lambda_value)
    as_numpy = not isinstance(q_g_dist, torch.Tensor)
    qg = _to_tensor(q_g_dist)
    qq = _to_tensor(q_q_dist, qg.device)
    gg = _to_tensor(g_g_dist, qg.device)
    if qg.dim() != 2:
        raise ValueError(f"q_g_dist must be 2-d (Q, G), got shape {tuple(qg.shape)}")
    Q, G = qg.shape
    if tuple(qq.shape) != (Q, Q) or tuple(gg.shape) != (G, G):
        raise ValueError(
            f"expected q_q_dist ({Q}, {Q}) and g_g_dist ({G}, {G}) for q_g_dist ({Q}, {G}), "
            f"got {tuple(qq.shape)} and {tuple(gg.shape)}"
        )
    out = _rerank(_MatrixSource(qg, qq, gg), k1, k2, lambda_value)
    return out.cpu().numpy() if as_numpy else out


def k_reciprocal_from_features(q_feats, g_feats, k1=20, k2=6, lambda_value=0.3, chunk=None, distance="euclidean"):
    """Re-rank by k-reciprocal encoding from features, never holding more than ``chunk`` rows of
    the all x all distance matrix (the query x gallery result aside).

    Euclidean distances between the features (what ``k_reciprocal`` is usually fed), or with
    ``distance="cosine"`` the cosine distances of the L2-normalised features, are computed a
    block of ``chunk`` rows at a time (default: about 128 MB of float32 per block), as
    ``|a|^2 + |b|^2 - 2 a.b`` (or ``1 - a.b``) in float32. Same result as ``k_reciprocal`` on
    those distances. Returns a (Q, G) float32 numpy array for numpy features, else a tensor on
    ``q_feats``' device.
    """
    _check_params(k1, k2, lambda_value)
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1):
        raise ValueError(f"chunk must be an integer >= 1 or None, got {chunk!r}")
    as_numpy = not isinstance(q_feats, torch.Tensor)
    qf = _to_tensor(q_feats)
    gf = _to_tensor(g_feats, qf.device)
    if qf.dim() != 2 or gf.dim() != 2 or qf.shape[1] != gf.shape[1]:
        raise ValueError(f"features must be (Q, D) and (G, D), got {tuple(qf.shape)} and {tuple(gf.shape)}")
    if distance not in ("euclidean", "cosine"):
        raise ValueError(f"distance must be euclidean or cosine, got {distance!r}")
    out = _rerank(_FeatureSource(qf, gf, distance), k1, k2, lambda_value, block_rows=chunk)
    return out.cpu().numpy() if as_numpy else out
