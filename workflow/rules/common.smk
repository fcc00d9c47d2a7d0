# Shared helpers of the workflow (and nothing else: the stages' rules are in their own files):
# the config's lists, the wildcards' patterns, how a job gets its config, which package files a
# result depends on (so that a code change reruns what it affects), and the targets.
import json
import os
import re
import shlex
import time
from pathlib import Path

from reid import targets  # Sharing it means the workflow asks for what the report expects.
from reid.variants import RERANK_SUFFIX, TRAINING_READINGS
from reid.variants import VARIANTS as ALL_VARIANTS

# The config has every key here: the Snakefile's validate() filled in the schema's defaults.
DATA_ROOT = config["data_root"]
DATASETS = list(config["datasets"])
VARIANTS = config["variants"]
GRADCAM_VARIANTS = targets.gradcam_variants(VARIANTS)


def _gpu_jobs_at_once():
    """N of --resources gpu=N: how many GPU jobs run side by side (1 if not limited)."""
    value = workflow.global_resources.get("gpu")
    try:
        return max(1, int(getattr(value, "value", value)))
    except (TypeError, ValueError):
        return 1


def _cores():
    try:
        return int(workflow.cores)
    except Exception:  # Without --cores (e.g. a cluster executor's submit step) the machine's count serves.
        return os.cpu_count() or 1


TRAINS_ON_CPU = config["train"]["device"] == "cpu"


def _cpu_only():
    """Snakemake runs on a machine without a GPU, or the config trains on the CPU."""
    from reid.gpu_slot import device_pool

    return TRAINS_ON_CPU or not device_pool()


