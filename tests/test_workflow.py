"""The Snakemake workflow: dry runs of both shipped configs, a bad value stopping it before any job,
and the whole DAG end to end on a tiny config beside a missing dataset (the slowest tests of
the suite: two tests share that one run)."""

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from reid.config import SMOKE_RECIPE
from tools.snakemake_run import SNAKEMAKE
from tools.snakemake_run import env as snakemake_env

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "data_root": "data",
    "datasets": {"synthetic": {"size": "tiny"}},
    "variants": ["avg", "residual"],
    "seeds": [1],
    "cost": {"runs": 3},
    # no re-ranked evaluation for the cards beyond residual's, which Table 2 makes anyway: both kinds
    # of card are written, and the slowest test makes no extra evaluation jobs
    "card": {"rerank": False},
    # the one tiny recipe, with two epochs evaluated for the curves (the device stays auto, so
    # that the workflow's GPU slots are exercised where there is a GPU)
    "train": {**SMOKE_RECIPE, "epochs": 2, "eval_every": 1},
}

SUITE_VARIANTS = [*TINY["variants"], "plain_baseline"]  # the tiny suite's: Table 2's both baselines
# The tiny suite trains long enough to learn, so that its end-to-end test can check a number:
# the final mAP over the untrained network's, averaged over avg and residual, is at least
# LEARNS. On the tiny set (8 training identities, 6 test ones) one run's ratio is noisy: small
# numeric differences (one torch thread or two) change the trajectory. Measured with this recipe
# on seeds 1-4, with one thread and with two: ratios 1.24x to 2.47x, their mean over the two
# variants 1.46x to 2.17x; with a learning rate of 0 (a wiring bug that trains nothing, where
# only the BN statistics move) the mean is 0.52x to 0.99x. TINY's two epochs, half of them in
# warm-up, learn too little to tell; random erasing on 64x32 images slows learning most.
LEARNING = {"epochs": 8, "eval_every": 4, "base_lr": 0.02, "warmup_epochs": 0, "milestones": [6], "erasing_prob": 0.0}
LEARNS = 1.25


def snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=snakemake_env(env),
    )


def job_counts(output: str) -> dict:
    table = output[output.index("Job stats:") :]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


# Where the docs state how many jobs a shipped config makes: (file, pattern whose group is the
# number, what it counts: rules of the dry run's job stats, summed). The test below dry-runs the
# config and compares, so that a change of the workflow cannot leave a stale number behind.
DOCUMENTED_COUNTS = {
    "config.yaml": [
        ("README.md", r"the\s+(\d+) trainings \d+ s of job time", ("train",)),
        ("README.md", r"the (\d+) evaluations about \d+ s", ("evaluate",)),
        ("README.md", r"the (\d+) model cards about \d+ s", ("card",)),
        ("configs/config.yaml", r"the whole suite \((\d+) trainings", ("train",)),
        ("configs/config.yaml", r"the whole suite \(\d+ trainings, (\d+)\s+#\s+evaluations", ("evaluate",)),
        ("configs/config.yaml", r"evaluations, (\d+) model cards", ("card",)),
    ],
    "benchmarks.yaml": [
        ("README.md", r"since\s+DukeMTMC-reID was withdrawn \((\d+) trainings\)", ("train",)),
        ("configs/benchmarks.yaml", r"\((\d+) trainings\)", ("train",)),
    ],
    "paper.yaml": [
        ("README.md", r"DukeMTMC-reID: (\d+) trainings\)", ("train",)),
        ("profiles/slurm/config.yaml", r"the paper's run has (\d+) jobs", ("total",)),
        ("profiles/slurm/config.yaml", r"(\d+) of them\n# trainings", ("train",)),
        ("profiles/kubernetes/config.yaml", r"the paper's run has (\d+) jobs", ("total",)),
        ("profiles/kubernetes/config.yaml", r"(\d+) of them trainings", ("train",)),
    ],
}


