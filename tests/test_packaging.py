"""The README's commands, .ci/run and environment.yml agree with pyproject.toml."""

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