# How a torch job (train, evaluate, Grad-CAM) shares the machine. With a GPU it holds one
# (--resources gpu=N lets N run at once) and gets its share of the cores. Without one, a GPU
# slot would only serialise the jobs: there they hold none, and CPU_JOBS of them run side by
# side with the cores split between them (config cpu_jobs; auto: one per core, because
# one-thread jobs side by side train at least as many images as one job of all the threads,
# and one job's start-up overlaps the other's work: python -m reid.bench cpu measures it, and
# the README's "Time" section gives the figures). JOB_SLOTS is
# what a job counts against --cores, JOB_THREADS the torch threads it runs with:
# REID_TORCH_THREADS, inherited by the jobs (reid.cli.torch_threads), not in the shell
# commands, whose text Snakemake compares to decide a rerun.
MACHINE_CORES = max(1, min(os.cpu_count() or 1, _cores()))
CPU_ONLY = _cpu_only()
if CPU_ONLY:
    CPU_JOBS = MACHINE_CORES if config["cpu_jobs"] == "auto" else config["cpu_jobs"]
    JOB_THREADS = max(1, MACHINE_CORES // CPU_JOBS)
    JOB_SLOTS = max(1, _cores() // CPU_JOBS)
else:
    JOB_THREADS = max(1, MACHINE_CORES // _gpu_jobs_at_once())
    JOB_SLOTS = JOB_THREADS


def gpu_request(wildcards):
    """A torch job's gpu resource: 1 where it may get a GPU, 0 where it runs on this machine and
    this machine has none (a GPU slot would only serialise the jobs). Under a cluster executor,
    and in the jobs it submits, the jobs run on machines whose GPUs a login node cannot see:
    there the rule asks for one, whatever the profile's set-resources say (a command-line
    --set-resources replaces the profile's whole list, its gpu=1 pins too). Called per job, as
    Snakemake knows its executor only then."""
    if workflow.non_local_exec or workflow.remote_exec:
        return 0 if TRAINS_ON_CPU else 1
    return 0 if CPU_ONLY else 1


ALL_CORES = _cores()  # A job that must run alone (latency measurements) takes them all.
# Resume checkpoints are no declared output: under a default storage provider (the Kubernetes
# profile) a job runs in a folder of its own, lost with its pod, so that a retried training
# would start again from epoch 1. There they go beside the stored files, on the shared volume
# (reid.checkpoints.resume_folder); elsewhere in the run folder.
if workflow.storage_settings.default_storage_provider == "fs":
    os.environ.update(REID_RESUME_ROOT=os.path.join(workflow.storage_settings.default_storage_prefix, ".resume"))
else:
    os.environ.pop("REID_RESUME_ROOT", None)

if workflow.remote_exec:
    # A job a cluster executor submitted takes its threads from its allocation (Snakemake sets
    # OMP_NUM_THREADS to the rule's threads, and torch follows it), not from a share of this node,
    # nor from what the submitting node computed and exported.
    for name in ("REID_TORCH_THREADS", "REID_MACHINE_THREADS"):
        os.environ.pop(name, None)
else:  # The jobs inherit these (reid.cli.torch_threads).
    os.environ.update(REID_TORCH_THREADS=str(JOB_THREADS), REID_MACHINE_THREADS=str(MACHINE_CORES))

wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),
    variant="|".join(ALL_VARIANTS),  # residual+rerank is no variant, so its rule names it.
    seed=r"\d+",
    # A run's training reading is a part of its path: nothing for the paper's reading as the
    # config gives it, and "readings/<name>/" for one of reid.variants.TRAINING_READINGS.
    reading="|".join(["", *(re.escape(f"readings/{name}/") for name in TRAINING_READINGS)]),
    rerank=f"|{re.escape(RERANK_SUFFIX)}",  # This marks an evaluation with k-reciprocal re-ranking.
    # A cross-dataset evaluation's two datasets (workflow/rules/cross.smk), each one of the config's.
    trained_on="|".join(re.escape(d) for d in DATASETS),
    evaluated_on="|".join(re.escape(d) for d in DATASETS),


def dataset_options(name):
    return config["datasets"][name]


def stored(path):
    """Where this process reads a file the workflow wrote: the file itself, or its stored copy
    under the fs default storage provider (the Kubernetes profile's shared volume)."""
    settings = workflow.storage_settings
    if settings.default_storage_provider is None:
        return Path(path)
    return Path(settings.default_storage_prefix.rstrip("/"), path)


def dataset_status(name):
    """The dataset job's record (reid.data.prepare): its consumers' input."""
    return f"results/{name}/dataset.json"


def dataset_ready(name):
    """Whether the dataset job found the dataset (call after checkpoints.dataset.get)."""
    try:
        return bool(json.loads(stored(dataset_status(name)).read_text()).get("ok"))
    except (OSError, ValueError):
        return False


def retry_token(name):
    """A failed dataset is tried again on every run: its status records a failure, not a
    result, so the token (a params rerun trigger) changes each time while it says failed."""
    path = stored(dataset_status(name))
    return f"retry after failure, {time.time()}" if path.exists() and not dataset_ready(name) else ""


def dataset_config(name):
    """What the dataset job reads: changing it (and only it) prepares the dataset again."""
    return shlex.quote(json.dumps({"data_root": DATA_ROOT, "datasets": {name: dataset_options(name)}}, sort_keys=True))


def job_config(name, reading=""):
    """The part of the config a job on dataset ``name`` reads, as one shell-quoted JSON string:
    a change to it (and only to it) reruns the job (Snakemake's params rerun trigger). Under a
    training reading (the {reading} wildcard, "readings/<name>/"), with that reading's train: keys."""
    name_of_reading = reading.removeprefix("readings/").removesuffix("/")
    train = dict(config["train"], **(TRAINING_READINGS[name_of_reading]["train"] if reading else {}))
    part = {"data_root": DATA_ROOT, "datasets": {name: dataset_options(name)}, "train": train}
    return shlex.quote(json.dumps(part, sort_keys=True))


def package_code(*modules):
    """Source files of the package modules that a job runs, as its inputs; editing them reruns the job.
    None with a default storage provider (the Kubernetes executor): there every input is looked
    up in the storage, and the jobs get the package with the workflow's sources instead."""
    if workflow.storage_settings.default_storage_provider is not None:
        return []
    files = []
    package = Path(workflow.basedir) / "reid"  # The path is absolute, because the workflow may run in another --directory.
    for module in modules:
        path = package / module
        files += sorted(str(p) for p in path.rglob("*.py")) if path.is_dir() else [str(path.with_suffix(".py"))]
    return files


RUNTIME_CODE = package_code("config", "runtime", "provenance", "utils", "variants")
TRAIN_CODE = RUNTIME_CODE + package_code("models", "data", "checkpoints", "train", "losses", "features", "metrics")
EVAL_CODE = TRAIN_CODE + package_code("evaluate", "rerank")
COST_CODE = package_code("cost", "models", "runtime")
FIGURE_CODE = package_code("figures")
GRADCAM_CODE = package_code("figures", "models", "checkpoints")
REPORT_CODE = package_code("report", "figures", "targets", "claims", "stats", "paper")
CARD_CODE = package_code(
    "card", "checkpoints", "config", "provenance", "paper", "targets", "utils", "variants", "data/catalog"
)


# ---------------------------------------------------------------- targets


def dataset_results(dataset):
    """Every result file the config asks for on one dataset."""
    return targets.dataset_results(config, dataset)


def all_results():
    """Every dataset's results: a dataset that is missing fails these, with its error."""
    return [r for d in DATASETS for r in dataset_results(d)]


def cost_results():
    return targets.cost_results(config)


def histogram_baselines():
    """The no-learning calibration of the synthetic set (the public sets need none)."""
    return [f"results/{d}/histogram_baseline.json" for d in DATASETS if d == "synthetic"]


def reading_results():
    """What the readings target trains and evaluates (not part of the default run)."""
    return targets.reading_results(config)


def card_results():
    """The model cards of every training of the default run (not of the re-ranked evaluations)."""
    return targets.card_results(config)


def reading_cards():
    """The model cards of the readings' trainings (not part of the default run)."""
    return targets.reading_cards(config)


def card_rerank(wildcards):
    """The re-ranked evaluation that a run's card reports, where it reports one (config card.rerank):
    the evaluate rule makes it under <variant>+rerank/."""
    if not targets.card_reranks(config, wildcards.variant, wildcards.reading):
        return []
    run = f"results/{wildcards.dataset}/{wildcards.reading}{wildcards.variant}{RERANK_SUFFIX}/seed{wildcards.seed}"
    return [f"{run}/metrics.json"]


def cross_results():
    """What the cross target evaluates: every trained model on each other dataset (not part of the default run)."""
    return targets.cross_results(config)


def report_inputs(wildcards):
    """The statuses of all datasets, the results of those that are ready, and the readings' and
    cross-dataset results that exist (after ``snakemake readings`` or ``snakemake cross``, the
    next run adds them to the report)."""
    inputs = [checkpoints.dataset.get(dataset=d).output.status for d in DATASETS]
    inputs += [r for d in DATASETS if dataset_ready(d) for r in dataset_results(d)]
    return inputs + [r for r in reading_results() + cross_results() if stored(r).exists()]


def gradcam_checkpoints(wildcards, input):
    """Figure 6's rows as --checkpoint LABEL=model.pt options, in the paper's order."""
    return " ".join(f"--checkpoint {v}={shlex.quote(m)}" for v, m in zip(GRADCAM_VARIANTS, input.models))
