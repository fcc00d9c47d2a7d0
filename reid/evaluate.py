"""This module evaluates a trained model: ``python -m reid evaluate --checkpoint RUN/model.pt --dataset NAME ... --out DIR``.

It loads a ``model.pt`` written by ``python -m reid train``, rebuilds the network from the
config stored in it, decodes the query and gallery images through the same uint8 cache as
training (same size, same keys), extracts embeddings (optionally averaged with the mirror
image), computes euclidean or cosine distances, optionally re-ranks them (k-reciprocal,
k1=20, k2=6, lambda=0.3) and evaluates under the Market-1501 protocol (``reid.metrics``).
It writes to DIR, atomically, ``per_query.npz`` and then ``metrics.json``, so that a
metrics.json always comes with its per-query file:

    metrics.json   R1, R5, R10, mAP, mAP_official, mINP (fractions), the CMC curve to rank 50,
                   counts, options, timings, checkpoint, variant, weights digest, dataset and its
                   fingerprint, device and provenance; ``features``: extracted here, or taken from the
                   training's last evaluation (its features.pt, when of the same weights,
                   images and extraction settings: nothing is extracted twice)
    per_query.npz  ap, first_hit (0-based, -1: skipped), q_pids, q_camids, top10 (each query's
                   10 nearest gallery indices, after re-ranking if any, without the query's junk
                   as the metric ranks them, ties in gallery order; -1 pads), g_pids, g_camids,
                   q_paths and g_paths (relative to the dataset root); ap_raw, first_hit_raw,
                   ap_normalized, first_hit_normalized: the same under both readings of the test
                   distance (raw features: euclidean; L2-normalised: cosine), for the report's
                   sensitivity table (``metrics.json``'s ``by_distance`` summarises them)

The training's evaluation every ``eval_every`` epochs (``evaluate_model``) runs the same
extraction and scoring, so that the learning curves and the final results are one measurement.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from reid.checkpoints import build_from_checkpoint, load_model_file, train_config_of
from reid.data import ReidDataset, fingerprint
from reid.data.cache import load_images
from reid.features import (
    FEATURES_FILE,
    cosine_distances,
    euclidean_distances,
    extract_features,
    extraction_key,
    load_run_features,
)
from reid.metrics import cmc_map, ranked_gallery
from reid.provenance import provenance
from reid.rerank import k_reciprocal, k_reciprocal_from_features
from reid.runtime import Runtime
from reid.utils import atomic_path, atomic_write_json

DISTANCES = {"euclidean": euclidean_distances, "cosine": cosine_distances}
DEFAULT_DISTANCE = "euclidean"  # what the workflow's evaluations rank with, and so what embed records
# The paper does not say which test distance it used, so both readings are kept: raw features, or
# L2-normalised ones as BoT does (the cosine distance ranks as euclidean does on normalised features).
READINGS = {"raw": "euclidean", "normalized": "cosine"}
READING_OF = {distance: reading for reading, distance in READINGS.items()}
RERANK_PARAMS = {"k1": 20, "k2": 6, "lambda_value": 0.3}
AS_CONFIG = "config"  # By default cache_dir is the one the model was trained with.


def top_ranked(
    dist, q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray, k: int = 10
) -> np.ndarray:
    """Return the (Q, k) gallery indices of each query's k nearest, as the metric ranks them.

    Ties stay in gallery order, the query's junk (same identity, same camera) is left out, and -1
    pads short rows."""
    # Ranking as many more as the most junk any query has leaves k after each query's own is dropped.
    keys, counts = np.unique(np.stack([g_pids, g_camids], 1), axis=0, return_counts=True)
    per_key = {tuple(key): int(c) for key, c in zip(keys.tolist(), counts)}
    junk = max((per_key.get((p, c), 0) for p, c in zip(q_pids.tolist(), q_camids.tolist())), default=0)
    top = ranked_gallery(dist, k + junk)
    is_junk = (g_pids[top] == q_pids[:, None]) & (g_camids[top] == q_camids[:, None])
    order = np.argsort(is_junk, axis=1, kind="stable")  # This moves junk to the end and keeps the rest in rank order.
    top, is_junk = np.take_along_axis(top, order, 1), np.take_along_axis(is_junk, order, 1)
    top = np.where(is_junk, -1, top)[:, :k]
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])), constant_values=-1)
    return top


# Re-ranking from the distance matrices holds three of them, query x query, query x gallery and
# gallery x gallery, in float32: 1.3 GB at Market-1501's size, 31 GB at MSMT17's (11,659 x
# 82,161). Above this many bytes the evaluation re-ranks from the features instead, a block of
# rows at a time (reid.rerank.k_reciprocal_from_features: python -m reid.bench scale --rerank
# measured 7.5 GB at MSMT17's size, both readings), so that no setting is needed.
DENSE_RERANK_BYTES = 4 * 1024**3


def rerank_path(num_query: int, num_gallery: int) -> str:
    """Return how a query x gallery evaluation is re-ranked: "dense" (from the distance matrices)
    when the three fit DENSE_RERANK_BYTES, else "from features" (bounded memory)."""
    q, g = num_query, num_gallery
    return "dense" if 4 * (q * q + q * g + g * g) <= DENSE_RERANK_BYTES else "from features"


def rerank_from_features(feats: dict, measure) -> torch.Tensor:
    """Re-rank from the features in bounded memory, by the same distance as ``measure``: the same
    result as the dense path to float precision, under either reading."""
    distance = "cosine" if measure is cosine_distances else "euclidean"
    return k_reciprocal_from_features(feats["query"], feats["gallery"], **RERANK_PARAMS, distance=distance)


def ranking_distances(feats: dict, measure, rerank: bool, runtime: Runtime) -> tuple[torch.Tensor, dict]:
    """Return the query x gallery distances by ``measure``, k-reciprocal re-ranked if asked, and their timings."""
    timings = {}
    t = time.perf_counter()
    if rerank and rerank_path(len(feats["query"]), len(feats["gallery"])) == "from features":
        dist = rerank_from_features(feats, measure)
        runtime.sync()
        timings["rerank_s"] = time.perf_counter() - t
        return dist, timings
    dist = measure(feats["query"], feats["gallery"])
    runtime.sync()
    timings["distance_s"] = time.perf_counter() - t
    if rerank:
        t = time.perf_counter()
        q_q = measure(feats["query"], feats["query"])
        g_g = measure(feats["gallery"], feats["gallery"])
        dist = k_reciprocal(dist, q_q, g_g, **RERANK_PARAMS)
        del q_q, g_g
        runtime.sync()
        timings["rerank_s"] = time.perf_counter() - t
    return dist, timings


class Identities(NamedTuple):
    """This holds the identities and cameras of the test split's query and gallery images, in cmc_map's order."""

    q_pids: np.ndarray
    g_pids: np.ndarray
    q_camids: np.ndarray
    g_camids: np.ndarray


def identities(dataset: ReidDataset) -> Identities:
    """Return the test split's identities and cameras as int64 arrays, which cmc_map and per_query.npz take."""
    return Identities(
        np.array([s.pid for s in dataset.query], dtype=np.int64),
        np.array([s.pid for s in dataset.gallery], dtype=np.int64),
        np.array([s.camid for s in dataset.query], dtype=np.int64),
        np.array([s.camid for s in dataset.gallery], dtype=np.int64),
    )


