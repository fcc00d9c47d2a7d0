"""The cluster profiles (profiles/slurm, profiles/kubernetes): each one parses, its dry run
resolves every job's resources (no cluster, no sbatch or kubectl needed), GPU jobs ask for one
GPU and CPU jobs for none; and the executor plugin itself turns those resources into the
expected sbatch options or pod spec (under 10 s); and a retried Kubernetes training resumes
from the shared volume, emulated with the profile's storage provider (about 25 s, and the
uninterrupted run it compares with, shared with the fault trials: tests/conftest.py)."""

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tools.snakemake_run import SNAKEMAKE
from tools.snakemake_run import env as snakemake_env

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = {  # what each profile needs installed, beside snakemake
    "slurm": ["snakemake_executor_plugin_slurm"],
    "kubernetes": ["snakemake_executor_plugin_kubernetes", "snakemake_storage_plugin_fs"],
}
GPU_RULES = {"train", "evaluate", "cost"}
CPU_RULES = {"dataset", "histogram_baseline", "figure_gradcam", "figure_ranked_lists", "claims", "report", "card"}
# the paper's run: 2 datasets x 5 variants x 3 seeds, each evaluated with and without re-ranking
# (card.rerank) and given its model card; one cost job for every variant
PAPER_COUNTS = {"dataset": 2, "train": 30, "evaluate": 60, "card": 30, "cost": 1, "claims": 1, "report": 1}


def need_plugins(profile: str) -> None:
    for module in PLUGINS[profile]:
        pytest.importorskip(module, reason=f"profiles/{profile} needs {module.replace('_', '-')} (pip install it)")


def profile_settings(profile: str) -> dict:
    return yaml.safe_load((ROOT / "profiles" / profile / "config.yaml").read_text())


