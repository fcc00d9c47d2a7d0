"""Measure our k-reciprocal re-ranking (``reid.rerank.k_reciprocal``) against torchreid's
reference ``re_ranking`` on the same Market-1501-sized problem.

``measure()`` builds random features with identity structure (identity centres plus camera
offsets plus noise, 6 cameras, distractors with pid 0), their euclidean distances (float32
numpy, as torchreid feeds the re-ranking), and runs each method in a fresh subprocess that
loads the inputs from .npy files. The time is the wall clock of the call (``time.perf_counter``;
CUDA synchronised). The memory is the peak resident set size of that subprocess beyond its
resident size once the inputs are loaded (the kernel's peak counter, VmHWM, is reset after loading through
``/proc/self/clear_refs``; where that is not allowed, ``ru_maxrss`` of the whole run is used and
``memory_method`` says so). On CUDA the peak of ``torch.cuda.max_memory_allocated`` beyond the
inputs is reported too. Then it checks the max abs difference of the two results and the
CMC / mAP of each (``reid.metrics.cmc_map``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from reid.bench.reference import load_torchreid_file, time_and_peak, torchreid_file
from reid.metrics import cmc_map
from reid.rerank import _MatrixSource, _to_tensor, k_reciprocal

NUM_CAMERAS = 6


def reference_path() -> Path:
    """The file of torchreid's ``re_ranking``, found without importing torchreid."""
    return torchreid_file("reid", "utils", "rerank.py")


def load_reference():
    return load_torchreid_file("reid", "utils", "rerank.py")


def make_problem(
    num_query: int = 3368,
    num_gallery: int = 15913,
    dim: int = 2048,
    seed: int = 0,
    num_ids: int = 750,
    distractor_fraction: float = 0.175,
):
    """Return random features with identity structure: identity centre + camera offset + noise.

    A ``distractor_fraction`` of the gallery are distractors (pid 0, each its own random centre),
    and the rest are spread over ``num_ids`` identities (pids 1..num_ids); queries are drawn from
    those identities. There are 6 cameras. The scales give a mAP of about 0.27 (rank-1 0.67) before re-ranking and
    0.83 (rank-1 0.93) after, at the default size and seed, so
    that CMC and mAP are informative. Returns a dict of numpy arrays (float32 features).
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((num_ids + 1, dim), dtype=np.float32)
    cam_offsets = 0.6 * rng.standard_normal((NUM_CAMERAS, dim), dtype=np.float32)
    noise = 3.2

    num_distr = int(round(distractor_fraction * num_gallery))
    g_pids = np.concatenate([np.zeros(num_distr, np.int64), 1 + np.arange(num_gallery - num_distr) % num_ids])
    g_cams = rng.integers(0, NUM_CAMERAS, num_gallery)
    q_pids = 1 + rng.integers(0, num_ids, num_query)
    q_cams = rng.integers(0, NUM_CAMERAS, num_query)

    def feats(pids, cams):
        out = np.empty((len(pids), dim), np.float32)
        for s in range(0, len(pids), 4096):
            p, c = pids[s : s + 4096], cams[s : s + 4096]
            base = centres[p].copy()
            d = p == 0  # Each distractor has a centre of its own.
            base[d] = rng.standard_normal((int(d.sum()), dim), dtype=np.float32)
            out[s : s + 4096] = base + cam_offsets[c] + noise * rng.standard_normal((len(p), dim), dtype=np.float32)
        return out

    return {
        "q_feats": feats(q_pids, q_cams),
        "g_feats": feats(g_pids, g_cams),
        "q_pids": q_pids,
        "g_pids": g_pids,
        "q_camids": q_cams,
        "g_camids": g_cams,
    }


def euclidean(a: np.ndarray, b: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Return euclidean distances in float32 as torchreid computes them (|a|^2 + |b|^2 - 2ab, then sqrt)."""
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    sb = tb.square().sum(1)
    out = np.empty((len(a), len(b)), np.float32)
    for s in range(0, len(a), chunk):
        x = ta[s : s + chunk]
        d = torch.addmm(sb[None, :], x, tb.T, alpha=-2).add_(x.square().sum(1)[:, None])
        out[s : s + chunk] = d.clamp_(min=1e-12).sqrt_().numpy()
    return out


