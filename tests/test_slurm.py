"""profiles/slurm against a real scheduler: a single-node SLURM cluster (Debian's slurm-wlm and
munge, installed by tests/install_cluster.sh), started here as plain processes and stopped by PID.

The node declares one fake GPU (gres on /dev/null), so that ``--gpus=1`` jobs run and get
CUDA_VISIBLE_DEVICES=0. The partition is called ``debug`` and the node has 2 CPUs: the overrides
a small cluster needs (README, "Running on a cluster") are given on the command line. There is no
accounting (``sacct`` answers "accounting storage is disabled"): the runs use
``--slurm-status-command squeue``, with a MinJobAge that keeps finished jobs visible to it.

One run of the tiny suite's GPU jobs (every GPU rule: train, evaluate, with and without
re-ranking, and cost; and the dataset, a CPU job) whose training is cancelled by SLURM mid-run (SIGTERM, then SIGKILL after KillWait: what a time limit or
a pre-emption does too): the profile's retry resubmits it, it resumes from its last epoch, and the
outputs equal those of an uninterrupted local run. One run, not two: each level of the DAG costs
a poll of the scheduler (about 12 s), most of this test's time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from tools.faults import comparable, same_weights, trial_config, weights
from tools.snakemake_run import SNAKEMAKE
from tools.snakemake_run import env as snakemake_env

ROOT = Path(__file__).resolve().parents[1]
# the path compiled into SLURM: the plugin's job step removes SLURM_CONF from its inner srun
CONF = Path("/etc/slurm/slurm.conf")
GRES = Path("/etc/slurm/gres.conf")
MARK = "# written by tests/test_slurm.py (removed when it ends)"
GPU_RULES = {"train", "evaluate", "cost"}
# every GPU rule kind and a CPU one: not the figures and the report, which would add two levels
# to the DAG, a poll of the scheduler each (tests/test_workflow.py builds them locally)
TARGETS = [f"results/synthetic/{v}/seed1/metrics.json" for v in ("residual", "residual+rerank")]
TARGETS += ["results/cost/residual.json"]
RULES = GPU_RULES | {"dataset"}
SNAKEMAKE_TIMEOUT = 420  # seconds: a hung scheduler must fail the test, not CI

pytestmark = [pytest.mark.slow(seconds=75), pytest.mark.xdist_group("slurm")]  # one cluster, one worker


def tiny_config(data_root: Path) -> dict:
    """The fault trials' tiny config (tools/faults.py), whose uninterrupted run the cluster run
    must equal, with the device left to choose (auto), so that the GPU rules ask SLURM for a GPU."""
    config = trial_config(data_root, data_root / "cache")
    del config["train"]["device"]
    return {**config, "cost": {"runs": 3}}


EPOCHS = trial_config(Path("data"), Path("cache"))["train"]["epochs"]


def small_cluster_overrides() -> list[str]:
    """What a user of a small cluster overrides: the GPU partition's name, and memory and CPUs
    per job that the node can give (the profile asks 32,000 MB and 8 CPUs per GPU)."""
    resources = [f"{rule}:slurm_partition=debug" for rule in sorted(GPU_RULES)]
    resources += [f"{rule}:cpus_per_gpu=1" for rule in sorted(GPU_RULES)]
    resources += [f"{rule}:mem_mb=1000" for rule in sorted(RULES)]
    threads = [f"{rule}=1" for rule in sorted(RULES)]
    return ["--set-resources", *resources, "--set-threads", *threads]


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stop(*pids: int | None) -> None:
    """SIGTERM to each, then SIGKILL to those still alive after 5 s."""
    alive = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            alive.append(pid)
        except (ProcessLookupError, TypeError):  # gone, or never started (None)
            continue
    deadline = time.time() + 5
    while alive and time.time() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if _running(pid)]
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 4096


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running single-node cluster; its daemons are stopped and its config removed after."""
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol") if not shutil.which(b)]
    if missing:
        pytest.skip(f"SLURM is not installed ({', '.join(missing)} missing): run sh tests/install_cluster.sh as root")
    if os.geteuid() != 0:
        pytest.skip("the SLURM test starts slurmd, which needs root")
    if CONF.exists() and MARK not in CONF.read_text():
        pytest.skip(f"{CONF} belongs to another SLURM installation: this test does not touch it")
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[test]'")

    state = tmp_path_factory.mktemp("slurm")
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(
        f"""{MARK}
ClusterName=reidtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# in a container: no cgroups to track processes or bind tasks with
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
StateSaveLocation={state}/state
SlurmdSpoolDir={state}/spool
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ReturnToService=2
# squeue sees a finished job for MinJobAge seconds: the plugin's squeue status query needs it
# to outlast its polling interval (it recommends at least 120)
MinJobAge=600
# SIGTERM, then SIGKILL after KillWait seconds: a cancelled or timed-out job's grace period
KillWait=5
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName={host} CPUs={cpus} RealMemory={max(2000, _memory_mb() // 2)} Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
    )
    GRES.write_text(f"{MARK}\nNodeName={host} Name=gpu File=/dev/null\n")  # a fake GPU
    for folder in ("state", "spool"):
        (state / folder).mkdir()

    started_munge = None
    if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
        for folder in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.chown(folder, "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "munged", "--force"], check=True, timeout=30)
        started_munge = _pid(Path("/run/munge/munged.pid"))
    try:
        subprocess.run(["slurmctld", "-i"], check=True, timeout=30)
        subprocess.run(["slurmd"], check=True, timeout=30)
        deadline = time.time() + 60
        while time.time() < deadline:
            done = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
            if done.stdout.strip() == "idle":
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the SLURM node did not come up: {(state / 'slurmd.log').read_text()[-2000:]}")
        yield state
    finally:
        _stop(_pid(state / "slurmd.pid"), _pid(state / "slurmctld.pid"), started_munge)
        for path in (CONF, GRES):
            if path.exists() and MARK in path.read_text():
                path.unlink()


def snakemake(workdir: Path, config: Path, *targets: str) -> subprocess.Popen:
    """The workflow through profiles/slurm, in the background (targets first: --configfile and
    --set-resources take several values)."""
    cmd = [*SNAKEMAKE, *targets, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(config), "--profile", str(ROOT / "profiles" / "slurm")]
    cmd += ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1"]
    cmd += ["--latency-wait", "5", *small_cluster_overrides()]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=snakemake_env()
    )


def finish(job: subprocess.Popen) -> tuple[int, str]:
    """Waits, bounded: on a timeout the whole process group is killed and its jobs cancelled."""
    try:
        out, _ = job.communicate(timeout=SNAKEMAKE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True)
        out, _ = job.communicate()
        pytest.fail(f"snakemake did not finish within {SNAKEMAKE_TIMEOUT} s:\n{out[-3000:]}")
    return job.returncode, out


def slurm_jobs() -> list[dict]:
    """Every job the controller knows (finished ones too, for MinJobAge): id, rule, GPU request."""
    done = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True)
    jobs = []
    for line in done.stdout.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in fields:  # "No jobs in the system"
            continue
        rule = re.match(r"rule_(\w+?)(?:_wildcards_|$)", fields.get("Comment", ""))
        jobs.append({"id": fields["JobId"], "rule": rule[1] if rule else None, **fields})
    return jobs


def test_tiny_suite_through_slurm_with_a_training_cancelled_and_resumed(slurm, tmp_path, uninterrupted_run):
    """One run of the tiny suite's GPU jobs (every GPU rule kind) through the profile, its training
    cancelled by SLURM once mid-run: resubmitted by the profile's retry, it resumes and the
    run's outputs equal those of an uninterrupted local run of the same config."""
    if torch.cuda.is_available():
        pytest.skip("the node's GPU here is a fake one: a real GPU behind it would train unlike the CPU reference")
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tmp_path / "data")))
    runs = tmp_path / "cluster" / "results" / "synthetic"
    before = {j["id"] for j in slurm_jobs()}
    job = snakemake(tmp_path / "cluster", config, *TARGETS)
    try:
        deadline = time.time() + 180
        while not (runs / "residual" / "seed1" / "checkpoint.prev.pt").exists():  # a second epoch being saved
            assert job.poll() is None and time.time() < deadline, "the training did not start"
            time.sleep(0.1)
        training = [j for j in slurm_jobs() if j["id"] not in before and j["rule"] == "train"]
        assert len(training) == 1, training
        subprocess.run(["scancel", training[0]["id"]], check=True)  # SIGTERM, SIGKILL after KillWait
    finally:
        code, out = finish(job)
    assert code == 0, out[-4000:]  # the profile's retry resubmitted it

    jobs = [j for j in slurm_jobs() if j["id"] not in before]
    assert {j["rule"] for j in jobs} == RULES, [j["rule"] for j in jobs]
    for j in jobs:  # every GPU rule asked SLURM for one GPU, and only they did
        asked = j.get("TresPerJob", "")
        assert ("gpu:1" in asked) == (j["rule"] in GPU_RULES), (j["rule"], asked)
        assert j["Partition"] == "debug"
    states = sorted((int(j["id"]), j["rule"], j["JobState"]) for j in jobs)
    assert [state for _, rule, state in states if rule == "train"] == ["CANCELLED", "COMPLETED"], states
    assert all(state == "COMPLETED" for _, rule, state in states if rule != "train"), states
    log = (tmp_path / "cluster" / "logs" / "train" / "synthetic" / "residual" / "seed1.log").read_text()
    resumed = re.search(r"resuming \S+ after epoch (\d+)", log)
    assert resumed and 1 <= int(resumed[1]) < EPOCHS, log[-2000:]  # from the newest complete checkpoint

    ids = {j["id"] for j in jobs if j["rule"] in GPU_RULES and j["JobState"] == "COMPLETED"}
    records = [torch.load(runs / "residual" / "seed1" / "model.pt", weights_only=True)["provenance"]]
    records += [
        json.loads((runs / v / "seed1" / "metrics.json").read_text())["provenance"]
        for v in ("residual", "residual+rerank")
    ]
    for record in records:  # ran inside a GPU job of SLURM's, with the device SLURM gave it
        assert record["cuda_visible_devices"] == "0" and record["slurm_job_id"] in ids, record
    assert json.loads((tmp_path / "cluster" / "results" / "cost" / "residual.json").read_text())["params_M"] > 0

    # the outputs of an uninterrupted local run of the same config
    local = uninterrupted_run() / "results" / "synthetic"
    for variant in ("residual", "residual+rerank"):
        assert comparable(runs / variant / "seed1" / "metrics.json") == comparable(
            local / variant / "seed1" / "metrics.json"
        )
    run, reference = runs / "residual" / "seed1" / "model.pt", local / "residual" / "seed1" / "model.pt"
    assert same_weights(weights(run), weights(reference))
