# Training: one job per dataset x variant x seed, and per training reading under `snakemake
# readings` (the {reading} part of the path, see common.smk). A job holds one GPU
# (--resources gpu=1 serialises them on a one-GPU machine). Its checkpoint survives a killed
# job (it is not a declared output), so rerunning the workflow resumes the run.


rule train:
    input:
        status=dataset_status("{dataset}"),
        code=TRAIN_CODE,
    output:
        model="results/{dataset}/{reading}{variant}/seed{seed}/model.pt",
        log_csv="results/{dataset}/{reading}{variant}/seed{seed}/log.csv",
        curve="results/{dataset}/{reading}{variant}/seed{seed}/curve.npz",  # This holds the per-query hits of the curve's evaluations (C6).
    params:
        config=lambda w: job_config(w.dataset, w.reading),
        out=lambda w, output: os.path.dirname(output.model),
    threads: JOB_SLOTS
    resources:
        gpu=gpu_request,
    log:
        "logs/train/{dataset}/{reading}{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{dataset}/{reading}{variant}/seed{seed}.tsv"
    shell:
        "python -m reid train --config-json {params.config} --dataset {wildcards.dataset} --dataset-status {input.status} "
        "--variant {wildcards.variant} --seed {wildcards.seed} --out {params.out} > {log} 2>&1"