def boundary_ties(qg, qq, gg, k1: int = 20, k2: int = 6, block_rows: int = 2048) -> dict:
    """Find the rows of the normalised squared all x all distance whose neighbour sets are decided by an
    exact tie: the value at the k-th place equals the next one, for k = k1 + 1 (k-reciprocal
    sets), round(k1 / 2) + 1 (expansion) and k2 (query expansion). On those rows the reference
    (numpy's unstable argsort) and ours (lower index first) may pick different neighbours, which
    moves some re-ranked distances by up to about 1e-2; elsewhere the two agree to about 1e-7."""

    src = _MatrixSource(*(_to_tensor(x) for x in (qg, qq, gg)))
    places = {"k1+1": k1 + 1, "round(k1/2)+1": int(round(k1 / 2.0)) + 1, "k2": k2}
    places = {name: k for name, k in places.items() if k < src.N and not (name == "k2" and k2 == 1)}
    if not places:
        return {}
    kmax = max(places.values())
    counts = dict.fromkeys(places, 0)
    buf_all = torch.empty((min(block_rows, src.N), src.N), dtype=torch.float32)
    for a in range(0, src.N, block_rows):
        b = min(a + block_rows, src.N)
        buf = buf_all[: b - a]
        src.rows(a, b, buf)
        buf.div_(buf.amax(1, keepdim=True))
        vals = torch.topk(buf, kmax + 1, dim=1, largest=False, sorted=True).values
        for name, k in places.items():
            counts[name] += int((vals[:, k - 1] == vals[:, k]).sum())
    return counts


def _worker(folder: str, method: str, device: str, repeats: int) -> None:
    """Load the inputs in a subprocess, run one method and report its time and memory as JSON."""
    folder = Path(folder)
    qg, qq, gg = (np.load(folder / f"{n}.npy") for n in ("qg", "qq", "gg"))
    cuda = device.startswith("cuda")
    if method == "ours":
        if cuda:
            qg, qq, gg = (torch.from_numpy(x).to(device) for x in (qg, qq, gg))
            # This call initialises CUDA, which is left out of the timing.
            k_reciprocal(qg[:50, :200], qq[:50, :50], gg[:200, :200])
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            cuda_base = torch.cuda.memory_allocated()

        def run():
            return k_reciprocal(qg, qq, gg)
    else:
        ref = load_reference()

        def run():
            return ref.re_ranking(qg, qq, gg)

    result, rep = time_and_peak(run, repeats, cuda)
    if cuda and method == "ours":
        rep["cuda_peak_beyond_inputs_bytes"] = torch.cuda.max_memory_allocated() - cuda_base
        result = result.cpu().numpy()
    np.save(folder / f"result_{method}.npy", np.asarray(result, dtype=np.float32))
    print("RESULT " + json.dumps(rep))