def parse_jobs(output: str) -> list[dict]:
    """The dry run's job listing: rule name, threads and resources of every job."""
    jobs = []
    for block in re.split(r"^(?=(?:local)?(?:rule|checkpoint) \w+:$)", output, flags=re.M)[1:]:
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block)
        threads = re.search(r"^\s+threads: (\d+)$", block, flags=re.M)
        listed = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
        resources = {}
        for item in listed.group(1).split(", ") if listed else []:
            key, _, value = item.partition("=")
            resources[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
        jobs.append({"rule": head.group(1), "threads": int(threads.group(1)) if threads else 1, "resources": resources})
    return jobs


_dry_runs: dict = {}


def dry_run(profile: str, config: str, tmp_path_factory) -> list[dict]:
    """`snakemake -n --profile profiles/<profile> --configfile configs/<config>` in a fresh folder.

    --cores only lifts the dry run's default of one core (which would cap every job's threads
    at 1); a cluster run has no --cores and no such cap."""
    key = (profile, config)
    if key not in _dry_runs:
        workdir = tmp_path_factory.mktemp(f"{profile}-{Path(config).stem}")
        env = {k: v for k, v in os.environ.items() if k != "SNAKEMAKE_PROFILE"}
        done = subprocess.run(
            [
                *SNAKEMAKE,
                "-s",
                str(ROOT / "Snakefile"),
                "--directory",
                str(workdir),
                "-n",
                "--cores",
                "256",
                "--profile",
                str(ROOT / "profiles" / profile),
                "--configfile",
                str(ROOT / "configs" / config),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=snakemake_env(env),
        )
        output = done.stdout + done.stderr
        hint = ""
        if "MissingInputException" in output and re.search(r"/reid/\S+\.py \(in storage\)", output):
            hint = (
                "\nThe workflow's package-code inputs (workflow/rules/common.smk: package_code) are "
                "absolute paths, which a default storage provider maps into the storage: the Kubernetes "
                "profile needs package_code() to return no inputs when one is set."
            )
        assert done.returncode == 0, output[-4000:] + hint
        # the workflow's default profile is merged in under the cluster profile: every test of
        # these dry runs' jobs checks the settings that result
        assert re.search(
            rf"Using profiles? \S+/profiles/{profile} and workflow specific profile \S*profiles/default", output
        )
        _dry_runs[key] = parse_jobs(output)
    return _dry_runs[key]


class Resources(dict):
    """A job's resources as the executor plugins read them: .get(name) and .name."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def fake_job(job: dict, jobid: int = 1) -> SimpleNamespace:
    resources = Resources(job["resources"], _cores=job["threads"], _nodes=1)
    return SimpleNamespace(
        name=job["rule"],
        threads=job["threads"],
        resources=resources,
        jobid=jobid,
        attempt=1,
        is_containerized=False,
        is_group=lambda: False,
    )


def first(jobs: list[dict], rule: str) -> dict:
    return next(j for j in jobs if j["rule"] == rule)


@pytest.mark.parametrize("config", ["paper.yaml", "config.yaml"])
@pytest.mark.parametrize("profile", ["slurm", "kubernetes"])
def test_profile_parses_and_gpu_jobs_ask_for_one_gpu(profile, config, tmp_path_factory):
    need_plugins(profile)
    jobs = dry_run(profile, config, tmp_path_factory)
    counts = {rule: sum(j["rule"] == rule for j in jobs) for rule in {j["rule"] for j in jobs}}
    if config == "paper.yaml":
        assert {rule: counts.get(rule) for rule in PAPER_COUNTS} == PAPER_COUNTS
    else:
        assert counts["train"] == 12 and counts["histogram_baseline"] == 1
    assert set(counts) - {"all"} <= GPU_RULES | CPU_RULES, "a rule this test does not know: classify it"
    for job in jobs:
        res = job["resources"]
        if job["rule"] in GPU_RULES:
            assert res.get("gpu") == 1, job
            assert isinstance(res.get("mem_mb"), int) and res["mem_mb"] >= 8000, job
            assert job["threads"] >= 4, job  # set-threads, not the submitting machine's core count
            if profile == "slurm":
                assert res.get("cpus_per_gpu") == job["threads"], job
                assert res.get("slurm_partition"), job
                assert isinstance(res.get("runtime"), int) and res["runtime"] >= 15, job
            else:
                assert res.get("gpu_manufacturer") == "nvidia", job  # the plugin refuses a gpu without one
                assert res.get("scale") == 0, job  # limits = requests: Kubernetes wants a GPU limit
        elif job["rule"] in CPU_RULES:
            assert not {"gpu", "gpus", "gres", "gpu_model", "gpu_manufacturer", "cpus_per_gpu"} & set(res), job
            assert isinstance(res.get("mem_mb"), int), job
            if profile == "slurm":
                assert isinstance(res.get("runtime"), int), job
    train = first(jobs, "train")["resources"]
    assert train["mem_mb"] >= 16000
    if profile == "slurm":
        assert train["runtime"] >= 240  # hours: the paper's 220 epochs of ResNet50


@pytest.mark.parametrize("profile", ["slurm", "kubernetes"])
def test_the_default_profile_changes_nothing_a_cluster_profile_sets(profile):
    """Snakemake merges profiles/default (a bare `snakemake`'s settings) over --profile's: where
    both set a key they must agree, and the default's other keys (cores: the submitting
    machine's) do not bear on the cluster's jobs."""
    default, cluster = profile_settings("default"), profile_settings(profile)
    assert set(default) == {"cores", "rerun-incomplete", "keep-going"}
    for key in set(default) & set(cluster):
        assert default[key] == cluster[key], key
    assert "resources" not in default and "set-resources" not in default and "default-resources" not in default


def test_slurm_plugin_submits_train_with_one_gpu_and_dataset_with_none(tmp_path_factory):
    need_plugins("slurm")
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    jobs = dry_run("slurm", "paper.yaml", tmp_path_factory)
    params = {
        "run_uuid": "test",
        "slurm_logfile": "log/%j.log",
        "comment_str": "rule",
        "account": "",
        "partition": "",
        "workdir": "/work",
    }

    def sbatch(rule):
        job = fake_job(first(jobs, rule))
        return get_submit_command(job, params) + set_gres_string(job)

    train = sbatch("train").split()
    assert "--gpus=1" in train and "--cpus-per-gpu=8" in train
    assert not any(o.startswith(("--gres", "--cpus-per-task", "--ntasks")) for o in train)
    assert train[train.index("-t") + 1] == "480" and train[train.index("--mem") + 1] == "32000"
    evaluate = sbatch("evaluate").split()
    assert "--gpus=1" in evaluate and "--cpus-per-gpu=8" in evaluate
    cost = sbatch("cost").split()
    assert "--gpus=1" in cost and "--exclusive" in cost
    for rule in ("dataset", "claims", "report", "figure_gradcam", "figure_ranked_lists"):
        call = sbatch(rule).split()
        assert not any("gpu" in o or o.startswith("--gres") for o in call), (rule, call)
        assert "--ntasks=1" in call and any(o.startswith("--cpus-per-task=") for o in call)
    assert "--cpus-per-task=8" in sbatch("dataset").split()


def test_kubernetes_plugin_builds_pods_with_one_nvidia_gpu_for_gpu_jobs(tmp_path_factory):
    need_plugins("kubernetes")
    from snakemake_executor_plugin_kubernetes import Executor, PersistentVolume

    jobs = dry_run("kubernetes", "paper.yaml", tmp_path_factory)
    settings = profile_settings("kubernetes")
    volumes = [PersistentVolume.parse(v) for v in settings["kubernetes-persistent-volumes"]]
    # the storage, the datasets and the decoded-image cache all on the volume every pod mounts
    mounts = [f"{v.path}/" for v in volumes]
    overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in settings["config"])}
    for path in (settings["default-storage-prefix"], overrides["data_root"], overrides["train"]["cache_dir"]):
        assert any(str(path).startswith(m) for m in mounts), path

    def pod(rule):
        """The Job body Executor.run_job submits for the first job of a rule (the API call stubbed)."""
        submitted = []
        executor = SimpleNamespace(
            format_job_exec=lambda job: "true",
            run_namespace="test",
            container_image=settings["container-image"],
            persistent_volumes=volumes,
            logger=logging.getLogger("test-kubernetes"),
            k8s_service_account_name=None,
            secret_envvars={},
            k8s_cpu_scalar=0.95,
            privileged=False,
            namespace=settings["kubernetes-namespace"],
            batchapi=SimpleNamespace(create_namespaced_job=lambda namespace, body: submitted.append(body)),
            _kubernetes_retry=lambda call: call(),
            report_job_submission=lambda info: None,
        )
        Executor.run_job(executor, fake_job(first(jobs, rule)))
        (body,) = submitted
        return body.spec.template.spec

    for rule in sorted(GPU_RULES):
        spec = pod(rule)
        resources = spec.containers[0].resources
        assert resources.requests["nvidia.com/gpu"] == "1" and resources.limits["nvidia.com/gpu"] == "1", rule
        assert [t.key for t in spec.tolerations] == ["nvidia.com/gpu"], rule
        assert {m.mount_path for m in spec.containers[0].volume_mounts} >= {str(v.path) for v in volumes}
    train = pod("train").containers[0].resources
    assert train.requests["cpu"] == "7600m" and train.limits["memory"] == "32000M"
    for rule in ("dataset", "claims", "report", "figure_gradcam", "figure_ranked_lists"):
        spec = pod(rule)
        resources = spec.containers[0].resources
        assert not any("gpu" in k for k in resources.requests), (rule, resources.requests)
        assert not resources.limits and not spec.tolerations, rule


@pytest.mark.slow(seconds=20)
def test_kubernetes_retry_resumes_from_the_checkpoint_on_the_shared_volume(tmp_path, uninterrupted_run):
    """A retried pod starts in a fresh folder; the profile's default storage (the fs provider on
    the shared volume) holds the resume checkpoints too. Emulated here with the same storage
    provider: one 'pod' (a snakemake process in its own folder) is killed with its training
    mid-run, a second one in another folder finishes it from the volume, and the result equals
    an uninterrupted run's."""
    need_plugins("kubernetes")
    if shutil.which("rsync") is None:
        pytest.skip("the fs storage plugin needs rsync: run sh tests/install_cluster.sh")
    from tools.faults import same_weights, trial_config, weights

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(trial_config(tmp_path / "data", tmp_path / "cache")))
    target = "results/synthetic/residual/seed1/metrics.json"
    volume = tmp_path / "volume"

    def snakemake(folder: Path) -> subprocess.Popen:
        cmd = [*SNAKEMAKE, target, "-s", str(ROOT / "Snakefile"), "--directory", str(folder)]
        cmd += ["--configfile", str(config), "--cores", "2"]
        cmd += ["--default-storage-provider", "fs", "--default-storage-prefix", str(volume)]
        return subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env=snakemake_env(),
        )

    def finish(job: subprocess.Popen) -> str:
        try:
            out, _ = job.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            pytest.fail("snakemake did not finish within 300 s")
        assert job.returncode == 0, out[-3000:]
        return out

    pod = snakemake(tmp_path / "pod1")
    deadline = time.time() + 180
    while not list((volume / ".resume").rglob("checkpoint.prev.pt")):  # a second epoch being saved
        assert pod.poll() is None and time.time() < deadline, "the training did not start"
        time.sleep(0.05)
    os.killpg(pod.pid, signal.SIGKILL)  # the pod is gone, snakemake and training with it
    pod.communicate()

    finish(snakemake(tmp_path / "pod2"))  # the retry: a fresh pod, the same volume
    log = (volume / "logs" / "train" / "synthetic" / "residual" / "seed1.log").read_text()
    resumed = re.search(r"resuming \S+ after epoch (\d+)", log)
    assert resumed and int(resumed[1]) >= 1, log[-2000:]
    assert not list((volume / ".resume").rglob("checkpoint*.pt"))  # a finished run drops them

    reference = uninterrupted_run()  # the same config, run without a kill
    got = json.loads((volume / target).read_text())
    want = json.loads((reference / target).read_text())
    assert {k: got[k] for k in ("R1", "mAP", "cmc")} == {k: want[k] for k in ("R1", "mAP", "cmc")}
    run = "results/synthetic/residual/seed1/model.pt"
    assert same_weights(weights(volume / run), weights(reference / run))
