"""CMC, mAP and mINP under the Market-1501 protocol.

For each query, gallery images of the same identity *and* camera are removed (junk, pid -1,
is dropped when the dataset is read); distractors (pid 0) stay and count as negatives; a
query left without any valid match is skipped and counted. Ties in distance are broken by
gallery order (a stable sort).

Two average-precision conventions are reported, both by name:
- ``mAP`` (default): mean over hits of the precision at that hit, as torchreid, fast-reid and
  BoT compute it; comparable with the paper.
- ``mAP_official``: the trapezoid rule of the official Market-1501 MATLAB/Python evaluation,
  which averages the precision just before and at each hit.
``mINP`` (Ye et al., "Deep learning for person re-identification: a survey", as in their
ReID-Survey code and fast-reid) is the mean over queries of (number of true matches) / (rank
of the last true match, 1-based, after junk removal).

How it is computed, exactly and without arg-sorting whole rows: only the ranks of a query's
same-identity gallery entries matter (its true matches and its same-camera junk, a few dozen
among thousands). The rank of entry ``p`` in the stable order is the number of entries ``g``
with ``(d_g, g) < (d_p, p)``: with the row's *values* sorted (numpy's vectorised sort on the
CPU, a few times faster than an arg-sort, and threaded over blocks of rows), two binary
searches give the entries strictly below ``d_p`` and those equal to it; the rare equal ones
are resolved by gallery index. A true match's rank after junk removal is that rank minus the
junk ranked before it. Rows holding NaN, or with many ties, fall back to a stable arg-sort.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

# A row with more tied (value-equal) same-identity entries than this is ranked by a stable
# arg-sort instead, because each tie is otherwise resolved by a pass over the whole row.
TIE_PAIRS_PER_ROW = 16
# This many elements are compared at once when ties are resolved, which bounds the memory.
_TIE_BLOCK = 1 << 22


def _as_tensor(x, dtype=None, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return x.to(device=device, dtype=dtype) if (dtype or device) else x
    x = np.asarray(x)
    if any(st < 0 for st in x.strides):  # Torch cannot view negative strides (a[:, ::-1]).
        x = np.ascontiguousarray(x)
    return torch.as_tensor(x, dtype=dtype, device=device)


def _distances(distmat) -> torch.Tensor:
    """Return the distance matrix as a float32/float64 tensor, keeping its dtype so that no new ties appear."""
    dist = _as_tensor(distmat)
    if dist.ndim != 2:
        raise ValueError(f"distmat must be 2-D (queries x gallery), got shape {tuple(dist.shape)}")
    if dist.dtype in (torch.float16, torch.bfloat16):
        dist = dist.float()  # The widening is exact.
    elif not dist.is_floating_point():
        dist = dist.double()
    return dist


def _identities(num_q: int, num_g: int, q_pids, g_pids, q_camids, g_camids, device) -> tuple[torch.Tensor, ...]:
    """Return the identities and cameras as flat int64 tensors on the distances' device, checked
    against the matrix's shape, because a mismatch would silently score the wrong images."""
    q_pids, g_pids, q_camids, g_camids = (
        _as_tensor(ids, torch.int64, device).reshape(-1) for ids in (q_pids, g_pids, q_camids, g_camids)
    )
    if q_pids.numel() != num_q or g_pids.numel() != num_g or q_camids.numel() != num_q or g_camids.numel() != num_g:
        raise ValueError(
            f"distmat is {num_q}x{num_g} but got {q_pids.numel()} query / {g_pids.numel()} gallery ids "
            f"and {q_camids.numel()} / {g_camids.numel()} camera ids"
        )
    if num_g == 0:
        raise ValueError("the gallery is empty")
    return q_pids, g_pids, q_camids, g_camids


def _per_query(dist: torch.Tensor, q_pids, g_pids, q_camids, g_camids, chunk: int | None) -> tuple[torch.Tensor, ...]:
    """Return each query's AP (both conventions), INP and first hit, on the CPU.

    The queries are computed in blocks of ``chunk``, which run side by side in threads on the CPU."""
    num_q, num_g = dist.shape
    device = dist.device
    if chunk is None:
        chunk = 256 if device.type == "cpu" else max(256, (1 << 23) // num_g)
    chunk = max(1, int(chunk))

    # The gallery is grouped by identity, keeping gallery order inside a group, so that a query's
    # same-identity entries are one contiguous slice of ``g_order``.
    g_order = torch.argsort(g_pids, stable=True)
    sorted_pids = g_pids[g_order]
    starts = torch.searchsorted(sorted_pids, q_pids)
    counts = torch.searchsorted(sorted_pids, q_pids, right=True) - starts
    ctx = (dist, g_order, starts, counts, q_camids, g_camids)

    blocks = [(a, min(a + chunk, num_q)) for a in range(0, num_q, chunk)]
    workers = 1 if device.type != "cpu" else max(1, min(len(blocks), torch.get_num_threads(), os.cpu_count() or 1))
    if workers > 1:
        # Numpy's sort, the bulk of the work, releases the GIL, so the blocks can run side by side.
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda b: _block(ctx, *b), blocks))
    else:
        parts = [_block(ctx, a, b) for a, b in blocks]
    if not parts:
        empty = torch.zeros(0, dtype=torch.float64)
        return empty, empty, empty, torch.zeros(0, dtype=torch.int64)
    return tuple(torch.cat(x).cpu() for x in zip(*parts))


