# The paper's Figures 4 (ranked lists of the residual model) and 6 (Grad-CAM of avg, max and
# residual), drawn for the first seed; Figure 5 (learning curves) is drawn by the report from
# the training logs.


rule figure_ranked_lists:
    input:
        per_query="results/{dataset}/residual/seed{seed}/per_query.npz",
        status=dataset_status("{dataset}"),
        code=FIGURE_CODE,
    output:
        report(
            "results/{dataset}/figures/ranked_lists_seed{seed}.png",
            caption="../report/ranked_lists.rst",
            category="Figures",
            subcategory="{dataset}",
        ),
    log:
        "logs/figures/{dataset}/ranked_lists_seed{seed}.log",
    benchmark:
        "benchmarks/figures/{dataset}/ranked_lists_seed{seed}.tsv"
    shell:
        "python -m reid figure ranked-lists --per-query {input.per_query} --dataset-status {input.status} "
        "--out {output} > {log} 2>&1"


rule figure_gradcam:
    input:
        models=expand("results/{{dataset}}/{variant}/seed{{seed}}/model.pt", variant=GRADCAM_VARIANTS),
        status=dataset_status("{dataset}"),
        code=GRADCAM_CODE,
    output:
        report(
            "results/{dataset}/figures/gradcam_seed{seed}.png",
            caption="../report/gradcam.rst",
            category="Figures",
            subcategory="{dataset}",
        ),
    params:
        checkpoints=gradcam_checkpoints,
    threads: JOB_SLOTS
    log:
        "logs/figures/{dataset}/gradcam_seed{seed}.log",
    benchmark:
        "benchmarks/figures/{dataset}/gradcam_seed{seed}.tsv"
    shell:
        "python -m reid figure gradcam {params.checkpoints} --dataset {wildcards.dataset} "
        "--dataset-status {input.status} --out {output} > {log} 2>&1"
