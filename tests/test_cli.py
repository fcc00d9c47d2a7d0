"""The CLI's own choices (its commands are tested with what they run)."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import tomllib
import torch

from reid.cli import torch_threads


def test_the_workflow_sets_the_torch_threads_of_a_job(monkeypatch):
    before = torch.get_num_threads()
    try:
        # 2 then 1: each changes what the other left (a pytest worker starts at 1 thread)
        monkeypatch.setenv("REID_MACHINE_THREADS", "2")
        torch_threads("REID_MACHINE_THREADS")
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("REID_TORCH_THREADS", "1")
        torch_threads()
        assert torch.get_num_threads() == 1
        torch.set_num_threads(before)
        for bad in ("", "0", "many"):  # unset or nonsense: torch's own default stays
            monkeypatch.setenv("REID_TORCH_THREADS", bad)
            torch_threads()
            assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)


def test_only_the_commands_that_may_use_a_gpu_claim_one():
    """A GPU slot held by a CPU job keeps a training waiting for nothing."""
    from reid.cli import build_parser, needs_gpu_slot

    def needs(*argv):
        return needs_gpu_slot(build_parser().parse_args(list(argv)))

    cam = ["figure", "gradcam", "--checkpoint", "avg=a/model.pt", "--dataset", "d", "--path", "p", "--out", "o.png"]
    assert not needs(*cam)  # Grad-CAM runs on the CPU unless told otherwise
    assert needs(*cam, "--device", "cuda")
    evaluate = ["evaluate", "--config", "c.yaml", "--dataset", "d", "--checkpoint", "m.pt", "--out", "o"]
    assert needs(*evaluate) and needs(*evaluate, "--device", "cuda")
    assert not needs(*evaluate, "--device", "cpu")
    assert needs("train", "--config", "c.yaml", "--dataset", "d", "--variant", "residual", "--out", "o")
    assert not needs("report", "--config", "c.yaml")


def test_cost_takes_a_config_file_and_its_old_name_profile_still_works_with_a_note(tmp_path, capsys):
    """Table 4's measurement is `cost` (the word "profile" now means a Snakemake profile only);
    `profile`, its name in 0.1, still runs it for one release and says what it is called now."""
    from reid.cli import main

    config = tmp_path / "small.yaml"
    config.write_text(
        "datasets: {synthetic: {}}\ntrain: {backbone: resnet10, height: 64, width: 32, device: cpu}\ncost: {runs: 2}\n"
    )
    argv = ["--variant", "avg", "--out", str(tmp_path / "avg.json"), "--config", str(config)]
    assert main(["cost", *argv]) == 0 and "is now" not in capsys.readouterr().err
    assert main(["profile", *argv]) == 0
    assert "'python -m reid profile' is now 'python -m reid cost'" in capsys.readouterr().err
    assert json.loads((tmp_path / "avg.json").read_text())["backbone"] == "resnet10"


def _commands(parser, path=()):
    """(the words that name a command, its parser), for every command and subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # an alias names the same parser again
                    seen.add(id(sub))
                    yield (*path, name), sub
                    yield from _commands(sub, (*path, name))


def test_every_commands_help_explains_each_option_and_shows_its_default():
    from reid.cli import build_parser

    parser = build_parser()
    commands = dict(_commands(parser))
    assert {"train", "evaluate", "cost", "report", "data", "figure"} <= {c[0] for c in commands}
    for words, sub in [((), parser), *commands.items()]:
        text = sub.format_help()
        assert "``" not in text and "usage: python -m reid" in text, words
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            name = "/".join(action.option_strings)
            assert action.help, f"{' '.join(words)} {name} has no help line"
            shown = action.default not in (None, [], "==SUPPRESS==") and action.default is not False
            if shown and not action.required:
                assert f"(default: {action.default})" in " ".join(text.split()), f"{' '.join(words)} {name}"
        reads_config = any(a.dest == "config_json" for a in sub._actions)
        if reads_config:  # the same three options wherever a config is read
            assert {"config", "config_json", "set"} <= {a.dest for a in sub._actions}, words


def test_the_installed_script_names_itself_and_both_print_the_version():
    wanted = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["version"]
    module = subprocess.run([sys.executable, "-m", "reid", "--version"], capture_output=True, text=True)
    assert module.returncode == 0 and module.stdout.strip() == f"python -m reid {wanted}"
    script = Path(sys.executable).parent / "reid"
    assert script.exists(), "pip install -e . installs the reid script beside the interpreter"
    shown = subprocess.run([str(script), "train", "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: reid train"), shown.stdout[:200]
