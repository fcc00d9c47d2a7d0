# The model cards: beside each training's model.pt, MODEL_CARD.md (what the model is, its recipe,
# the data it was trained on and under which terms, its metrics without and with k-reciprocal
# re-ranking, its intended use and limitations, and where each number came from) and the same
# facts as model_card.json (reid/card.py). One job per training, under its training reading (the
# {reading} part of the path); a <variant>+rerank folder is an evaluation, not a training, and gets
# no card. With card.rerank (the default), a card asks the evaluate rule for its run's re-ranked
# evaluation.

# The card's template is an input as its code is (package_code lists Python files only), so that
# editing it writes the cards again. With a default storage provider there is none, as package_code
# (common.smk) lists no code there either.
CARD_TEMPLATE = (
    [str(Path(workflow.basedir) / "reid" / "resources" / "model_card.md.j2")]
    if workflow.storage_settings.default_storage_provider is None
    else []
)


rule card:
    input:
        model="results/{dataset}/{reading}{variant}/seed{seed}/model.pt",
        log_csv="results/{dataset}/{reading}{variant}/seed{seed}/log.csv",  # The card reads the training's time in it.
        metrics="results/{dataset}/{reading}{variant}/seed{seed}/metrics.json",
        rerank=card_rerank,
        status=dataset_status("{dataset}"),
        code=CARD_CODE + CARD_TEMPLATE,
    output:
        card="results/{dataset}/{reading}{variant}/seed{seed}/MODEL_CARD.md",
        facts="results/{dataset}/{reading}{variant}/seed{seed}/model_card.json",
    params:
        rerank=lambda w, input: f" --rerank-metrics {input.rerank}" if input.rerank else "",
        out=lambda w, output: os.path.dirname(output.card),
    log:
        "logs/card/{dataset}/{reading}{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/card/{dataset}/{reading}{variant}/seed{seed}.tsv"
    shell:
        "python -m reid card --model {input.model} --metrics {input.metrics}{params.rerank} "
        "--dataset-status {input.status} --out {params.out} > {log} 2>&1"
