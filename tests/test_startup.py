"""Start-up speed, guarded by a test rather than by convention: the jobs that need no model
(the data job, Figure 4, the claims, the report) and the command line itself never import torch, whose
import costs a job seconds; nor do they import the other heavy packages they do not use
(matplotlib, scipy and the like). The histogram baseline does import torch: it scores with
the suite's own evaluator, reid.metrics, which is torch's. Each command runs in a fresh
interpreter that says, as it exits, which of the heavy packages it loaded. Nothing is timed."""

import json
import subprocess
import sys

import pytest

from tests.test_figures import _matches, _per_query

# packages that cost a job's start-up dearly, and the CPU jobs that need some of them
HEAVY = ("torch", "torchvision", "pytorch_grad_cam", "cv2", "fvcore", "thop", "matplotlib", "scipy", "pandas")
NEEDS = {"Figure 4": {"matplotlib"}, "the claims": {"scipy"}, "the report": {"matplotlib", "scipy"}}  # nothing else
# python -m reid ARGS, then one line on stderr: the heavy packages the process loaded
PROBE = f"""
import atexit, runpy, sys
atexit.register(lambda: print("LOADED", *sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr))
sys.argv = ["reid", *sys.argv[1:]]
runpy.run_module("reid", run_name="__main__", alter_sys=True)
"""


def heavy_packages(*argv, cwd) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, argv)], capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stderr.splitlines() if line.startswith("LOADED"))
    return line.split()[1:]


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["--version"]])
def test_the_command_line_itself_imports_no_torch(tmp_path, argv):
    assert heavy_packages(*argv, cwd=tmp_path) == []


def test_the_cpu_jobs_import_no_torch(tmp_path, tiny, tiny_synthetic):
    config = {"data_root": str(tmp_path / "data"), "datasets": {"synthetic": {"size": "tiny"}}}
    as_json = json.dumps(config)
    jobs = {
        "the data job": ["data", "prepare", "synthetic", "--config-json", as_json, "--status", "status.json", "--workers", "1", "--quiet"],
        "Figure 4": [
            "figure", "ranked-lists", "--per-query", _per_query(tiny, tmp_path / "pq.npz", {0: (_matches(tiny, 0), 0.5)}),
            "--dataset-root", tiny_synthetic, "--queries", "1", "--out", "ranked.png",
        ],
        "the claims": ["claims", "--config-json", as_json, "--results", "results", "--out", "claims.csv"],
        "the report": ["report", "--config-json", as_json, "--results", "results", "--out", "index.html"],
    }  # fmt: skip
    for job, argv in jobs.items():
        loaded = set(heavy_packages(*argv, cwd=tmp_path))
        assert "torch" not in loaded, f"{job} imports torch"
        assert loaded <= NEEDS.get(job, set()), f"{job} imports {sorted(loaded - NEEDS.get(job, set()))}"
    assert (tmp_path / "ranked.png").exists() and (tmp_path / "index.html").exists()
