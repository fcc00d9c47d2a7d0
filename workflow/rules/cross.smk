# Cross-dataset evaluation, outside the default run (`snakemake cross`): every model the config
# trains on one of its datasets, evaluated on each of the others, under
# results/cross/<trained on>/<evaluated on>/<variant>/seed<N>/. It is the evaluate command with
# another dataset than the model's (its metrics.json names both). The next `snakemake` adds them
# to the report: a cross-dataset table beside the same-dataset figures, and the comparison
# claims judged on them ("trained on A, evaluated on B") with their reading across datasets.


rule cross_evaluate:
    input:
        model="results/{trained_on}/{variant}/seed{seed}/model.pt",
        status=dataset_status("{evaluated_on}"),
        code=EVAL_CODE,
    output:
        metrics="results/cross/{trained_on}/{evaluated_on}/{variant}/seed{seed}/metrics.json",
        per_query="results/cross/{trained_on}/{evaluated_on}/{variant}/seed{seed}/per_query.npz",
    params:
        config=lambda w: job_config(w.evaluated_on),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: JOB_SLOTS
    resources:
        gpu=gpu_request,
    log:
        "logs/cross/{trained_on}/{evaluated_on}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/cross/{trained_on}/{evaluated_on}/{variant}/seed{seed}.tsv"
    shell:
        "python -m reid evaluate --config-json {params.config} --dataset {wildcards.evaluated_on} "
        "--dataset-status {input.status} --checkpoint {input.model} --out {params.out} > {log} 2>&1"