def extract_test_features(
    model: torch.nn.Module, images: dict, runtime: Runtime, batch_size: int, flip: bool
) -> dict[str, torch.Tensor]:
    """Return the query and gallery embeddings of ``model`` on the runtime's device, where the distances are computed."""
    return {
        split: extract_features(model, images[split], runtime, batch_size, flip).to(runtime.device)
        for split in ("query", "gallery")
    }


def score(
    feats: dict, ids: Identities, reading: str, rerank: bool, runtime: Runtime
) -> tuple[dict, torch.Tensor, dict]:
    """Return cmc_map of the features under one reading of the test distance (see READINGS),
    k-reciprocal re-ranked if asked. It also returns the distances it ranked, because the caller
    may need them for the ranked lists, and the timings of each step."""
    dist, timings = ranking_distances(feats, DISTANCES[READINGS[reading]], rerank, runtime)
    t = time.perf_counter()
    result = cmc_map(dist, *ids)
    timings["metric_s"] = time.perf_counter() - t
    return result, dist, timings


def evaluate_model(
    model: torch.nn.Module, images: dict, ids: Identities, runtime: Runtime, batch_size: int, flip: bool
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Return the test split's cmc_map of ``model`` from its decoded query and gallery images, and
    the features it extracted.

    The training's evaluation every ``eval_every`` epochs (the Figure 5 curves) calls this, so that
    its numbers come from the same extraction and scoring as ``evaluate_checkpoint``'s: raw
    features, euclidean distances, no re-ranking.
    """
    feats = extract_test_features(model, images, runtime, batch_size, flip)
    result, _, _ = score(feats, ids, "raw", rerank=False, runtime=runtime)
    return result, feats


def warn_if_trained_elsewhere(checkpoint, payload: dict, dataset: ReidDataset, data_key: str) -> None:
    """Warn when the model was trained on another dataset than the one it is evaluated on.

    That is right for a cross-dataset evaluation, and a sign of a changed dataset otherwise, so
    it is said but not refused.
    """
    trained_on = payload.get("dataset_fingerprint")
    if trained_on != data_key:
        warnings.warn(
            f"{checkpoint} was trained on dataset {payload.get('dataset', '?')} (fingerprint {trained_on}), not on "
            f"this {dataset.name} (fingerprint {data_key}): fine for a cross-dataset evaluation; otherwise the "
            "dataset has changed since training.",
            stacklevel=3,  # The warning points at the caller of evaluate_checkpoint.
        )


def saved_features(checkpoint, payload: dict, data_key: str, runtime: Runtime, flip: bool, batch_size: int):
    """Return the features the training's last evaluation left beside ``checkpoint``, on the
    runtime's device, when they are of the same weights, images and extraction
    (reid.features.extraction_key). It returns None otherwise, and then they must be extracted here."""
    if not payload.get("weights_sha256"):
        return None
    wanted = extraction_key(payload["weights_sha256"], data_key, runtime, flip, batch_size)
    saved = load_run_features(Path(checkpoint).parent / FEATURES_FILE, wanted)
    return None if saved is None else {split: f.to(runtime.device) for split, f in saved.items()}


def extract_from_checkpoint(
    checkpoint, payload: dict, dataset: ReidDataset, cache: str, runtime: Runtime, flip: bool, batch_size: int, timings
) -> dict[str, torch.Tensor]:
    """Decode the test images, rebuild the network of ``payload`` and extract its features. The
    time each step took goes into ``timings``."""
    cfg = train_config_of(payload)
    t = time.perf_counter()
    images = load_images(dataset, cfg.height, cfg.width, cache, cfg.decode_workers, ("query", "gallery"))
    timings["load_images_s"] = time.perf_counter() - t
    model = build_from_checkpoint(payload, checkpoint)
    runtime.place(model)
    t = time.perf_counter()
    feats = extract_test_features(model, images, runtime, batch_size, flip)
    runtime.sync()
    timings["extract_s"] = time.perf_counter() - t
    return feats


def score_readings(
    feats: dict, ids: Identities, distance: str, rerank: bool, runtime: Runtime, timings: dict
) -> tuple[dict, np.ndarray]:
    """Return cmc_map under both readings of the test distance, the one asked for first, and that
    one's ten nearest gallery images of each query (per_query.npz's ``top10``).

    The paper does not say which reading it used, so the one asked for is the result and the
    other is for the report's sensitivity table. Only the chosen reading's timings are kept.
    """
    chosen = READING_OF[distance]
    readings = {}
    for reading in (chosen, *(r for r in READINGS if r != chosen)):
        readings[reading], dist, spent = score(feats, ids, reading, rerank, runtime)
        if reading == chosen:
            timings.update(spent)
            top10 = top_ranked(dist, *ids, 10)
        del dist  # This query x gallery matrix is freed before the next one is computed.
    return readings, top10


def rank(curve, k: int) -> float:
    """Return the CMC curve's value at rank ``k`` (1-based), or at its end when it is shorter."""
    return float(curve[min(k, len(curve)) - 1])


