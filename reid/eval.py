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
"""

from __future__ import annotations

import numpy as np
import torch


def _as_tensor(x, dtype=None, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype) if (dtype or device) else x
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


@torch.no_grad()
def cmc_map(distmat, q_pids, g_pids, q_camids, g_camids, max_rank: int = 50, chunk: int = 256) -> dict:
    """Market-1501 evaluation of a query x gallery distance matrix (numpy arrays or tensors).

    Returns ``cmc`` (numpy, index 0 = rank 1, over the evaluated queries), ``mAP``,
    ``mAP_official``, ``mINP`` (fractions), ``ap`` and ``first_hit`` per query (NaN / -1 where
    skipped; first_hit is the 0-based rank of the first valid match), ``num_skipped``,
    ``num_query``.
    """
    dist = _as_tensor(distmat)
    device = dist.device
    q_pids = _as_tensor(q_pids, torch.int64, device)
    g_pids = _as_tensor(g_pids, torch.int64, device)
    q_camids = _as_tensor(q_camids, torch.int64, device)
    g_camids = _as_tensor(g_camids, torch.int64, device)
    num_q, num_g = dist.shape
    if q_pids.numel() != num_q or g_pids.numel() != num_g:
        raise ValueError(f"distmat is {num_q}x{num_g} but got {q_pids.numel()} query and {g_pids.numel()} gallery ids")
    max_rank = min(max_rank, num_g)

    ap = torch.full((num_q,), float("nan"), dtype=torch.float64)
    ap_official = torch.full((num_q,), float("nan"), dtype=torch.float64)
    inp = torch.full((num_q,), float("nan"), dtype=torch.float64)
    first_hit = torch.full((num_q,), -1, dtype=torch.int64)

    for start in range(0, num_q, chunk):
        stop = min(start + chunk, num_q)
        order = torch.argsort(dist[start:stop], dim=1, stable=True)
        pids, cams = g_pids[order], g_camids[order]
        same_pid = pids == q_pids[start:stop, None]
        keep = ~(same_pid & (cams == q_camids[start:stop, None]))
        hits = same_pid & keep
        # rank of each gallery entry among the kept ones (1-based), 0 where removed
        kept_rank = torch.cumsum(keep, dim=1) * keep
        num_rel = hits.sum(dim=1)
        hit_count = torch.cumsum(hits, dim=1)  # hits up to and including each position
        hits_f = hits.to(torch.float64)
        denom = kept_rank.clamp(min=1).to(torch.float64)
        # precision at each hit: (hits so far) / (kept rank)
        prec = hit_count.to(torch.float64) / denom * hits_f
        # official trapezoid: mean of precision before the hit, i/(r-1) (1 at r=1), and at it
        before = torch.where(
            kept_rank > 1,
            (hit_count - 1).to(torch.float64) / (kept_rank - 1).clamp(min=1).to(torch.float64),
            torch.ones_like(denom),
        )
        trap = (before + hit_count.to(torch.float64) / denom) / 2 * hits_f
        valid = num_rel > 0
        n = num_rel.clamp(min=1).to(torch.float64)
        # first and last hit ranks among kept entries (0-based)
        big = torch.iinfo(torch.int64).max
        first = torch.where(hits, kept_rank, torch.full_like(kept_rank, big)).min(dim=1).values - 1
        last = torch.where(hits, kept_rank, torch.zeros_like(kept_rank)).max(dim=1).values
        rows = slice(start, stop)
        ap[rows] = torch.where(valid, prec.sum(1) / n, torch.nan).cpu()
        ap_official[rows] = torch.where(valid, trap.sum(1) / n, torch.nan).cpu()
        inp[rows] = torch.where(valid, num_rel.to(torch.float64) / last.clamp(min=1).to(torch.float64), torch.nan).cpu()
        first_hit[rows] = torch.where(valid, first, torch.full_like(first, -1)).cpu()

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
