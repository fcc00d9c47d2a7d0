# The report: Tables 2-4 and Figure 5 beside the paper's numbers, in report/index.html.


def all_results():
    results = []
    for dataset in DATASETS:
        for variant in VARIANTS:
            for seed in SEEDS:
                results.append(f"results/{dataset}/{variant}/seed{seed}/metrics.json")
        if "residual" in VARIANTS:
            results += [f"results/{dataset}/residual+rerank/seed{seed}/metrics.json" for seed in SEEDS]
    return results


def all_profiles():
    return [f"results/profile/{variant}.json" for variant in VARIANTS]


rule report:
    input:
        results=all_results(),
        profiles=all_profiles(),
        code=package_code("report"),
    output:
        "report/index.html",
    params:
        config=shlex.quote(json.dumps(config, sort_keys=True)),
    log:
        "logs/report.log",
    shell:
        "python -m reid report --config-json {params.config} --results results --benchmarks benchmarks "
        "--out {output} > {log} 2>&1"
