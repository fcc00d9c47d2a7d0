"""Measure the evaluation speed of ``reid.metrics.cmc_map`` against torchreid's Market-1501
evaluators on the same Market-1501-sized problem, then (unless skipped) the re-ranking figures
of ``reid.bench.rerank_bench.measure``.

The problem has 3,368 queries x 15,913 gallery images, 750 test identities over 6 cameras plus
2,793 distractors (pid 0), as in Market-1501. Each feature is an identity centre plus a camera
offset plus noise (512-d), tuned so that the metrics are those of a good model (R1 about 0.98,
mAP about 0.85), and the distances between them are euclidean in float32, as the suite computes them.

Each evaluator runs in a fresh subprocess that loads the inputs from .npy files. The time is
the wall clock of the call (``time.perf_counter``; CUDA synchronised), the fastest of ``--repeats``.
torchreid's Python evaluator runs ``--reference-repeats`` times instead, since it is by far the
slowest (this benchmark prints how slow).
The memory is the peak resident set size beyond the resident size once the inputs are loaded
(the kernel's peak counter VmHWM, reset through ``/proc/self/clear_refs``; where that is not
allowed, ``ru_maxrss`` of the whole process, and ``memory_method`` says so). On CUDA it is also
``torch.cuda.max_memory_allocated`` beyond the inputs.

torchreid's evaluators are loaded by file path (``torchreid/reid/metrics/rank.py`` of
torchreid==0.2.5), so that torchreid's package ``__init__`` does not run. Its Cython evaluator
is compiled from ``rank_cy.pyx`` into a temporary folder when Cython and a C compiler are
there; the PyPI release of torchreid 0.2.5 does not ship that file, so pass ``--cython-pyx``
with a copy from torchreid's source repository (``torchreid/metrics/rank_cylib/rank_cy.pyx``).
The results are compared too: torchreid sorts with numpy's unstable argsort, so where a
query's distances have exact ties (float32 distances have some) the order among tied gallery
entries, and with it a few APs, can differ from ours (gallery order); both differences are
printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from reid.bench.reference import load_torchreid_file, time_and_peak, torchreid_file
from reid.bench.rerank_bench import measure as rerank_measure
from reid.features import euclidean_distances
from reid.metrics import cmc_map
from reid.provenance import cpu_model
from reid.utils import atomic_write_json

NUM_CAMERAS = 6


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--num-query", type=int, default=3368)
    p.add_argument("--num-gallery", type=int, default=15913)
    p.add_argument("--num-ids", type=int, default=750, help="test identities")
    p.add_argument("--distractors", type=int, default=2793, help="gallery images with pid 0")
    p.add_argument("--dim", type=int, default=512, help="feature dimension")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where ours runs (torchreid: CPU)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of ours (the fastest is reported)")
    p.add_argument("--reference-repeats", type=int, default=1, help="timed runs of each torchreid evaluator")
    p.add_argument(
        "--cython-pyx",
        type=Path,
        default=None,
        help="torchreid's rank_cy.pyx (default: the installed torchreid's, which 0.2.5 from PyPI lacks)",
    )
    p.add_argument("--skip-reference", action="store_true", help="no torchreid (evaluation or re-ranking)")
    p.add_argument(
        "--skip-python-reference",
        action="store_true",
        help="skip torchreid's Python evaluator only (by far the slowest one)",
    )
    p.add_argument("--skip-rerank", action="store_true", help="no re-ranking figures")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.set_defaults(func=run)


# ---------------------------------------------------------------------------------- problem


def make_problem(
    num_query: int = 3368,
    num_gallery: int = 15913,
    num_ids: int = 750,
    distractors: int = 2793,
    dim: int = 512,
    seed: int = 0,
    noise: float = 1.0,
    camera_offset: float = 0.78,
) -> dict:
    """Return euclidean distances (float32, Q x G) between random features with identity structure, and the ids.

    Every identity has a query and at least one gallery image, so that every query can match;
    the rest are drawn at random, and cameras are uniform over 6.
    """

    if num_query < num_ids or num_gallery - distractors < num_ids:
        raise ValueError("need at least one query and one gallery image per identity")
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((num_ids + 1, dim), dtype=np.float32)
    offsets = camera_offset * rng.standard_normal((NUM_CAMERAS + 1, dim), dtype=np.float32)
    ids = np.arange(1, num_ids + 1)
    q_pids = np.concatenate([ids, rng.choice(ids, num_query - num_ids)])
    g_pids = np.concatenate(
        [ids, rng.choice(ids, num_gallery - distractors - num_ids), np.zeros(distractors, np.int64)]
    )
    g_pids = g_pids[rng.permutation(num_gallery)]
    q_cams = rng.integers(1, NUM_CAMERAS + 1, num_query)
    g_cams = rng.integers(1, NUM_CAMERAS + 1, num_gallery)

    def features(pids, cams):
        base = centres[pids]
        lone = pids == 0  # Each distractor is its own random person.
        base[lone] = rng.standard_normal((int(lone.sum()), dim), dtype=np.float32)
        return torch.from_numpy(base + offsets[cams] + noise * rng.standard_normal((len(pids), dim), dtype=np.float32))

    dist = euclidean_distances(features(q_pids, q_cams), features(g_pids, g_cams)).numpy()
    return {
        "distmat": dist,
        "q_pids": q_pids.astype(np.int64),
        "g_pids": g_pids.astype(np.int64),
        "q_camids": q_cams.astype(np.int64),
        "g_camids": g_cams.astype(np.int64),
    }


# ---------------------------------------------------------------------------------- torchreid


def torchreid_rank_path() -> Path:
    """Find torchreid's ``reid/metrics/rank.py`` without importing torchreid."""
    return torchreid_file("reid", "metrics", "rank.py")


