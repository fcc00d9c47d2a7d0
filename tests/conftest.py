import fcntl
import os
import shutil
from pathlib import Path

import pytest

from reid.config import SMOKE_RECIPE

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest -n N (the README's test command runs one worker per core): N workers each with
    # torch's default of every core would fight over the cores
    import torch

    torch.set_num_threads(1)


def pytest_xdist_auto_num_workers(config):
    """-n auto (the README's test command): one worker per core, and one more where the SLURM
    test runs (tests/test_slurm.py: as root, with SLURM installed). That test waits on the
    scheduler's polling most of its minute and more; the other workers' tests fill the cores."""
    cores = len(os.sched_getaffinity(0))
    slurm = os.geteuid() == 0 and shutil.which("slurmctld") is not None
    return cores + 1 if slurm else cores


def pytest_collection_modifyitems(items):
    """The slow tests first, the longest first (``slow(seconds=...)``: its time alone on 2 cores):
    with one worker per core each takes one of them early, instead of one worker finishing alone
    with the longest at the end. (pytest-xdist sends a group of several tests, such as the tiny
    suite's, before single ones, and gives each worker two to start with: the three longest
    must be the first three.)"""

    def longest_first(item):
        slow = item.get_closest_marker("slow")
        return 0 if slow is None else -slow.kwargs.get("seconds", 1)

    items.sort(key=longest_first)  # stable: order kept otherwise


# Skips that depend on whether the machine has a GPU: CI's has none (and on a GPU machine the
# SLURM test, whose node fakes one, steps aside). Any other skip hides a test that CI must run:
# with CI=true (the CI's environment, and .ci/run's) it fails the run, and the reason is printed.
MACHINE_SKIPS = ("no CUDA device", "the node's GPU here is a fake one")
_unexpected_skips: list[tuple[str, str]] = []


def _strict_skips() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if not reason.startswith(MACHINE_SKIPS):
            _unexpected_skips.append((report.nodeid, reason))


def pytest_sessionfinish(session, exitstatus):
    # the controller of pytest -n N decides (the workers' reports reach it too)
    if _strict_skips() and _unexpected_skips and not hasattr(session.config, "workerinput"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _strict_skips() and _unexpected_skips:
        terminalreporter.section("skips CI does not allow (CI=true)", red=True)
        for nodeid, reason in _unexpected_skips:
            terminalreporter.line(f"{nodeid}: {reason}", red=True)
        terminalreporter.line(
            f"{len(_unexpected_skips)} test(s) skipped for a reason other than the machine's GPU: install what "
            "they name (the README's test command does), or unset CI to allow it",
            red=True,
        )


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """The tiny synthetic set, rendered once per test session."""
    from reid.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("data") / "synthetic", size="tiny", seed=0, workers=1, progress=False)


@pytest.fixture(scope="session")
def tiny(tiny_synthetic):
    """The tiny synthetic set, parsed."""
    from reid.data import load_market_layout

    return load_market_layout(tiny_synthetic, name="synthetic")


# The tests' tiny training recipe: the package's one tiny recipe (reid.config.SMOKE_RECIPE:
# ResNet10 at 64x32, batches of 2 x 4 images, one epoch), on the CPU, where a run is
# deterministic, so that tests may compare runs bit for bit on a GPU machine too
TINY_RECIPE = {**SMOKE_RECIPE, "device": "cpu"}


@pytest.fixture(scope="session")
def tiny_recipe():
    """``make(cache_dir, **changes)``: a TrainConfig of the tiny recipe, ``changes`` on top."""
    from reid.config import TrainConfig

    return lambda cache_dir, **changes: TrainConfig(**{**TINY_RECIPE, "cache_dir": str(cache_dir), **changes})


@pytest.fixture(scope="session")
def one_epoch_models(tiny, tiny_recipe, tmp_path_factory):
    """model.pt files of avg, max and residual, each one epoch of the tiny recipe, trained once
    per session because several test files read them. Read them; write edited copies elsewhere."""
    from reid.train import train

    tmp = tmp_path_factory.mktemp("models")
    cfg = tiny_recipe(tmp / "cache")
    for variant in ("avg", "max", "residual"):
        train(cfg, tiny, variant, seed=0, out=tmp / variant)
    return {variant: tmp / variant / "model.pt" for variant in ("avg", "max", "residual")}


@pytest.fixture(scope="session")
def uninterrupted_run(tmp_path_factory):
    """``get()``: the folder of an uninterrupted workflow run of the fault trials' config
    (tools/faults.py: residual, 8 epochs, and its re-ranked evaluation), which a killed and
    resumed run must equal. Run once per test session, shared by the pytest workers: the first
    that asks runs it, the others wait on a file lock. Ask late (after the run under test), so
    that the wait, if any, overlaps work."""
    from tools.faults import reference_run

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the workers' common folder
    folder = shared / "uninterrupted"

    def get() -> Path:
        with open(shared / "uninterrupted.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its process dies
            if not (folder / "done").exists():
                reference_run(folder)
                (folder / "done").write_text("")
        return folder

    return get
