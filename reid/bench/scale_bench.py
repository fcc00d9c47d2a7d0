"""What an evaluation at a dataset's size needs: ``python -m reid.bench scale``.

The evaluate job's scoring (reid.evaluate.score_readings: the distances under both readings,
CMC, mAP, mINP and each query's ten nearest, re-ranked with ``--rerank``) on random features of
the given number of queries, gallery images and dimensions, as it runs after extraction. It
prints the seconds and the process's peak memory, and which re-ranking path the size takes.
The defaults are MSMT17's test split (11,659 x 82,161) with the paper's residual head (3,072-d):
the README's figures for what MSMT17 needs. Extraction is not included: it is the model's
inference, which ``python -m reid.bench embed`` measures.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from reid.evaluate import Identities, rerank_path, score_readings
from reid.provenance import cpu_model
from reid.runtime import Runtime
from reid.utils import atomic_write_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--num-query", type=int, default=11659, help="queries (MSMT17's)")
    p.add_argument("--num-gallery", type=int, default=82161, help="gallery images (MSMT17's)")
    p.add_argument("--num-ids", type=int, default=3060, help="test identities (MSMT17's)")
    p.add_argument("--cameras", type=int, default=15, help="cameras (MSMT17's)")
    p.add_argument("--dim", type=int, default=3072, help="feature size (the paper's residual head)")
    p.add_argument("--rerank", action="store_true", help="with k-reciprocal re-ranking")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.set_defaults(func=run)


def peak_memory_gb() -> float:
    """Return the process's peak resident memory so far, in GB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def run(args) -> int:
    generator = torch.Generator().manual_seed(0)
    feats = {
        "query": torch.randn(args.num_query, args.dim, generator=generator),
        "gallery": torch.randn(args.num_gallery, args.dim, generator=generator),
    }
    rng = np.random.default_rng(0)
    ids = Identities(
        rng.integers(1, args.num_ids + 1, args.num_query),
        rng.integers(1, args.num_ids + 1, args.num_gallery),
        rng.integers(1, args.cameras + 1, args.num_query),
        rng.integers(1, args.cameras + 1, args.num_gallery),
    )
    before = peak_memory_gb()
    start = time.perf_counter()
    score_readings(feats, ids, "euclidean", args.rerank, Runtime.resolve("cpu", "auto", "auto", "off", "bench"), {})
    figures = {
        "machine": cpu_model(),
        "command": f"python -m reid.bench scale --num-query {args.num_query} --num-gallery {args.num_gallery} "
        f"--dim {args.dim}" + (" --rerank" if args.rerank else ""),
        "rerank_path": rerank_path(args.num_query, args.num_gallery) if args.rerank else None,
        "seconds": round(time.perf_counter() - start, 1),
        "peak_memory_GB": round(peak_memory_gb(), 2),
        "peak_memory_before_scoring_GB": round(before, 2),  # torch and the features alone
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        atomic_write_json(args.json, figures)
    return 0
