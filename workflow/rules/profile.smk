# Table 4: parameters, FLOPs (fvcore and thop) and latency of each variant at the config's
# backbone and input size (no training needed). One job profiles every variant: one start-up
# instead of one per variant, and latencies measured one after another under the same load.


rule profile:
    input:
        code=PROFILE_CODE,
    output:
        expand("results/profile/{variant}.json", variant=VARIANTS),
    params:
        config=lambda w: shlex.quote(json.dumps({"train": config["train"], "profile": config["profile"]}, sort_keys=True)),
        variants=lambda w, output: " ".join(f"--variant {v} --out {shlex.quote(o)}" for v, o in zip(VARIANTS, output)),
    # every core the run may use, so that no other job runs beside a latency measurement;
    # torch itself uses the machine's cores (not more: REID_MACHINE_THREADS, common.smk)
    threads: ALL_CORES
    resources:
        gpu=gpu_request,
    log:
        "logs/profile.log",
    benchmark:
        "benchmarks/profile.tsv"
    shell:
        "python -m reid profile --config-json {params.config} {params.variants} > {log} 2>&1"
