# The report: Tables 2-4 and Figures 4-6 beside the paper's numbers, in report/index.html.
# Built from the datasets that are ready (see the dataset checkpoint in data.smk); what was
# asked for and did not run is listed in the report.

from reid import report as reid_report  # what the report expects is what the workflow asks for

GRADCAM_VARIANTS = reid_report.gradcam_variants(VARIANTS)


rule figure_ranked_lists:
    input:
        per_query="results/{dataset}/residual/seed{seed}/per_query.npz",
        status=dataset_status("{dataset}"),
        code=package_code("figures"),
    output:
        "results/{dataset}/figures/ranked_lists_seed{seed}.png",
    log:
        "logs/figures/{dataset}/ranked_lists_seed{seed}.log",
    benchmark:
        "benchmarks/figures/{dataset}/ranked_lists_seed{seed}.tsv"
    shell:
        "python -m reid figure ranked-lists --per-query {input.per_query} --dataset-status {input.status} "
        "--out {output} > {log} 2>&1"


rule figure_gradcam:
    input:
        models=expand("results/{{dataset}}/{variant}/seed{{seed}}/model.pt", variant=GRADCAM_VARIANTS),
        status=dataset_status("{dataset}"),
        code=package_code("figures", "models"),
    output:
        "results/{dataset}/figures/gradcam_seed{seed}.png",
    params:
        checkpoints=lambda w, input: " ".join(f"--checkpoint {v}={m}" for v, m in zip(GRADCAM_VARIANTS, input.models)),
    threads: JOB_THREADS
    log:
        "logs/figures/{dataset}/gradcam_seed{seed}.log",
    benchmark:
        "benchmarks/figures/{dataset}/gradcam_seed{seed}.tsv"
    shell:
        "python -m reid figure gradcam {params.checkpoints} --dataset {wildcards.dataset} "
        "--dataset-status {input.status} --out {output} > {log} 2>&1"


def dataset_results(dataset):
    """Every result file the config asks for on one dataset."""
    return reid_report.dataset_results(config, dataset)


def all_results():
    return [r for d in DATASETS for r in dataset_results(d)]


def report_inputs(wildcards):
    """The statuses of all datasets, and the results of those that are ready."""
    inputs = [checkpoints.dataset.get(dataset=d).output.status for d in DATASETS]
    return inputs + [r for d in DATASETS if dataset_ready(d) for r in dataset_results(d)]


rule report:
    input:
        results=report_inputs,
        profiles=reid_report.profile_results(config),
        code=package_code("report"),
    output:
        "report/index.html",
    params:
        config=shlex.quote(json.dumps(config, sort_keys=True)),
        results=str(stored("results")),
        benchmarks=str(stored("benchmarks")),
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    shell:
        "python -m reid report --config-json {params.config} --results {params.results} --benchmarks {params.benchmarks} "
        "--out {output} > {log} 2>&1"
