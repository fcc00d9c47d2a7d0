"""A model card for every trained model: ``python -m reid card --model RUN/model.pt --out RUN``.

A model file says what its weights are. A reader who finds one beside its results also wants to
know what it is for, how good it is, what it was trained on and under which terms, and where
each number came from. The card answers that on one page, MODEL_CARD.md, and holds the same facts
as JSON, model_card.json, for programs (an exported model carries it: ``read_card``):

    model       the variant, what it is and the paper's row, the weights' digest, the feature size
                and the distance the suite ranks with, the input (size, ImageNet's mean and std)
    recipe      the model file's config: the TrainConfig it was trained with
    dataset     its name, fingerprint, counts and licence, and its withdrawal where its authors took
                it down (DukeMTMC-reID)
    metrics     mAP, R1, R5, R10 and mINP (fractions) of the run's evaluation, without and with
                k-reciprocal re-ranking, or why the re-ranked evaluation was not made
    training    the seed, the training's time (from log.csv) and its provenance record
    evaluation  the evaluations' provenance records
    use         what the model is for, what it is not for, and its limitations
    suite       the suite's version and the package versions of the job that wrote the card

Every fact comes from a file that the run wrote (model.pt, metrics.json, log.csv) or from the
dataset's status. The metrics must be those of the model's own weights, or the card is refused
with a line that says what to do, because a card that put another model's numbers beside these
weights would mislead whoever reads it.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
from importlib import resources
from pathlib import Path

import jinja2  # Jinja2 comes installed with Snakemake, and the report renders its page with it too.

from reid import version
from reid.checkpoints import load_model_file, weights_digest
from reid.config import TrainConfig
from reid.data.augment import IMAGENET_MEAN, IMAGENET_STD
from reid.data.catalog import CATALOG, licence_of, withdrawal_of
from reid.data.prepare import read_status
from reid.paper import DATASET_LABELS, PAPER_ROWS
from reid.provenance import package_versions
from reid.targets import CARD_FILES
from reid.utils import atomic_write_bytes, atomic_write_json
from reid.variants import DESCRIPTIONS

CARD_MD, CARD_JSON = CARD_FILES
FORMAT = 1  # This is the version of model_card.json's layout, for the programs that read it.
METRICS = ("mAP", "R1", "R5", "R10", "mINP")
NOT_RERANKED = "not evaluated (card.rerank: false)"

INTENDED_USE = (
    "Research on person re-identification benchmarks: reproducing and checking the claims of He, Liu and "
    "Zhu's multi-scale residual pooling paper, and comparing methods on the test split of the dataset the "
    "model was trained on."
)
OUT_OF_SCOPE = (
    "Identifying, tracking or watching real people, in surveillance or otherwise, without their consent and "
    "a legal basis; any decision about a person. The model was neither built nor evaluated for such uses, nor "
    "for how its errors fall on different groups of people."
)


class CardError(Exception):
    """A card cannot be written from the files given; the message says what to do."""


# ---------------------------------------------------------------- reading the run's files


def read_metrics(path: str | os.PathLike, model_path: Path, payload: dict, reranked: bool) -> dict:
    """Return the metrics.json at ``path`` if it is an evaluation of ``payload``'s weights, with
    re-ranking exactly when ``reranked``; otherwise raise CardError saying what to do."""
    path = Path(path)
    option, flag = ("--rerank-metrics", " --rerank") if reranked else ("--metrics", "")
    todo = (
        f"python -m reid evaluate --checkpoint {model_path} --dataset {payload.get('dataset', 'NAME')} "
        f"--data-root DATA_ROOT --out DIR{flag}, then pass DIR/metrics.json as {option}"
    )
    if not path.is_file():
        raise CardError(f"no evaluation at {path}: evaluate the model first ({todo})")
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CardError(f"cannot read {path} as a metrics.json ({err}): delete it and evaluate again ({todo})") from err
    needed = (*METRICS, "rerank", "feature_dim", "distance", "provenance")  # The card shows each of these.
    missing = [k for k in needed if k not in metrics] if isinstance(metrics, dict) else list(needed)
    if missing:
        raise CardError(f"{path} is not a metrics.json of python -m reid evaluate (no {', '.join(missing)}): {todo}")
    if not same_weights(metrics, payload):
        raise CardError(
            f"{path} is the evaluation of other weights than {model_path} (its digest {metrics.get('weights_sha256')}, "
            f"the model's {payload['weights_sha256']}): pass the model's own evaluation, or evaluate it again ({todo})"
        )
    if bool(metrics["rerank"]) != reranked:
        made, other = ("with", "--rerank-metrics") if metrics["rerank"] else ("without", "--metrics")
        raise CardError(f"{path} is an evaluation {made} re-ranking: pass it as {other}")
    return metrics


def same_weights(metrics: dict, payload: dict) -> bool:
    """Say whether ``metrics`` evaluated ``payload``'s weights: by the digest that metrics.json
    records, or, in an evaluation written before it recorded one, by the training's provenance
    record, which names the moment and the machine of that one training."""
    if metrics.get("weights_sha256"):
        return metrics["weights_sha256"] == payload["weights_sha256"]
    return bool(payload.get("provenance")) and metrics.get("train_provenance") == payload["provenance"]


def training_seconds(log_csv: Path) -> dict | None:
    """Return the training's time from log.csv: the sum of its epochs' seconds, which a resumed run
    keeps (evaluations during training are not counted), and the number of epochs; None without it."""
    try:
        with open(log_csv, newline="") as f:
            rows = [row for row in csv.DictReader(f) if row.get("epoch_seconds")]
        seconds = sum(float(row["epoch_seconds"]) for row in rows)
    except (OSError, ValueError, KeyError):
        return None
    return {"seconds": round(seconds, 3), "epochs": len(rows), "source": str(log_csv.name)}


# ---------------------------------------------------------------- the facts


def model_facts(payload: dict, metrics: dict) -> dict:
    """Return what the weights are: variant, description, digest, features and input."""
    recipe = payload["config"]
    variant = payload["variant"]
    return {
        "file": "model.pt",
        "variant": variant,
        "paper_row": PAPER_ROWS.get(variant, ""),
        "description": DESCRIPTIONS.get(variant, ""),
        "weights_sha256": payload["weights_sha256"],
        "num_classes": payload["num_classes"],
        "feature_dim": metrics["feature_dim"],
        "distance": metrics["distance"],
        "input": {
            "height": recipe["height"],
            "width": recipe["width"],
            "colour": "RGB",
            "resize": "bilinear, as torchvision's Resize on a PIL image",
            "scale": "pixel values divided by 255",
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
            "flip": bool(metrics.get("flip")),
        },
    }


def dataset_facts(payload: dict, status: dict | None) -> dict:
    """Return what the model was trained on: the dataset's name, fingerprint, counts (from its
    status, when that describes the same images), licence and withdrawal."""
    name, trained_on = payload["dataset"], payload["dataset_fingerprint"]
    counts, note = None, "not at hand: the card was written without the dataset's status"
    if status is not None and not status.get("ok"):
        note = "not at hand: the dataset's status says it is not available"
    elif status is not None and (status.get("dataset") != name or status.get("fingerprint") != trained_on):
        note = "not at hand: the dataset's status is of other images than those the model was trained on"
    elif status is not None:
        counts, note = status["counts"], ""
    spec = CATALOG.get(name)
    return {
        "name": name,
        "label": DATASET_LABELS.get(name, name),
        "fingerprint": trained_on,
        "counts": counts,
        "counts_note": note,
        "cameras": spec.num_cameras if spec else None,
        "homepage": spec.homepage if spec else "",
        "licence": licence_of(name),
        "withdrawn": withdrawal_of(name),
    }


def metric_facts(metrics: dict) -> dict:
    """Return an evaluation's scores (fractions) and what they were measured on."""
    return {
        **{k: metrics[k] for k in METRICS},
        "dataset": metrics.get("dataset"),
        "dataset_label": DATASET_LABELS.get(metrics.get("dataset"), metrics.get("dataset")),
        "dataset_fingerprint": metrics.get("dataset_fingerprint"),
        "num_query": metrics.get("num_query"),
        "num_gallery": metrics.get("num_gallery"),
        "rerank_params": metrics.get("rerank_params"),
    }


