# Evaluation of each trained model, under its training reading (the {reading} part of the
# path). A run folder named <variant>+rerank (the {rerank} part: Table 2's residual+rerank)
# holds the same models evaluated with k-reciprocal re-ranking: no training of its own.


rule evaluate:
    input:
        model="results/{dataset}/{reading}{variant}/seed{seed}/model.pt",
        status=dataset_status("{dataset}"),
        code=EVAL_CODE,
    output:
        metrics="results/{dataset}/{reading}{variant}{rerank}/seed{seed}/metrics.json",
        per_query="results/{dataset}/{reading}{variant}{rerank}/seed{seed}/per_query.npz",
    params:
        config=lambda w: job_config(w.dataset, w.reading),
        rerank=lambda w: " --rerank" if w.rerank else "",
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: JOB_SLOTS
    resources:
        gpu=gpu_request,
    log:
        "logs/evaluate/{dataset}/{reading}{variant}{rerank}/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/{reading}{variant}{rerank}/seed{seed}.tsv"
    shell:
        "python -m reid evaluate --config-json {params.config} --dataset {wildcards.dataset} --dataset-status {input.status} "
        "--checkpoint {input.model}{params.rerank} --out {params.out} > {log} 2>&1"