def headline(result: dict) -> dict:
    """Return the numbers that a table of results shows for one evaluation."""
    cmc = result["cmc"]
    return {"R1": rank(cmc, 1), "R5": rank(cmc, 5), "R10": rank(cmc, 10), "mAP": result["mAP"], "mINP": result["mINP"]}


def scores_record(readings: dict, distance: str, num_gallery: int) -> dict:
    """Return metrics.json's scores: those of the distance asked for, and a summary of both readings."""
    result = readings[READING_OF[distance]]
    top = headline(result)
    return {
        **{k: top[k] for k in ("R1", "R5", "R10", "mAP")},
        "mAP_official": result["mAP_official"],
        "mINP": result["mINP"],
        "cmc": [round(float(x), 6) for x in result["cmc"]],
        "num_query": result["num_query"],
        "num_skipped": result["num_skipped"],
        "num_gallery": num_gallery,
        "distance": distance,
        "by_distance": {reading: headline(r) for reading, r in readings.items()},
    }


def settings_record(rerank: bool, flip: bool, runtime: Runtime, cfg, feats: dict, reused: bool, timings: dict) -> dict:
    """Return metrics.json's record of how the scores were obtained."""
    return {
        "rerank": bool(rerank),
        "rerank_params": dict(RERANK_PARAMS) if rerank else None,
        "rerank_path": rerank_path(len(feats["query"]), len(feats["gallery"])) if rerank else None,
        "flip": bool(flip),
        "amp": runtime.amp,
        "precision": runtime.precision,  # The features' precision is recorded because bf16 and fp16 differ slightly.
        "input": [cfg.height, cfg.width],
        "feature_dim": int(feats["query"].shape[1]),
        "features": "from the training's last evaluation" if reused else "extracted",
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }


