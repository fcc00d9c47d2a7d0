"""The result files a config's workflow run produces: the workflow asks for exactly these, and
the report lists those missing. Torch-free: the Snakefile imports it when it loads. Each
function takes a completed config (reid.config.complete: every key there, defaults filled in)."""

from __future__ import annotations

from pathlib import Path

from reid.variants import RERANK_SUFFIX, TRAINING_READINGS, table_rows

# A model card's two files, which the card rule writes beside each training's model.pt (reid.card).
CARD_FILES = ("MODEL_CARD.md", "model_card.json")


def gradcam_variants(variants: list[str]) -> list[str]:
    """Return Figure 6's rows, in the paper's order."""
    return [v for v in ("avg", "max", "residual") if v in variants]


def dataset_results(config: dict, dataset: str, results_dir: str | Path = "results") -> list[str]:
    """Return the result files a config's workflow run produces on one dataset: each variant's and the
    re-ranked residual's metrics per seed, and Figures 4 and 6 for the first seed."""
    root = Path(results_dir) / dataset
    variants = config["variants"]
    seeds = config["seeds"]
    files = [str(root / v / f"seed{s}" / "metrics.json") for v in table_rows(variants) for s in seeds]
    if "residual" in variants:
        files.append(str(root / "figures" / f"ranked_lists_seed{seeds[0]}.png"))
    if gradcam_variants(variants):
        files.append(str(root / "figures" / f"gradcam_seed{seeds[0]}.png"))
    return files


def cost_results(config: dict, results_dir: str | Path = "results") -> list[str]:
    """Return Table 4's costs, one file per variant, since they need no dataset."""
    return [str(Path(results_dir) / "cost" / f"{v}.json") for v in config["variants"]]


def expected_results(config: dict, results_dir: str | Path = "results") -> list[str]:
    """Return every result file a config's workflow run produces."""
    return [f for d in config["datasets"] for f in dataset_results(config, d, results_dir)] + cost_results(
        config, results_dir
    )


def reading_runs(config: dict, results_dir: str | Path = "results") -> list[Path]:
    """Return the run folders of the trainings the ``readings`` target makes: the variants each
    training reading retrains (those the config has), per dataset and seed."""
    return [
        Path(results_dir, d, "readings", name, v, f"seed{s}")
        for d in config["datasets"]
        for name, reading in TRAINING_READINGS.items()
        for v in reading["variants"]
        if v in config["variants"]
        for s in config["seeds"]
    ]


def reading_results(config: dict, results_dir: str | Path = "results") -> list[str]:
    """Return what the ``readings`` target produces: the readings' runs, evaluated. Not part of the default run."""
    return [str(run / "metrics.json") for run in reading_runs(config, results_dir)]


# The cross-dataset evaluations' folder under results/ (snakemake cross): the claims and the
# report read it under this name, and the schema keeps datasets from taking it.
CROSS_DIR = "cross"


def cross_results(config: dict, results_dir: str | Path = "results") -> list[str]:
    """Return what the ``cross`` target produces: every variant and seed trained on one dataset of the
    config, evaluated on each of the others (results/cross/<trained on>/<evaluated on>/...). Not
    part of the default run; a config of one dataset has none."""
    datasets = list(config["datasets"])
    return [
        str(Path(results_dir, CROSS_DIR, a, b, v, f"seed{s}", "metrics.json"))
        for a in datasets
        for b in datasets
        if a != b
        for v in config["variants"]
        for s in config["seeds"]
    ]


def card_results(config: dict, results_dir: str | Path = "results") -> list[str]:
    """Return the model cards of every training of a config's default run, per dataset, variant
    and seed. A re-ranked evaluation (``<variant>+rerank``) trains nothing, so it gets no card."""
    runs = [
        Path(results_dir, d, v, f"seed{s}")
        for d in config["datasets"]
        for v in config["variants"]
        for s in config["seeds"]
    ]
    return [str(run / name) for run in runs for name in CARD_FILES]


def reading_cards(config: dict, results_dir: str | Path = "results") -> list[str]:
    """Return the model cards of the trainings the ``readings`` target makes."""
    return [str(run / name) for run in reading_runs(config, results_dir) for name in CARD_FILES]


def card_reranks(config: dict, variant: str, reading: str = "") -> bool:
    """Say whether the card of a run of ``variant`` (under a training reading, "readings/<name>/",
    or "" for the default run) reports the run's re-ranked evaluation. With ``card.rerank: true``
    every card does. With false only those whose re-ranked evaluation the workflow makes anyway
    do: Table 2's residual+rerank, so that residual's card does not call unevaluated what the
    report shows."""
    return config["card"]["rerank"] or (not reading and variant + RERANK_SUFFIX in table_rows(config["variants"]))