@pytest.mark.parametrize(
    "config, trains",
    # paper.yaml: the plain baseline too; benchmarks.yaml: the paper's five variants on three datasets
    [("config.yaml", 12), ("paper.yaml", 30), ("benchmarks.yaml", 45)],
)
def test_dry_run_of_the_shipped_configs_and_the_counts_the_docs_state(tmp_path, config, trains):
    done = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "configs" / config))
    assert done.returncode == 0, done.stderr
    counts = job_counts(done.stdout + done.stderr)
    # each training is evaluated with and without re-ranking by one rule (card.rerank: true, the
    # default; residual's re-ranked evaluation is Table 2's too), and gets its model card
    assert counts["train"] == trains and counts["evaluate"] == 2 * trains and counts["card"] == trains
    assert counts["claims"] == 1 and counts["report"] == 1
    assert counts["cost"] == 1  # every variant in one job
    for file, pattern, rules in DOCUMENTED_COUNTS[config]:
        stated = re.findall(pattern, (ROOT / file).read_text())
        assert len(stated) == 1, f"{file}: {pattern!r} found {len(stated)} times"
        assert int(stated[0]) == sum(counts[rule] for rule in rules), f"{file} says {stated[0]} for {'+'.join(rules)}"


def test_a_bare_snakemake_needs_no_flags_and_a_target_may_follow_the_configfile(tmp_path):
    """profiles/default gives every core (and keep-going, rerun-incomplete): no --cores, no
    --resources. A target after ``--configfile=FILE`` (the = form) is a target, not a second
    config file, so there is no flag order to remember."""
    import os

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    done = snakemake(tmp_path, f"--configfile={tmp_path / 'tiny.yaml'}", "results/synthetic/dataset.json")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "workflow specific profile" in output and f"Provided cores: {os.cpu_count()}" in output
    assert json.loads((tmp_path / "results" / "synthetic" / "dataset.json").read_text())["ok"]


def test_bad_value_stops_before_any_job(tmp_path):
    bad = dict(TINY, train=dict(TINY["train"], epochs=0))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    done = snakemake(tmp_path, "-n", "--configfile", str(tmp_path / "bad.yaml"))
    assert done.returncode != 0
    assert "epochs" in done.stdout + done.stderr
    assert not (tmp_path / "results").exists()