def load_torchreid_rank():
    """Load torchreid's rank module, silencing the warning it gives when it falls back from Cython to Python."""
    return load_torchreid_file("reid", "metrics", "rank.py")


def build_cython(pyx: Path, build_dir: Path) -> Path:
    """Compile torchreid's ``rank_cy.pyx`` into ``build_dir`` and return the extension module's
    path. It raises RuntimeError saying why it cannot."""
    try:
        from Cython.Build import cythonize
        from setuptools import Distribution, Extension
    except ImportError as err:
        raise RuntimeError(f"Cython or setuptools is missing ({err}): pip install cython") from err
    if not pyx.is_file():
        raise RuntimeError(f"{pyx} does not exist")
    src = build_dir / "rank_cy.pyx"
    src.write_bytes(pyx.read_bytes())
    ext = Extension(
        "rank_cy",
        [str(src)],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    cwd = os.getcwd()
    try:
        os.chdir(build_dir)
        dist = Distribution({"ext_modules": cythonize([ext], quiet=True, language_level=3)})
        cmd = dist.get_command_obj("build_ext")
        cmd.build_lib, cmd.build_temp = str(build_dir), str(build_dir / "tmp")
        dist.run_command("build_ext")
    except BaseException as err:  # Compiler errors surface as SystemExit or CompileError.
        raise RuntimeError(f"compiling {pyx} failed: {type(err).__name__}: {err}") from err
    finally:
        os.chdir(cwd)
    built = sorted(build_dir.glob("rank_cy*.so")) + sorted(build_dir.glob("rank_cy*.pyd"))
    if not built:
        raise RuntimeError(f"compiling {pyx} produced no extension module")
    return built[0]


def _default_pyx() -> Path | None:
    try:
        path = torchreid_rank_path().parent / "rank_cylib" / "rank_cy.pyx"
    except ImportError:
        return None
    return path if path.is_file() else None


# ---------------------------------------------------------------------------------- workers


def _worker(folder: str, method: str, device: str, repeats: int, extension: str = "") -> None:
    """In a subprocess: load the inputs, run one evaluator ``repeats`` times, print a RESULT line."""
    folder = Path(folder)
    inputs = {k: np.load(folder / f"{k}.npy") for k in ("distmat", "q_pids", "g_pids", "q_camids", "g_camids")}
    cuda = device == "cuda"
    if method == "ours":
        if cuda:
            inputs = {k: torch.from_numpy(v).to("cuda") for k, v in inputs.items()}
            cmc_map(
                inputs["distmat"][:64],
                inputs["q_pids"][:64],
                inputs["g_pids"],
                inputs["q_camids"][:64],
                inputs["g_camids"],
            )  # This call initialises CUDA, which is left out of the timing.
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            cuda_base = torch.cuda.memory_allocated()

        def call():
            r = cmc_map(**inputs)
            return r["cmc"][:50], r["mAP"]
    elif method == "torchreid_python":
        rank = load_torchreid_rank()

        def call():
            return rank.eval_market1501(*inputs.values(), 50)
    else:
        spec = importlib.util.spec_from_file_location("rank_cy", extension)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

        def call():
            return module.evaluate_cy(*inputs.values(), 50, False)

    (cmc, mean_ap), measured = time_and_peak(call, repeats, cuda)
    times = measured["times_s"]
    report = {
        "times_s": [round(t, 4) for t in times],
        "time_s": round(min(times), 4),
        "peak_beyond_inputs_bytes": measured["peak_beyond_inputs_bytes"],
        "rss_after_inputs_bytes": measured["rss_after_inputs_bytes"],
        "memory_method": measured["memory_method"],
        "mAP": float(mean_ap),
        "cmc": [float(x) for x in np.asarray(cmc)[:50]],
    }
    if cuda and method == "ours":
        report["cuda_peak_beyond_inputs_bytes"] = torch.cuda.max_memory_allocated() - cuda_base
    print("RESULT " + json.dumps(report))


def _run_worker(folder: Path, method: str, device: str, repeats: int, extension: str = "") -> dict:
    code = (
        "import sys; from reid.bench.eval_bench import _worker; "
        "_worker(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder), method, device, str(repeats), extension],
        capture_output=True,
        text=True,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{method} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


# ---------------------------------------------------------------------------------- the benchmark


def machine(device: str = "cpu") -> dict:
    out = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    if device == "cuda" and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def measure(
    num_query: int = 3368,
    num_gallery: int = 15913,
    num_ids: int = 750,
    distractors: int = 2793,
    dim: int = 512,
    seed: int = 0,
    device: str = "cpu",
    repeats: int = 5,
    reference_repeats: int = 1,
    python_reference: bool = True,
    cython_reference: bool = True,
    cython_pyx: Path | None = None,
) -> dict:
    """Return the time, memory and results of ours and of torchreid's evaluators on one problem (a dict)."""
    problem = make_problem(num_query, num_gallery, num_ids, distractors, dim, seed)
    report = {
        "num_query": num_query,
        "num_gallery": num_gallery,
        "num_ids": num_ids,
        "distractors": distractors,
        "cameras": NUM_CAMERAS,
        "dim": dim,
        "seed": seed,
        "device": device,
        "input_bytes": int(sum(v.nbytes for v in problem.values())),
        "rows_with_tied_distances": _rows_with_ties(problem["distmat"]),
        "metrics": _metrics(problem),
    }
    with tempfile.TemporaryDirectory(prefix="eval_bench_") as tmp:
        folder = Path(tmp)
        for k, v in problem.items():
            np.save(folder / f"{k}.npy", v)
        report["ours"] = _run_worker(folder, "ours", device, repeats)
        methods = [("torchreid_python", "")] if python_reference else []
        if cython_reference:
            methods += _cython_method(cython_pyx, folder, report)
        for method, ext in methods:
            report[method] = _compared_with_ours(
                _run_worker(folder, method, "cpu", reference_repeats, ext), report["ours"]
            )
    for r in (v for v in report.values() if isinstance(v, dict) and "cmc" in v):
        # Ten ranks are enough to compare, and the full curve is in ``metrics``' source.
        r["cmc"] = r["cmc"][:10]
    return report


def _rows_with_ties(distmat: np.ndarray) -> int:
    """Count the query rows that hold two exactly equal distances, where torchreid's order may differ from ours."""
    return int((np.diff(np.sort(distmat, axis=1), axis=1) == 0).any(axis=1).sum())


def _metrics(problem: dict) -> dict:
    """Return the metrics of the problem, which say that it is the problem of a good model."""

    full = cmc_map(**problem)
    return {
        "R1": float(full["cmc"][0]),
        "R5": float(full["cmc"][4]),
        "R10": float(full["cmc"][9]),
        "mAP": full["mAP"],
        "mAP_official": full["mAP_official"],
        "mINP": full["mINP"],
        "num_skipped": full["num_skipped"],
    }


def _cython_method(cython_pyx: Path | None, folder: Path, report: dict) -> list[tuple[str, str]]:
    """Return torchreid's Cython evaluator built into ``folder``, as a (method, extension) list, or an
    empty list with the reason in ``report`` when it cannot be built."""
    pyx = cython_pyx or _default_pyx()
    if pyx is None:
        report["torchreid_cython"] = {
            "skipped": "torchreid 0.2.5 from PyPI ships no rank_cy.pyx: pass --cython-pyx PATH (a copy of "
            "torchreid/metrics/rank_cylib/rank_cy.pyx from torchreid's source repository)"
        }
        return []
    try:
        t0 = time.perf_counter()
        ext = build_cython(Path(pyx), folder)
        report["cython_build_s"] = round(time.perf_counter() - t0, 2)
    except RuntimeError as err:
        report["torchreid_cython"] = {"skipped": f"cannot build {pyx}: {err}"}
        return []
    return [("torchreid_cython", str(ext))]


def _compared_with_ours(r: dict, ours: dict) -> dict:
    """Return a reference evaluator's figures with their differences from ours and their ratios to ours."""
    r["mAP_diff_vs_ours"] = abs(r["mAP"] - ours["mAP"])
    r["cmc_max_diff_vs_ours"] = float(np.abs(np.array(r["cmc"]) - np.array(ours["cmc"])).max())
    r["time_ratio_over_ours"] = round(r["time_s"] / ours["time_s"], 1)
    r["memory_ratio_over_ours"] = round(r["peak_beyond_inputs_bytes"] / max(1, ours["peak_beyond_inputs_bytes"]), 2)
    return r


def _mib(n) -> str:
    return f"{n / 2**20:.0f} MiB"


def run(args) -> int:
    reference = not args.skip_reference
    if reference:
        try:
            torchreid_rank_path()
        except ImportError as err:
            print(f"error: {err} (or pass --skip-reference)", file=sys.stderr)
            return 2
    result = {"command": " ".join(["python -m reid.bench eval", *_argv(args)]), "machine": machine(args.device)}
    _print_machine(result)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is visible", file=sys.stderr)
        return 2
    result["evaluation"] = measure(
        args.num_query,
        args.num_gallery,
        args.num_ids,
        args.distractors,
        args.dim,
        args.seed,
        args.device,
        args.repeats,
        args.reference_repeats,
        python_reference=reference and not args.skip_python_reference,
        cython_reference=reference,
        cython_pyx=args.cython_pyx,
    )
    _print_evaluation(result["evaluation"], args.device)
    if not args.skip_rerank:
        result["rerank"] = _rerank(args, reference)
    if args.json:
        atomic_write_json(args.json, result)
        print(f"\nfigures written to {args.json}")
    return 0


def _print_machine(result: dict) -> None:
    print(f"command: {result['command']}")
    m = result["machine"]
    print(
        f"machine: {m['cpu']}, {m['cpu_count']} cores, torch threads {m['torch_threads']}"
        + (f", GPU {m['gpu']}" if "gpu" in m else "")
        + f"; torch {m['torch']}, numpy {m['numpy']}"
    )


def _print_evaluation(ev: dict, device: str) -> None:
    mt = ev["metrics"]
    print(
        f"\nevaluation: {ev['num_query']} queries x {ev['num_gallery']} gallery ({ev['num_ids']} ids, "
        f"{ev['distractors']} distractors, {ev['cameras']} cameras, float32 distances; "
        f"{ev['rows_with_tied_distances']} rows hold exact ties)"
    )
    print(
        f"  metrics: R1 {mt['R1']:.4f}  R5 {mt['R5']:.4f}  mAP {mt['mAP']:.4f}  mAP_official {mt['mAP_official']:.4f}"
        f"  mINP {mt['mINP']:.4f}  skipped {mt['num_skipped']}"
    )
    ours = ev["ours"]
    extra = (
        f", CUDA peak {_mib(ours['cuda_peak_beyond_inputs_bytes'])}" if "cuda_peak_beyond_inputs_bytes" in ours else ""
    )
    print(
        f"  ours ({device}):        {ours['time_s']:8.3f} s (runs: {', '.join(f'{t:.3f}' for t in ours['times_s'])})"
        f"  peak RSS beyond inputs {_mib(ours['peak_beyond_inputs_bytes'])}{extra}"
    )
    for name, label in (("torchreid_python", "torchreid python"), ("torchreid_cython", "torchreid cython")):
        r = ev.get(name)
        if r is None:
            continue
        if "skipped" in r:
            print(f"  {label}:  not measured: {r['skipped']}")
            continue
        print(
            f"  {label}:  {r['time_s']:8.3f} s  peak RSS beyond inputs {_mib(r['peak_beyond_inputs_bytes'])}"
            f"  -> {r['time_ratio_over_ours']}x our time, {r['memory_ratio_over_ours']}x our memory;"
            f" |mAP diff| {r['mAP_diff_vs_ours']:.2e}, max |CMC diff| {r['cmc_max_diff_vs_ours']:.2e}"
        )


def _rerank(args, reference: bool) -> dict:
    """Print and return the re-ranking figures of ``reid.bench.rerank_bench.measure``, or the error
    that stopped them. The re-ranking bench is another module, and its failure must not lose the
    evaluation figures already measured."""
    try:
        rr = rerank_measure(
            num_query=args.num_query,
            num_gallery=args.num_gallery,
            seed=args.seed,
            reference=reference,
            device=args.device,
        )
        print("\nre-ranking (k1=20, k2=6, lambda=0.3), reid.bench.rerank_bench.measure:")
        for name in ("ours", "reference"):
            if name in rr:
                r = rr[name]
                print(
                    f"  {name:9s} {r['time_s']:8.2f} s  peak RSS beyond inputs {_mib(r['peak_beyond_inputs_bytes'])}"
                    + (f"  mAP {r['mAP']:.4f}" if "mAP" in r else "")
                )
        for key in ("time_ratio_reference_over_ours", "memory_ratio_reference_over_ours", "max_abs_diff", "mAP_diff"):
            if key in rr:
                print(f"  {key}: {rr[key]:.3g}")
        return rr
    except Exception as err:
        print(f"\nre-ranking: not measured ({type(err).__name__}: {err})")
        return {"error": f"{type(err).__name__}: {err}"}


def _argv(args) -> list[str]:
    skip = {"func", "json", "command"}
    out = []
    for k, v in vars(args).items():
        if k in skip or v is None or v is False:
            continue
        out.append(f"--{k.replace('_', '-')}" + ("" if v is True else f" {shlex.quote(str(v))}"))
    return out
