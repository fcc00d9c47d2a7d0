# Table 4: parameters, FLOPs (fvcore and thop) and latency of each variant at the config's
# backbone and input size (no training needed).


rule profile:
    input:
        code=PROFILE_CODE,
    output:
        "results/profile/{variant}.json",
    params:
        config=lambda w: shlex.quote(json.dumps({"train": config.get("train", {}),
                                                 "profile": config.get("profile", {})}, sort_keys=True)),
    # every core the run may use, so that no other job runs beside a latency measurement;
    # torch itself uses the machine's cores (not more: REID_MACHINE_THREADS, common.smk)
    threads: ALL_CORES
    resources:
        gpu=GPU,
    log:
        "logs/profile/{variant}.log",
    benchmark:
        "benchmarks/profile/{variant}.tsv"
    shell:
        "python -m reid profile --config-json {params.config} --variant {wildcards.variant} --out {output} > {log} 2>&1"
