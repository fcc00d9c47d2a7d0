"""The result files a config's workflow run produces: the workflow asks for exactly these, and
the report lists those missing. Torch-free: the Snakefile imports it when it loads. Each
function takes a completed config (reid.config.complete: every key there, defaults filled in)."""

from __future__ import annotations

from pathlib import Path

from reid.variants import TRAINING_READINGS, table_rows


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


def reading_results(config: dict, results_dir: str | Path = "results") -> list[str]:
    """Return what the ``readings`` target produces: the variants each training reading retrains (those
    the config has), per dataset and seed, evaluated. Not part of the default run."""
    seeds = config["seeds"]
    return [
        str(Path(results_dir, d, "readings", name, v, f"seed{s}", "metrics.json"))
        for d in config["datasets"]
        for name, reading in TRAINING_READINGS.items()
        for v in reading["variants"]
        if v in config["variants"]
        for s in seeds
    ]