def test_a_key_of_an_earlier_release_stops_the_workflow_with_its_new_name(tmp_path):
    old = dict(TINY, profile={"runs": 3})  # 0.1's name of cost:
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    done = snakemake(tmp_path, "-n", f"--configfile={tmp_path / 'old.yaml'}")
    assert done.returncode != 0 and "config key 'profile' is now called 'cost'" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory):
    """The tiny suite's first run, the costliest of the tests, run once for the two tests below
    (one pytest worker runs both: xdist_group): avg, residual and the plain baseline on the
    synthetic set, beside a dataset 'mine' whose folder does not exist, with --keep-going as a
    user would run it. tiny.yaml, the same config without mine, is for the runs that follow.
    Holds the first run's report page and claims, which those runs rewrite."""
    folder = tmp_path_factory.mktemp("tiny-suite")
    tiny = dict(TINY, variants=SUITE_VARIANTS, train={**TINY["train"], **LEARNING})
    (folder / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    with_mine = dict(tiny, datasets={**TINY["datasets"], "mine": {"path": str(folder / "nowhere")}})
    (folder / "with_mine.yaml").write_text(yaml.safe_dump(with_mine))
    done = snakemake(
        folder, "--cores", "2", "--resources", "gpu=1", "--keep-going", "--configfile", str(folder / "with_mine.yaml")
    )
    page, claims = folder / "report" / "index.html", folder / "report" / "claims.csv"
    return SimpleNamespace(
        folder=folder,
        done=done,
        page=page.read_text() if page.exists() else None,
        claims=claims.read_text().splitlines() if claims.exists() else None,
    )


@pytest.mark.slow(seconds=65)  # both tests together, on one run of the tiny suite
@pytest.mark.xdist_group("tiny_suite")
def test_a_missing_dataset_fails_its_own_jobs_and_the_report_says_so(tiny_suite):
    folder, done, page = tiny_suite.folder, tiny_suite.done, tiny_suite.page
    assert done.returncode != 0  # mine's jobs failed ...
    for variant in SUITE_VARIANTS:
        log = folder / "logs" / "train" / "mine" / variant / "seed1.log"
        assert "dataset 'mine' is not available" in log.read_text()
    assert not (folder / "results" / "mine" / "residual").exists()
    assert page is not None, done.stderr[-3000:]  # ... the report was still built, in the same run
    for variant in ("residual", "residual+rerank"):
        assert (folder / "results" / "synthetic" / variant / "seed1" / "metrics.json").is_file()
    assert "Not run" in page and "mine/residual/seed1/metrics.json" in page
    assert str(folder / "nowhere") in page  # the reason, from the dataset step
    # the failed dataset is tried again on the next run; the ready one is not
    plan = snakemake(folder, "-n", "--keep-going", "--configfile", str(folder / "with_mine.yaml"))
    counts = job_counts(plan.stdout + plan.stderr)
    assert counts["dataset"] == 1 and counts["train"] == len(SUITE_VARIANTS)


@pytest.mark.slow(seconds=65)
@pytest.mark.xdist_group("tiny_suite")
def test_tiny_suite_end_to_end_and_rerun_of_one_target(tiny_suite):
    import torch

    folder, page, claims = tiny_suite.folder, tiny_suite.page, tiny_suite.claims
    config = str(folder / "tiny.yaml")
    assert page is not None, tiny_suite.done.stderr[-3000:]
    assert claims[0].startswith("claim_id,claim,dataset,metric,paper,ours,ci_low,ci_high,verdict")
    assert any(line.startswith("C1,residual vs avg,synthetic,mAP,") for line in claims)
    assert 'id="claims-table"' in page and "tests the suite, not the paper" in page
    assert any(line.startswith("C2,residual vs plain_baseline,synthetic,mAP,") for line in claims)
    assert "<th>plain_baseline <small>(1 seed)</small>" in page  # Table 2: both readings of the baseline
    for variant in ("avg", "residual", "residual+rerank"):
        assert (folder / "results" / "synthetic" / variant / "seed1" / "metrics.json").is_file()
        assert f"<th>{variant} <small>(1 seed)</small>" in page
    ratios = {}
    for variant in ("avg", "residual"):  # numbers, not only files: the models learned
        run = folder / "results" / "synthetic" / variant / "seed1"
        trained = json.loads((run / "train.json").read_text())
        ratios[variant] = trained["final"]["mAP"] / trained["untrained"]["mAP"]
        evaluated = json.loads((run / "metrics.json").read_text())  # the evaluation job, on the same model
        assert evaluated["mAP"] == pytest.approx(trained["final"]["mAP"], abs=1e-6), variant
    assert sum(ratios.values()) / len(ratios) >= LEARNS, f"final mAP / untrained mAP: {ratios}"
    for figure in ("Figure 4", "Figure 5", "Figure 6"):
        assert f'<img alt="{figure}, synthetic' in page
    assert (folder / "logs" / "train" / "synthetic" / "avg" / "seed1.log").is_file()
    check_cards(folder / "results" / "synthetic")
    # one ablation's metrics removed: rerunning that target redoes its evaluation only
    target = "results/synthetic/avg/seed1/metrics.json"
    (folder / target).unlink()
    plan = snakemake(folder, target, "-n", "--configfile", config)  # --configfile takes several: the target first
    assert plan.returncode == 0
    assert job_counts(plan.stdout + plan.stderr) == {"evaluate": 1, "total": 1}
    # the readings target: avg and residual again with the triplet on the fused features; the
    # next run of the workflow puts them in the report's sensitivity table
    assert "<code>snakemake readings</code>" in page and "(not run here)" in page
    readings = snakemake(folder, "readings", "--cores", "2", "--resources", "gpu=1", "--configfile", config)
    assert readings.returncode == 0, readings.stderr[-3000:]
    for variant in ("avg", "residual"):
        run = folder / "results" / "synthetic" / "readings" / "triplet_fused" / variant / "seed1"
        assert (run / "metrics.json").is_file()
        assert torch.load(run / "model.pt", weights_only=True)["config"]["triplet_on"] == "fused"
        card = json.loads((run / "model_card.json").read_text())  # the readings' trainings get cards too
        assert card["recipe"]["triplet_on"] == "fused" and card["metrics"]["with_rerank"] is None
    # the next run: the removed evaluation, its card, the claims and the report, nothing else (the
    # first run's only failures were mine's: every synthetic result is there)
    again = snakemake(folder, "--cores", "2", "--resources", "gpu=1", "--configfile", config)
    assert again.returncode == 0, again.stderr[-3000:]
    counts = job_counts(again.stdout + again.stderr)
    assert counts == {"evaluate": 1, "card": 1, "claims": 1, "report": 1, "all": 1, "total": 5}
    page = (folder / "report" / "index.html").read_text()
    for figure in ("Figure 4", "Figure 5", "Figure 6"):
        assert f'<img alt="{figure}, synthetic' in page
    assert "Not run" not in page and "not drawn" not in page
    table = page[page.index('id="sensitivity-table"') :]
    assert "triplet on the fused features" in table[: table.index("</thead>")] and "(not run here)" not in page
    # snakemake --report: the bundle of the flagged results, with the rules' runtimes
    import zipfile

    bundle = folder / "report" / "suite.zip"
    made = snakemake(folder, "--report", str(bundle), f"--configfile={config}")
    assert made.returncode == 0, made.stderr[-3000:]
    names = zipfile.ZipFile(bundle).namelist()
    for wanted in ("/index.html", "/claims.csv", "/ranked_lists_seed1.png", "/gradcam_seed1.png"):
        assert any(name.endswith(wanted) for name in names), (wanted, names)
    page_of_bundle = next(zipfile.ZipFile(bundle).read(n) for n in names if n.endswith("report.html"))
    assert b"runtime" in page_of_bundle.lower() and b"Figure 6 of the paper" in page_of_bundle


def check_cards(results: Path) -> None:
    """Every training of the tiny suite has its model card, of its own weights and metrics; residual's
    reports the re-ranked evaluation that Table 2 makes anyway, the others say they have none
    (TINY's card.rerank: false), and the re-ranked evaluation's folder, no training, has no card."""
    import torch

    reranked = json.loads((results / "residual+rerank" / "seed1" / "metrics.json").read_text())
    for variant in SUITE_VARIANTS:
        run = results / variant / "seed1"
        card = json.loads((run / "model_card.json").read_text())
        page = (run / "MODEL_CARD.md").read_text()
        assert card["model"]["weights_sha256"] == torch.load(run / "model.pt", weights_only=True)["weights_sha256"]
        assert card["metrics"]["without_rerank"]["mAP"] == json.loads((run / "metrics.json").read_text())["mAP"]
        assert card["dataset"]["counts"]["train"]["ids"] > 0  # the workflow hands the card the dataset's status
        assert page.startswith(f"# Model card: {variant} trained on synthetic, seed 1")
        if variant == "residual":
            assert card["metrics"]["with_rerank"]["mAP"] == reranked["mAP"]
        else:
            assert card["metrics"]["with_rerank"] is None and "not evaluated (card.rerank: false)" in page
    assert not list((results / "residual+rerank").rglob("*card*"))


def test_python_runs_the_package(tmp_path):
    # the rules call "python -m reid": the interpreter that runs the tests must be able to
    assert subprocess.run([sys.executable, "-m", "reid", "--help"], capture_output=True).returncode == 0


@pytest.mark.slow(seconds=10)
def test_gpu_jobs_side_by_side_get_their_own_device(tmp_path):
    import os

    import torch

    config = dict(TINY, variants=["avg"], seeds=[1, 2], train=dict(TINY["train"], epochs=1, eval_every=0))
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ, REID_GPU_DEVICES="0,1", REID_GPU_LOCK_DIR=str(tmp_path / "locks"))  # a fake 2-GPU machine
    targets = [f"results/synthetic/avg/seed{s}/model.pt" for s in (1, 2)]
    done = snakemake(
        tmp_path, *targets, "--cores", "2", "--resources", "gpu=2", "--configfile", str(tmp_path / "two.yaml"), env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    devices = [torch.load(tmp_path / t, weights_only=True)["provenance"]["cuda_visible_devices"] for t in targets]
    assert sorted(devices) == ["0", "1"]


def test_unlock_after_a_killed_run_needs_no_cores(tmp_path):
    # after kill -9 of snakemake itself: snakemake --unlock, then rerun with --rerun-incomplete
    done = snakemake(tmp_path, "--unlock", "--configfile", str(ROOT / "configs" / "config.yaml"))
    assert done.returncode == 0, done.stderr[-2000:]


def test_paths_with_spaces_reach_the_jobs_whole(tmp_path):
    """data_root (and so the dataset's folder) with spaces: the histogram rule's --root among them."""
    config = dict(TINY, data_root=str(tmp_path / "my data"))
    (tmp_path / "spaces.yaml").write_text(yaml.safe_dump(config))
    target = "results/synthetic/histogram_baseline.json"
    done = snakemake(tmp_path / "work dir", target, "--cores", "2", "--configfile", str(tmp_path / "spaces.yaml"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "work dir" / target).is_file() and (tmp_path / "my data" / "synthetic").is_dir()


def test_a_dataset_name_that_cannot_be_a_folder_is_refused_before_any_job(tmp_path):
    config = dict(TINY, datasets={"my set": {"path": str(tmp_path)}})
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    done = snakemake(tmp_path, "-n", "--configfile", str(tmp_path / "bad.yaml"))
    assert done.returncode != 0 and "my set" in done.stdout + done.stderr