@torch.no_grad()
def cmc_map(distmat, q_pids, g_pids, q_camids, g_camids, max_rank: int = 50, chunk: int | None = None) -> dict:
    """Evaluate a query x gallery distance matrix (numpy arrays or tensors) by the Market-1501 protocol.

    Returns ``cmc`` (numpy, index 0 = rank 1, over the evaluated queries), ``mAP``,
    ``mAP_official``, ``mINP`` (fractions), ``ap`` and ``first_hit`` per query (NaN / -1 where
    skipped; first_hit is the 0-based rank of the first valid match), ``num_skipped``,
    ``num_query``. CUDA tensors are evaluated on their GPU. ``chunk`` queries are processed at
    once (memory: about 8 x chunk x gallery bytes per worker thread; default 256 on the CPU,
    about 8 M distances' worth on a GPU, some 250 MB).
    """
    dist = _distances(distmat)
    num_q, num_g = dist.shape
    ids = _identities(num_q, num_g, q_pids, g_pids, q_camids, g_camids, dist.device)
    max_rank = min(max_rank, num_g)
    ap, ap_official, inp, first_hit = _per_query(dist, *ids, chunk)
    evaluated = first_hit >= 0
    num_valid = int(evaluated.sum())
    if num_valid == 0:
        raise ValueError("no query has a valid match in the gallery (same identity from another camera)")
    ranks = first_hit[evaluated]
    cmc = torch.bincount(ranks.clamp(max=max_rank), minlength=max_rank + 1)[:max_rank].cumsum(0)
    return {
        "cmc": (cmc.to(torch.float64) / num_valid).numpy(),
        "mAP": float(ap[evaluated].mean()),
        "mAP_official": float(ap_official[evaluated].mean()),
        "mINP": float(inp[evaluated].mean()),
        "ap": ap.numpy(),
        "first_hit": first_hit.numpy(),
        "num_skipped": num_q - num_valid,
        "num_query": num_q,
    }


def _block(ctx, start: int, stop: int):
    """Return the per-query AP (mean precision), AP (trapezoid), INP and first hit of queries start:stop."""
    dist, g_order, starts, counts, q_camids, g_camids = ctx
    device = dist.device
    num_g = dist.shape[1]
    rows = dist[start:stop]
    n = stop - start
    cnt = counts[start:stop]
    width = int(cnt.max()) if n else 0
    if width == 0:  # No query of the block has its identity in the gallery.
        nan = torch.full((n,), float("nan"), dtype=torch.float64, device=device)
        return nan, nan.clone(), nan.clone(), torch.full((n,), -1, dtype=torch.int64, device=device)

    # Each query's same-identity gallery entries are padded to the block's widest, so that the block
    # is one rectangular tensor.
    col = torch.arange(width, device=device)
    valid = col[None, :] < cnt[:, None]
    slot = (starts[start:stop, None] + col[None, :]).clamp_(max=num_g - 1)
    same = g_order[slot]  # These gallery indices increase along a row where valid.
    same_cam = g_camids[same] == q_camids[start:stop, None]
    pos = valid & ~same_cam  # These are the true matches.
    junk = valid & same_cam  # The protocol removes the same identity seen by the same camera.

    rank = _stable_ranks(rows, same, valid)  # This is each entry's 0-based rank in the whole row.
    # Padding ranks after everything and distinctly, so it ties nothing.
    rank = torch.where(valid, rank, num_g + col[None, :])

    # Each query's same-identity entries are walked in rank order, as the precisions need.
    rank, order = torch.sort(rank, dim=1)
    pos = pos.gather(1, order)
    junk = junk.gather(1, order).to(torch.int64)
    kept = rank - (torch.cumsum(junk, dim=1) - junk)  # This is the 0-based rank after junk removal.
    hit_no = torch.cumsum(pos, dim=1).to(torch.float64)  # The i-th hit counts i + 1.
    num_rel = pos.sum(1)
    kept_f = kept.to(torch.float64)
    prec = hit_no / (kept_f + 1)
    before = torch.where(kept > 0, (hit_no - 1) / kept_f.clamp(min=1), torch.ones_like(kept_f))
    zero = torch.zeros_like(prec)
    # The sum runs in rank order (a cumulative sum is sequential), so it gives the same bits
    # whatever the padding.
    ap_sum = torch.where(pos, prec, zero).cumsum(1)[:, -1]
    trap_sum = torch.where(pos, (before + prec) / 2, zero).cumsum(1)[:, -1]
    first = torch.where(pos, kept, torch.full_like(kept, num_g)).min(1).values
    last = torch.where(pos, kept, torch.full_like(kept, -1)).max(1).values

    ok = num_rel > 0
    nrel = num_rel.clamp(min=1).to(torch.float64)
    nan = torch.full_like(ap_sum, float("nan"))
    ap = torch.where(ok, ap_sum / nrel, nan)
    ap_official = torch.where(ok, trap_sum / nrel, nan)
    inp = torch.where(ok, num_rel.to(torch.float64) / (last.clamp(min=0) + 1).to(torch.float64), nan)
    first_hit = torch.where(ok, first, torch.full_like(first, -1))
    return ap, ap_official, inp, first_hit


