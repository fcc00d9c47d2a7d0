# Evaluation of each trained model; residual+rerank re-evaluates the residual checkpoints
# with k-reciprocal re-ranking (no training of its own).


rule evaluate:
    input:
        model="results/{dataset}/{variant}/seed{seed}/model.pt",
        status=dataset_status("{dataset}"),
        code=EVAL_CODE,
    output:
        metrics="results/{dataset}/{variant}/seed{seed}/metrics.json",
        per_query="results/{dataset}/{variant}/seed{seed}/per_query.npz",
    params:
        config=lambda w: job_config(w.dataset),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: JOB_SLOTS
    resources:
        gpu=gpu_request,
    log:
        "logs/evaluate/{dataset}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/{variant}/seed{seed}.tsv"
    shell:
        "python -m reid evaluate --config-json {params.config} --dataset {wildcards.dataset} --dataset-status {input.status} "
        "--checkpoint {input.model} --out {params.out} > {log} 2>&1"


rule evaluate_rerank:
    input:
        model="results/{dataset}/residual/seed{seed}/model.pt",
        status=dataset_status("{dataset}"),
        code=EVAL_CODE,
    output:
        metrics="results/{dataset}/residual+rerank/seed{seed}/metrics.json",
        per_query="results/{dataset}/residual+rerank/seed{seed}/per_query.npz",
    params:
        config=lambda w: job_config(w.dataset),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: JOB_SLOTS
    resources:
        gpu=gpu_request,
    log:
        "logs/evaluate/{dataset}/residual+rerank/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/residual+rerank/seed{seed}.tsv"
    shell:
        "python -m reid evaluate --config-json {params.config} --dataset {wildcards.dataset} --dataset-status {input.status} "
        "--checkpoint {input.model} --rerank --out {params.out} > {log} 2>&1"