def scaled_down(recipe: dict) -> list[str]:
    """Return how ``recipe`` is smaller than the paper's (the schema's defaults are the paper's
    recipe): a lighter backbone, a smaller input, fewer epochs. An empty list for the paper's own."""
    paper = TrainConfig()
    found = []
    if recipe["backbone"] != paper.backbone:
        found.append(f"{recipe['backbone']} instead of {paper.backbone}")
    if recipe["height"] < paper.height or recipe["width"] < paper.width:
        found.append(f"{recipe['height']}x{recipe['width']} images instead of {paper.height}x{paper.width}")
    if recipe["epochs"] < paper.epochs:
        found.append(f"{recipe['epochs']} epoch{'s' if recipe['epochs'] != 1 else ''} instead of {paper.epochs}")
    return found


def is_demo(recipe: dict) -> bool:
    """Say whether ``recipe`` is a demonstration's, far below anything a re-ID model is trained
    with: the CPU demo's backbone (resnet10, as the schema calls it), an input under re-ID's
    smallest usual size (128x64), or under 20 epochs (a tenth of the paper's schedule)."""
    return recipe["backbone"] == "resnet10" or recipe["height"] < 128 or recipe["epochs"] < 20


def recipe_limitation(recipe: dict) -> str:
    """Return what a recipe smaller than the paper's means for the model, or "" for the paper's own."""
    smaller = "; ".join(scaled_down(recipe))
    if not smaller:
        return ""
    if is_demo(recipe):
        return (
            f"Trained with a scaled-down demonstration recipe ({smaller}): it shows that the suite works, and is "
            "not a model to use outside it."
        )
    return (
        f"Trained with a smaller recipe than the paper's ({smaller}): its numbers are not those of the paper's setting."
    )


