# Datasets: render the synthetic set, fetch and verify the public ones.
# Each dataset folder is complete once its marker (.reid_dataset.json) exists: the package
# builds the folder elsewhere and renames it into place only after verification.


rule synthetic_data:
    output:
        marker=f"{DATA_ROOT}/synthetic/.reid_dataset.json",
    params:
        root=f"{DATA_ROOT}/synthetic",
        size=lambda w: dataset_options("synthetic").get("size", "default"),
        seed=lambda w: dataset_options("synthetic").get("seed", 0),
    log:
        "logs/data/synthetic.log",
    benchmark:
        "benchmarks/data/synthetic.tsv"
    threads: 2
    shell:
        "python -m reid data synth --root {params.root} --size {params.size} --seed {params.seed} "
        "--workers {threads} --overwrite --quiet > {log} 2>&1"


rule fetch_data:
    output:
        marker=f"{DATA_ROOT}/{{name}}/.reid_dataset.json",
    wildcard_constraints:
        name="market1501|dukemtmcreid",
    params:
        root=DATA_ROOT,
        archive=lambda w: (f"--archive {dataset_options(w.name)['archive']}"
                           if dataset_options(w.name).get("archive") else ""),
    log:
        "logs/data/{name}.log",
    benchmark:
        "benchmarks/data/{name}.tsv"
    shell:
        "python -m reid data fetch {wildcards.name} --root {params.root} {params.archive} --quiet > {log} 2>&1"


rule histogram_baseline:
    input:
        marker=f"{DATA_ROOT}/{{name}}/.reid_dataset.json",
    output:
        "results/{name}/histogram_baseline.json",
    params:
        root=lambda w: f"{DATA_ROOT}/{w.name}",
    log:
        "logs/histogram_baseline/{name}.log",
    shell:
        "python -m reid data histogram-baseline --root {params.root} --out {output} > {log} 2>&1"
