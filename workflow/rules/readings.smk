# The readings of the paper that move the numbers and need trainings of their own
# (reid.variants.TRAINING_READINGS): avg, max and residual trained and evaluated again with the
# reading's train: keys, under results/<dataset>/readings/<reading>/. Not part of the default
# run: `snakemake readings --cores 8 --resources gpu=1`, then `snakemake ...` again puts them in
# the report's sensitivity table.


rule readings:
    input:
        reading_results(),


rule train_reading:
    input:
        status=dataset_status("{dataset}"),
        code=TRAIN_CODE,
    output:
        model="results/{dataset}/readings/{reading}/{variant}/seed{seed}/model.pt",
        log_csv="results/{dataset}/readings/{reading}/{variant}/seed{seed}/log.csv",
        curve="results/{dataset}/readings/{reading}/{variant}/seed{seed}/curve.npz",  # per-query hits of the curve's evaluations (C6)
    params:
        config=lambda w: job_config(w.dataset, w.reading),
        out=lambda w, output: os.path.dirname(output.model),
    threads: JOB_SLOTS
    resources:
        gpu=gpu_request,
    log:
        "logs/train/{dataset}/readings/{reading}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/train_reading/{dataset}/{reading}/{variant}/seed{seed}.tsv"
    shell:
        "python -m reid train --config-json {params.config} --dataset {wildcards.dataset} --dataset-status {input.status} "
        "--variant {wildcards.variant} --seed {wildcards.seed} --out {params.out} > {log} 2>&1"


rule evaluate_reading:
    input:
        model="results/{dataset}/readings/{reading}/{variant}/seed{seed}/model.pt",
        status=dataset_status("{dataset}"),
        code=EVAL_CODE,
    output:
        metrics="results/{dataset}/readings/{reading}/{variant}/seed{seed}/metrics.json",
        per_query="results/{dataset}/readings/{reading}/{variant}/seed{seed}/per_query.npz",
    params:
        config=lambda w: job_config(w.dataset, w.reading),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: JOB_SLOTS
    resources:
        gpu=gpu_request,
    log:
        "logs/evaluate/{dataset}/readings/{reading}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate_reading/{dataset}/{reading}/{variant}/seed{seed}.tsv"
    shell:
        "python -m reid evaluate --config-json {params.config} --dataset {wildcards.dataset} --dataset-status {input.status} "
        "--checkpoint {input.model} --out {params.out} > {log} 2>&1"
