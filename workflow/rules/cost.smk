# Table 4: the cost of each variant, its parameters, FLOPs (fvcore and thop) and latency, at the
# config's backbone and input size (no training needed). One job measures every variant: one
# start-up instead of one per variant, and latencies measured one after another under the same
# load.


rule cost:
    input:
        code=COST_CODE,
    output:
        expand("results/cost/{variant}.json", variant=VARIANTS),
    params:
        config=lambda w: shlex.quote(json.dumps({"train": config["train"], "cost": config["cost"]}, sort_keys=True)),
        variants=lambda w, output: " ".join(f"--variant {v} --out {shlex.quote(o)}" for v, o in zip(VARIANTS, output)),
    # The job takes every core the run may use, so that no other job runs beside a latency
    # measurement; torch itself uses the machine's cores and no more (REID_MACHINE_THREADS, common.smk).
    threads: ALL_CORES
    resources:
        gpu=gpu_request,
    log:
        "logs/cost.log",
    benchmark:
        "benchmarks/cost.tsv"
    shell:
        "python -m reid cost --config-json {params.config} {params.variants} > {log} 2>&1"