def limitations(dataset: dict, recipe: dict) -> list[str]:
    """Return what a user of the model must know about its reach, the gravest first."""
    found = []
    if dataset["withdrawn"]:
        found.append(
            f"{dataset['withdrawn']} Make sure that your copy of the data, and any use of this model, is allowed "
            "before you publish or share either."
        )
    if dataset["name"] == "synthetic":
        found.append(
            "Trained on the suite's synthetic set, which shows rendered figures and no real people: the model "
            "exists to test the suite, and is of no use on photographs of people."
        )
    if smaller := recipe_limitation(recipe):
        found.append(smaller)
    cameras = f", {dataset['cameras']} cameras" if dataset["cameras"] else ""
    found.append(
        f"Trained and tested on one camera network ({dataset['label']}{cameras}): its accuracy on other "
        "cameras, places, seasons or people is unknown, and re-identification models usually lose much of it there."
    )
    found.append(
        "The metrics are of one seed on the dataset's own test split (the Market-1501 protocol); the spread over "
        "seeds is in the suite's report."
    )
    return found


def provenance_facts(payload: dict, metrics: dict, reranked: dict | None, log_csv: Path) -> tuple[dict, dict]:
    """Return the training's record (seed, time, provenance) and the evaluations' records."""
    trained = payload.get("provenance") or {}
    training = {
        "seed": payload.get("seed"),
        "time": training_seconds(log_csv),
        "commit": trained.get("commit"),
        "device": trained.get("device"),
        "provenance": trained,
    }
    evaluation = {
        "provenance": metrics.get("provenance"),
        "train_provenance": metrics.get("train_provenance"),
        "seconds": (metrics.get("timings") or {}).get("total_s"),
        "features": metrics.get("features"),
        "rerank_provenance": reranked.get("provenance") if reranked else None,
    }
    return training, evaluation