def origin_record(checkpoint, payload: dict, dataset: ReidDataset, data_key: str, runtime: Runtime) -> dict:
    """Return metrics.json's record of what was evaluated, on which data and machine, so that a result can be traced."""
    prov = provenance(runtime.device)
    return {
        "checkpoint": str(Path(checkpoint).resolve()),
        "variant": payload["variant"],
        # This names the weights evaluated, so that a model card can tell its model's metrics from another's.
        "weights_sha256": payload.get("weights_sha256"),
        "seed": payload.get("seed"),
        "dataset": dataset.name,
        "dataset_root": str(dataset.root),
        "dataset_fingerprint": data_key,
        "checkpoint_dataset": payload.get("dataset"),
        "checkpoint_dataset_fingerprint": payload.get("dataset_fingerprint"),
        "device": prov["device"],
        "provenance": prov,
        "train_provenance": payload.get("provenance"),
    }


def write_results(
    out: Path, metrics: dict, readings: dict, top10: np.ndarray, ids: Identities, dataset: ReidDataset
) -> None:
    """Write per_query.npz, then metrics.json, each atomically, so that a metrics.json always comes with its per-query file."""
    result = readings[READING_OF[metrics["distance"]]]
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").unlink(missing_ok=True)  # An older one must not outlive its per-query file.
    with atomic_path(out / "per_query.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                ap=result["ap"],
                first_hit=result["first_hit"],
                q_pids=ids.q_pids,
                q_camids=ids.q_camids,
                top10=top10,
                g_pids=ids.g_pids,
                g_camids=ids.g_camids,
                q_paths=np.array([os.path.relpath(s.path, dataset.root) for s in dataset.query]),
                g_paths=np.array([os.path.relpath(s.path, dataset.root) for s in dataset.gallery]),
                **{f"{key}_{reading}": r[key] for reading, r in readings.items() for key in ("ap", "first_hit")},
            )
    atomic_write_json(out / "metrics.json", metrics)


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    dataset: ReidDataset,
    out_dir: str | os.PathLike,
    rerank: bool = False,
    distance: str = DEFAULT_DISTANCE,
    flip: bool = False,
    batch_size: int = 128,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = AS_CONFIG,
) -> dict:
    """Evaluate ``checkpoint`` (a model.pt) on ``dataset``'s query and gallery, and return the
    metrics written to ``out_dir/metrics.json`` (see the module docstring).

    ``cache_dir`` is where decoded images are cached. It defaults to the model's training cache,
    so that nothing is decoded twice; None means no disk cache.
    """
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}: choose one of {', '.join(DISTANCES)}")
    started = time.perf_counter()
    payload = load_model_file(checkpoint)
    cfg = train_config_of(payload)
    runtime = Runtime.from_config(cfg, device=device)
    data_key = fingerprint(dataset)
    warn_if_trained_elsewhere(checkpoint, payload, dataset, data_key)

    timings = {}
    # The training's last evaluation has extracted these features already if they are of the same
    # weights, images and extraction settings; otherwise they are extracted here.
    feats = saved_features(checkpoint, payload, data_key, runtime, flip, batch_size)
    reused = feats is not None
    if not reused:
        cache = cfg.cache_dir if cache_dir == AS_CONFIG else (str(cache_dir) if cache_dir else "")
        feats = extract_from_checkpoint(checkpoint, payload, dataset, cache, runtime, flip, batch_size, timings)
    ids = identities(dataset)
    readings, top10 = score_readings(feats, ids, distance, rerank, runtime, timings)
    timings["total_s"] = time.perf_counter() - started

    metrics = {
        **scores_record(readings, distance, len(dataset.gallery)),
        **settings_record(rerank, flip, runtime, cfg, feats, reused, timings),
        **origin_record(checkpoint, payload, dataset, data_key, runtime),
    }
    write_results(Path(out_dir), metrics, readings, top10, ids, dataset)
    return metrics
