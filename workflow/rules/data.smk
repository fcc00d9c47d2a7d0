# Datasets: render the synthetic set, fetch and verify the public ones, check custom ones.
# One job per dataset writes results/<dataset>/dataset.json: ok with counts and checksums, or
# the error. It is a checkpoint: the report asks for the results of the datasets that are
# ready, so with --keep-going a missing dataset fails only its own jobs (train and evaluate
# stop with the recorded error) and the report still says what did not run.


checkpoint dataset:
    input:
        # A custom folder is read in place, so replacing it (its mtime) prepares it again; a missing
        # one is the job's to report, not Snakemake's.
        lambda w: [p for p in [dataset_options(w.dataset).get("path")] if p and Path(p).exists()],
    output:
        status="results/{dataset}/dataset.json",
    params:
        config=lambda w: dataset_config(w.dataset),
        retry=lambda w: retry_token(w.dataset),
    log:
        "logs/data/{dataset}.log",
    benchmark:
        "benchmarks/data/{dataset}.tsv"
    threads: MACHINE_CORES
    shell:
        "python -m reid data prepare {wildcards.dataset} --config-json {params.config} --status {output.status} "
        "--workers {threads} --quiet > {log} 2>&1"


rule histogram_baseline:
    input:
        status=dataset_status("{dataset}"),
    output:
        "results/{dataset}/histogram_baseline.json",
    params:
        root=lambda w: f"{DATA_ROOT}/{w.dataset}",
    log:
        "logs/histogram_baseline/{dataset}.log",
    benchmark:
        "benchmarks/histogram_baseline/{dataset}.tsv"
    shell:
        "python -m reid data histogram-baseline --root {params.root:q} --out {output} > {log} 2>&1"