def card_facts(
    model_path: str | os.PathLike,
    metrics_path: str | os.PathLike | None = None,
    rerank_metrics_path: str | os.PathLike | None = None,
    dataset_status: str | os.PathLike | None = None,
) -> dict:
    """Return the facts of a model's card (the module docstring lists them), from its model.pt,
    the metrics.json of its evaluation (by default the one beside it), the metrics.json of its
    re-ranked evaluation if there is one, and the dataset's status if at hand. log.csv is read
    from beside the model. Raises CardError where the files do not fit together."""
    model_path = Path(model_path)
    payload = load_model_file(model_path)  # Its CheckpointError says what to do with a file that is not a model.
    # A model file of an older version has no digest; it is computed as train would have written it.
    payload["weights_sha256"] = payload.get("weights_sha256") or weights_digest(
        payload["variant"], payload["config"], payload["state_dict"]
    )
    metrics = read_metrics(metrics_path or model_path.with_name("metrics.json"), model_path, payload, reranked=False)
    reranked = read_metrics(rerank_metrics_path, model_path, payload, True) if rerank_metrics_path else None
    dataset = dataset_facts(payload, None if dataset_status is None else read_status(dataset_status))
    recipe = dict(payload["config"])
    training, evaluation = provenance_facts(payload, metrics, reranked, model_path.with_name("log.csv"))
    return {
        "format": FORMAT,
        "model": model_facts(payload, metrics),
        "recipe": recipe,
        "dataset": dataset,
        "metrics": {
            "without_rerank": metric_facts(metrics),
            "with_rerank": metric_facts(reranked) if reranked else None,
            "rerank_note": "" if reranked else NOT_RERANKED,
        },
        "training": training,
        "evaluation": evaluation,
        "use": {"intended": INTENDED_USE, "out_of_scope": OUT_OF_SCOPE, "limitations": limitations(dataset, recipe)},
        "suite": {"version": version(), "packages": package_versions()},
    }


# ---------------------------------------------------------------- the page, and the files


def percent(value) -> str:
    """Format a fraction as a percentage with two decimals, as the paper's tables print them."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def duration(seconds) -> str:
    """Format a duration for a reader: seconds, minutes or hours, as long as it is."""
    if seconds is None:
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = round(seconds) // 60
    if minutes < 60:
        return f"{minutes} min {round(seconds) % 60} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def cell(value) -> str:
    """Return a value as the text of a Markdown table's cell, whose bars and line breaks would end it."""
    text = json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


@functools.cache
def environment() -> jinja2.Environment:
    """Return the Jinja2 environment of the card's template. The card is Markdown, not HTML, so
    nothing is escaped; its values come from the run's own files, and table cells go through ``cell``."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: resources.files("reid").joinpath("resources", name).read_text()),
        autoescape=False,
        undefined=jinja2.StrictUndefined,  # A name the template was not given fails rather than printing nothing.
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(percent=percent, duration=duration, cell=cell)
    return env


def render_card(facts: dict) -> str:
    """Return MODEL_CARD.md's text for ``facts`` (those of ``card_facts``)."""
    return environment().get_template("model_card.md.j2").render(**facts)


def write_card(facts: dict, out: str | os.PathLike) -> tuple[Path, Path]:
    """Write MODEL_CARD.md and model_card.json into the folder ``out``, each atomically, and return
    their paths. The page is rendered before either is written, so that a fact the template cannot
    show leaves no file behind, and the record goes first, since an export reads it alone."""
    out = Path(out)
    page, record = out / CARD_MD, out / CARD_JSON
    text = render_card(facts).encode()
    atomic_write_json(record, facts)
    atomic_write_bytes(page, text)
    return page, record


def read_card(model_path: str | os.PathLike, weights_sha256: str) -> dict | None:
    """Return the facts of the model_card.json beside ``model_path`` if it is the card of the weights
    whose digest is ``weights_sha256``; None where there is none, it cannot be read, or it is the
    card of other weights (a model.pt replaced after its card was written)."""
    try:
        facts = json.loads(Path(model_path).with_name(CARD_JSON).read_text())
        return facts if facts["model"]["weights_sha256"] == weights_sha256 else None
    except (OSError, ValueError, TypeError, KeyError):
        return None
