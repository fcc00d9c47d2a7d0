"""The README's commands, .ci/run, the test set-up scripts and environment.yml agree with
pyproject.toml, and CI fails on a skip it does not allow."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    return sorted(re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].lower() for r in requirements)


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_deps = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(d for d in pip_deps if not d.startswith("-e")) == sorted(wanted)
    assert _names(wanted) == _names(d for d in pip_deps if not d.startswith("-e"))


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command.strip() in [line.strip() for line in ci]


def test_lock_pins_every_dependency_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(_names(project["dependencies"] + project["optional-dependencies"]["test"]))
    lines = [line for line in (ROOT / "requirements.lock").read_text().splitlines() if line and not line[0] == "#"]
    assert all(re.fullmatch(r"[a-z0-9._-]+==[^=<>~!,; ]+", line) for line in lines), "one name==version a line"
    pinned = {line.split("==")[0].replace("_", "-") for line in lines}
    assert wanted <= pinned, f"not in requirements.lock (run python tools/lock.py): {sorted(wanted - pinned)}"


def test_the_install_scripts_fail_where_they_cannot_install(tmp_path):
    """Without the programs and without apt-get, each set-up script says what to install and
    exits 1, so that the README's test command stops instead of running a suite that skips."""
    import subprocess

    empty = tmp_path / "bin"
    empty.mkdir()
    for script, needs in (("install_browser.sh", "chromium"), ("install_cluster.sh", "slurm-wlm munge rsync")):
        done = subprocess.run(
            ["/bin/sh", str(ROOT / "tests" / script)], env={"PATH": str(empty)}, capture_output=True, text=True
        )
        assert done.returncode == 1, script
        assert done.stderr.startswith("error: ") and f"apt-get install {needs}" in done.stderr, script


SKIPPING = """
import pytest


def test_runs():
    pass


@pytest.mark.skipif(True, reason="no CUDA device")
def test_needs_a_gpu():
    pass


def test_needs_a_program():
    pytest.skip("some-program is not installed")
"""


def test_a_skip_ci_does_not_allow_fails_the_run_under_ci(tmp_path):
    """tests/conftest.py's rule, run on a small suite with the project's conftest: a skip for want
    of a GPU passes, any other skip fails the run when CI=true, and both are listed with their
    reasons. Through pytest-xdist too, where the workers' reports reach the controller."""
    import os
    import subprocess
    import sys

    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_skips.py").write_text(SKIPPING)

    def pytest_run(ci: str, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-c", os.devnull, *args],
            cwd=tmp_path,
            env={**env, "CI": ci},
            capture_output=True,
            text=True,
        )

    strict = pytest_run("true", "-n", "2")
    assert strict.returncode == 1, strict.stdout
    assert "test_skips.py::test_needs_a_program: some-program is not installed" in strict.stdout
    assert "test_needs_a_gpu" not in strict.stdout.split("skips CI does not allow")[1]
    relaxed = pytest_run("", "-n", "0")
    assert relaxed.returncode == 0 and "SKIPPED" in relaxed.stdout and "some-program is not installed" in relaxed.stdout
    (tmp_path / "test_skips.py").write_text(SKIPPING.replace('pytest.skip("some-program is not installed")', "pass"))
    assert pytest_run("true", "-n", "0").returncode == 0  # the GPU's skip alone is allowed