def _sort_values(rows: torch.Tensor) -> torch.Tensor:
    """Return each row's values in ascending order, with NaN last."""
    if rows.device.type == "cpu":
        return torch.from_numpy(np.ascontiguousarray(np.sort(rows.numpy(), axis=1)))
    return torch.sort(rows, dim=1).values.contiguous()


def _stable_ranks(rows: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Return, for gallery entries ``idx`` (n, w) of each row, the number of entries g of the row
    with (d_g, g) < (d_p, p), which is the 0-based position of p in the stable ascending order."""
    n, num_g = rows.shape
    values = rows.gather(1, idx).contiguous()
    ordered = _sort_values(rows)
    below = torch.searchsorted(ordered, values)  # This counts the entries strictly smaller.
    equal = torch.searchsorted(ordered, values, right=True) - below  # This is >= 1 (the entry itself) unless NaN.
    rank = below

    nan_rows = torch.isnan(ordered[:, -1])  # NaN sorts last, so the last value shows it.
    tied = valid & (equal > 1)
    many = tied.sum(1) > TIE_PAIRS_PER_ROW
    fallback = nan_rows | many
    tied &= ~fallback[:, None]
    if bool(tied.any()):
        # Among entries equal in value, those earlier in the gallery rank first, as in a stable sort.
        r, c = tied.nonzero(as_tuple=True)
        earlier = torch.empty_like(r)
        step = max(1, _TIE_BLOCK // num_g)
        g = torch.arange(num_g, device=rows.device)
        for a in range(0, len(r), step):
            rr, cc = r[a : a + step], c[a : a + step]
            same_value = rows[rr] == values[rr, cc][:, None]
            earlier[a : a + step] = (same_value & (g[None, :] < idx[rr, cc][:, None])).sum(1)
        rank = rank.clone()
        rank[r, c] += earlier
    if bool(fallback.any()):
        (fr,) = fallback.nonzero(as_tuple=True)
        order = torch.argsort(rows[fr], dim=1, stable=True)
        position = torch.empty_like(order)
        position.scatter_(1, order, torch.arange(num_g, device=rows.device).expand_as(order).contiguous())
        rank = rank.clone()
        rank[fr] = position.gather(1, idx[fr])
    return rank


@torch.no_grad()
def ranked_gallery(distmat, k: int = 10, chunk: int = 1024) -> np.ndarray:
    """Return (Q, min(k, G)) int64: each query's k nearest gallery indices, nearest first.

    Ties stay in gallery order (the first k of a stable arg-sort), and whole rows are not sorted."""
    dist = _distances(distmat)
    num_q, num_g = dist.shape
    k = min(int(k), num_g)
    out = torch.empty((num_q, k), dtype=torch.int64)
    if k <= 0 or num_q == 0:
        return out.numpy()
    for start in range(0, num_q, chunk):
        rows = dist[start : start + chunk]
        kth = torch.topk(rows, k, dim=1, largest=False, sorted=True).values[:, -1:]
        # The k nearest and anything tied with the k-th come row-major, so gallery order holds inside a row.
        r, c = (rows <= kth).nonzero(as_tuple=True)
        short = torch.bincount(r, minlength=len(rows)) < k  # A row with NaN among its nearest is done the slow way.
        if bool(short.any()):
            keep = ~short[r]
            r, c = r[keep], c[keep]
        o = torch.argsort(rows[r, c], stable=True)
        o = o[torch.argsort(r[o], stable=True)]  # This orders by row, then value, then gallery index.
        r, c = r[o], c[o]
        counts = torch.bincount(r, minlength=len(rows))
        first = torch.cumsum(counts, 0) - counts
        take = (first[:, None] + torch.arange(k, device=rows.device)[None, :])[~short]
        top = torch.empty((len(rows), k), dtype=torch.int64, device=rows.device)
        top[~short] = c[take.reshape(-1)].reshape(-1, k)
        if bool(short.any()):
            top[short] = torch.argsort(rows[short], dim=1, stable=True)[:, :k]
        out[start : start + len(rows)] = top.cpu()
    return out.numpy()