def _run_worker(folder: Path, method: str, device: str, repeats: int) -> dict:
    code = (
        "import sys; from reid.bench.rerank_bench import _worker; "
        "_worker(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder), method, device, str(repeats)], capture_output=True, text=True
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{method} run failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def measure(
    num_query: int = 3368,
    num_gallery: int = 15913,
    dim: int = 2048,
    seed: int = 0,
    reference: bool = True,
    device: str = "cpu",
    repeats: int = 1,
) -> dict:
    """Measure the time and memory of ``k_reciprocal`` (and of torchreid's ``re_ranking`` if ``reference``)
    on a Market-1501-sized problem (k1=20, k2=6, lambda=0.3), each in its own subprocess.

    ``device`` is where ours runs (the reference is numpy, always on the CPU); ``repeats`` runs
    each method that many times in its subprocess (``time_s`` is the fastest, ``times_s`` all).
    Returns a JSON-able dict: problem size, per method ``time_s``, ``peak_rss_bytes``,
    ``peak_beyond_inputs_bytes`` (and on CUDA ``cuda_peak_beyond_inputs_bytes``), the input
    size, mAP / rank-1 before and after re-ranking, and with the reference: ``max_abs_diff``
    (with how many entries and query rows differ by more than 1e-4), the differences in mAP and
    CMC, ``rows_with_boundary_ties`` (see ``boundary_ties``: exact float32 ties in the neighbour
    ranking, where the reference's choice is arbitrary and may differ from ours; they are what
    makes ``max_abs_diff`` exceed 1e-4 when it does) and the ratios reference / ours of time and
    memory.
    The reference needs torchreid==0.2.5 and raises ``ImportError`` otherwise.
    """
    if reference:
        reference_path()  # A missing torchreid fails here, before anything is built.
    prob = make_problem(num_query, num_gallery, dim, seed)
    report = _settings(num_query, num_gallery, dim, seed, device, repeats)
    with tempfile.TemporaryDirectory(prefix="rerank_bench_") as tmp:
        folder = Path(tmp)
        _save_distances(folder, prob, report)
        for m in ["ours"] + (["reference"] if reference else []):
            r = _run_worker(folder, m, device, repeats)
            r["time_s"] = min(r["times_s"])
            report[m] = r
        ours = np.load(folder / "result_ours.npy")
        e_ours = _add_metrics(report["ours"], ours, prob)
        if reference:
            _compare_with_reference(folder, ours, e_ours, prob, report)
    return report


def _settings(num_query: int, num_gallery: int, dim: int, seed: int, device: str, repeats: int) -> dict:
    """Return the problem, the re-ranking parameters and the machine, which the figures depend on."""
    return {
        "num_query": num_query,
        "num_gallery": num_gallery,
        "dim": dim,
        "seed": seed,
        "k1": 20,
        "k2": 6,
        "lambda_value": 0.3,
        "device": device,
        "repeats": repeats,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }


def _save_distances(folder: Path, prob: dict, report: dict) -> None:
    """Write the three distance matrices that the methods read, and record their size and the
    metrics before re-ranking. The features are taken out of ``prob`` and the query-gallery
    distances are not kept, so that their memory is free before the methods run."""

    qf, gf = prob.pop("q_feats"), prob.pop("g_feats")
    qg = euclidean(qf, gf)
    np.save(folder / "qg.npy", qg)
    np.save(folder / "qq.npy", euclidean(qf, qf))
    np.save(folder / "gg.npy", euclidean(gf, gf))
    del qf, gf
    report["input_bytes"] = sum((folder / f"{n}.npy").stat().st_size for n in ("qg", "qq", "gg"))
    before = cmc_map(qg, **prob)
    report["before"] = {"mAP": float(before["mAP"]), "rank1": float(before["cmc"][0])}


def _add_metrics(figures: dict, distances: np.ndarray, prob: dict) -> dict:
    """Add the mAP and rank-1 of re-ranked ``distances`` to a method's figures and return all its metrics."""

    metrics = cmc_map(distances, **prob)
    figures.update(mAP=float(metrics["mAP"]), rank1=float(metrics["cmc"][0]))
    return metrics


def _compare_with_reference(folder: Path, ours: np.ndarray, e_ours: dict, prob: dict, report: dict) -> None:
    """Record how far the reference's result is from ours, why (the rows whose neighbour sets an
    exact tie decides), and the reference's time and memory over ours."""
    ref = np.load(folder / "result_reference.npy")
    e_ref = _add_metrics(report["reference"], ref, prob)
    diff = np.abs(ours - ref)
    report["max_abs_diff"] = float(diff.max())
    report["entries_over_1e-4"] = int((diff > 1e-4).sum())
    report["query_rows_over_1e-4"] = int((diff > 1e-4).any(1).sum())
    del diff
    inputs = [np.load(folder / f"{n}.npy", mmap_mode="r") for n in ("qg", "qq", "gg")]
    report["rows_with_boundary_ties"] = boundary_ties(*inputs)
    del inputs
    report["mAP_diff"] = abs(float(e_ours["mAP"]) - float(e_ref["mAP"]))
    report["mAP_official_diff"] = abs(float(e_ours["mAP_official"]) - float(e_ref["mAP_official"]))
    report["cmc_max_diff"] = float(np.abs(np.asarray(e_ours["cmc"]) - np.asarray(e_ref["cmc"])).max())
    report["time_ratio_reference_over_ours"] = report["reference"]["time_s"] / report["ours"]["time_s"]
    report["memory_ratio_reference_over_ours"] = report["reference"]["peak_beyond_inputs_bytes"] / max(
        1, report["ours"]["peak_beyond_inputs_bytes"]
    )
