"""python -m reid card: the card of a trained model holds every fact the issue lists, from the
run's own files; a model trained on a withdrawn dataset says so at the top; the re-ranked
metrics appear when given and "not evaluated" when not; read_card returns only the card of the
weights asked about; and metrics of other weights, or none, stop the command with one line."""

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from reid import version
from reid.card import METRICS, NOT_RERANKED, CardError, card_facts, read_card, render_card, write_card
from reid.checkpoints import load_model_file
from reid.cli import main
from reid.data.augment import IMAGENET_MEAN, IMAGENET_STD
from reid.data.catalog import CATALOG, SYNTHETIC_LICENCE
from reid.data.fetch import WITHDRAWN
from reid.data.prepare import prepare
from reid.evaluate import evaluate_checkpoint
from reid.variants import DESCRIPTIONS


@pytest.fixture(scope="module")
def run(one_epoch_models, tiny, tiny_synthetic, tmp_path_factory):
    """A copy of the tiny residual run's folder, evaluated without and with re-ranking (both reuse the
    training's features), and the dataset's status as the workflow's data job writes it."""
    folder = tmp_path_factory.mktemp("card") / "residual" / "seed0"
    shutil.copytree(one_epoch_models["residual"].parent, folder)
    evaluate_checkpoint(folder / "model.pt", tiny, folder, device="cpu")
    reranked = folder.parent.with_name("residual+rerank") / "seed0"
    evaluate_checkpoint(folder / "model.pt", tiny, reranked, rerank=True, device="cpu")
    status = folder.parent.parent / "dataset.json"
    status.write_text(json.dumps(prepare("synthetic", {"path": str(tiny_synthetic)}, folder / "data")))
    return folder, reranked / "metrics.json", status


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_the_card_of_a_trained_model_holds_every_fact(run, tmp_path):
    folder, rerank_metrics, status = run
    payload, metrics, reranked = (
        load_model_file(folder / "model.pt"),
        read(folder / "metrics.json"),
        read(rerank_metrics),
    )
    facts = card_facts(folder / "model.pt", folder / "metrics.json", rerank_metrics, status)
    model = facts["model"]
    assert model["variant"] == "residual" and model["description"] == DESCRIPTIONS["residual"]
    assert model["paper_row"] == "Residual" and model["weights_sha256"] == payload["weights_sha256"]
    assert model["feature_dim"] == metrics["feature_dim"] > 0 and model["distance"] == "euclidean"
    assert (model["input"]["height"], model["input"]["width"]) == (
        payload["config"]["height"],
        payload["config"]["width"],
    )
    assert model["input"]["mean"] == list(IMAGENET_MEAN) and model["input"]["std"] == list(IMAGENET_STD)
    assert facts["recipe"] == payload["config"]
    dataset = facts["dataset"]
    assert dataset["name"] == payload["dataset"] == "synthetic"
    assert dataset["fingerprint"] == payload["dataset_fingerprint"] and dataset["licence"] == SYNTHETIC_LICENCE
    assert dataset["counts"] == read(status)["counts"] and not dataset["withdrawn"]
    for key in METRICS:
        assert facts["metrics"]["without_rerank"][key] == metrics[key]
        assert facts["metrics"]["with_rerank"][key] == reranked[key]
    assert metrics["mAP"] != reranked["mAP"]  # so that the two cannot be taken for each other unseen
    with open(folder / "log.csv", newline="") as f:
        epochs = [float(row["epoch_seconds"]) for row in csv.DictReader(f) if row["epoch_seconds"]]
    assert facts["training"]["time"] == {"seconds": pytest.approx(sum(epochs)), "epochs": 1, "source": "log.csv"}
    assert facts["training"]["seed"] == payload["seed"] == 0
    assert facts["training"]["provenance"] == payload["provenance"] and facts["training"]["commit"]
    assert facts["evaluation"]["provenance"] == metrics["provenance"]
    assert facts["evaluation"]["rerank_provenance"] == reranked["provenance"]
    assert facts["suite"]["version"] == version() and "torch" in facts["suite"]["packages"]
    assert "surveillance" in facts["use"]["out_of_scope"] and "benchmarks" in facts["use"]["intended"]
    limits = " ".join(facts["use"]["limitations"])
    assert "synthetic set" in limits and "scaled-down demonstration recipe" in limits and "resnet10" in limits
    page, record = write_card(facts, tmp_path)
    assert read(record) == json.loads(json.dumps(facts))  # the JSON holds the page's facts, whole
    text = page.read_text()
    for shown in (
        payload["weights_sha256"],
        f"{100 * metrics['mAP']:.2f}",
        f"{100 * reranked['R1']:.2f}",
        f"{100 * reranked['mINP']:.2f}",
        "64 x 32 pixels",
        "euclidean distance",
        SYNTHETIC_LICENCE,
        payload["provenance"]["commit"],
        version(),
        "| `triplet_on` | pooled |",
        f"training {dataset['counts']['train']['images']} images",
    ):
        assert shown in text, shown
    assert NOT_RERANKED not in text and "Withdrawn" not in text


def test_without_the_reranked_metrics_the_card_says_not_evaluated(run):
    folder, _, _ = run
    facts = card_facts(folder / "model.pt")  # metrics.json from beside the model; no status
    assert facts["metrics"]["with_rerank"] is None and facts["metrics"]["rerank_note"] == NOT_RERANKED
    assert facts["dataset"]["counts"] is None and "not at hand" in facts["dataset"]["counts_note"]
    text = render_card(facts)
    assert f"| with k-reciprocal re-ranking | {NOT_RERANKED} |" in text and "k1=20" not in text
    assert f"{100 * facts['metrics']['without_rerank']['mAP']:.2f}" in text


def relabelled(folder: Path, dataset: str, into: Path) -> Path:
    """A copy of the run whose model file says it was trained on ``dataset`` (the field is outside
    the weights' digest, as the dataset's fingerprint is)."""
    shutil.copytree(folder, into)
    payload = torch.load(into / "model.pt", weights_only=True)
    torch.save({**payload, "dataset": dataset}, into / "model.pt")
    return into / "model.pt"


def test_a_model_trained_on_dukemtmcreid_says_at_the_top_that_it_was_withdrawn(run, tmp_path):
    model = relabelled(run[0], "dukemtmcreid", tmp_path / "duke")
    facts = card_facts(model, rerank_metrics_path=run[1])
    assert facts["dataset"]["withdrawn"] == WITHDRAWN["dukemtmcreid"] and "2019" in facts["dataset"]["withdrawn"]
    assert facts["dataset"]["label"] == "DukeMTMC-reID" and facts["dataset"]["cameras"] == 8
    assert facts["use"]["limitations"][0].startswith(WITHDRAWN["dukemtmcreid"])  # the gravest first
    text = render_card(facts)
    top = text[: text.index("## The model")]
    assert "Warning: a withdrawn dataset" in top and WITHDRAWN["dukemtmcreid"] in top
    assert "non-commercial research" in text


def test_market1501s_card_gives_its_licence_and_no_withdrawal(run, tmp_path):
    facts = card_facts(relabelled(run[0], "market1501", tmp_path / "market"))
    assert facts["dataset"]["licence"] == CATALOG["market1501"].licence and not facts["dataset"]["withdrawn"]
    text = render_card(facts)
    assert "non-commercial research" in text and "Warning" not in text and "6 cameras" in text
    assert "synthetic set" not in " ".join(facts["use"]["limitations"])


def test_read_card_returns_only_the_card_of_the_weights_asked_about(run, one_epoch_models, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run[0], folder)
    digest = load_model_file(folder / "model.pt")["weights_sha256"]
    assert read_card(folder / "model.pt", digest) is None  # no card yet
    write_card(card_facts(folder / "model.pt"), folder)
    assert read_card(folder / "model.pt", digest) == read(folder / "model_card.json")
    assert read_card(str(folder / "model.pt"), "0" * 64) is None
    # the card of other weights (avg's) beside this model.pt: a model replaced after its card was written
    other = tmp_path / "avg"
    shutil.copytree(one_epoch_models["avg"].parent, other)
    card = read(folder / "model_card.json")
    card["model"]["weights_sha256"] = load_model_file(other / "model.pt")["weights_sha256"]
    (folder / "model_card.json").write_text(json.dumps(card))
    assert read_card(folder / "model.pt", digest) is None
    (folder / "model_card.json").write_text("{not json")
    assert read_card(folder / "model.pt", digest) is None


def fails(capsys, *argv) -> str:
    """Run python -m reid card ARGV; it must exit 2 with one line on stderr and write no card."""
    assert main(["card", *map(str, argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


def test_the_command_writes_the_card_and_bad_metrics_stop_it_in_one_line(run, tmp_path, capsys):
    folder, rerank_metrics, status = run
    model = folder / "model.pt"
    argv = ["--model", model, "--dataset-status", status]
    assert main(["card", *map(str, argv), "--rerank-metrics", str(rerank_metrics), "--out", str(tmp_path / "ok")]) == 0
    assert read(tmp_path / "ok" / "model_card.json")["metrics"]["with_rerank"]["mAP"] == read(rerank_metrics)["mAP"]
    out = tmp_path / "bad"
    err = fails(capsys, *argv, "--metrics", tmp_path / "nowhere.json", "--out", out)
    assert "no evaluation at" in err and "python -m reid evaluate --checkpoint" in err
    other = read(folder / "metrics.json") | {"weights_sha256": "f" * 64}  # another model's evaluation
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert "other weights" in fails(capsys, *argv, "--metrics", tmp_path / "other.json", "--out", out)
    err = fails(capsys, *argv, "--metrics", rerank_metrics, "--out", out)  # the two evaluations swapped
    assert "with re-ranking: pass it as --rerank-metrics" in err
    err = fails(capsys, *argv, "--rerank-metrics", folder / "metrics.json", "--out", out)
    assert "without re-ranking: pass it as --metrics" in err
    (tmp_path / "damaged.json").write_text('{"mAP": 0.5')
    assert "cannot read" in fails(capsys, *argv, "--metrics", tmp_path / "damaged.json", "--out", out)
    assert not out.exists()


def test_an_evaluation_older_than_its_weights_digest_is_matched_by_the_trainings_provenance(run, tmp_path):
    """metrics.json files written before they recorded the weights' digest still carry the training's
    provenance record, which names the one training (its moment and machine)."""
    folder = run[0]
    metrics = read(folder / "metrics.json")
    del metrics["weights_sha256"]
    (tmp_path / "old.json").write_text(json.dumps(metrics))
    assert card_facts(folder / "model.pt", tmp_path / "old.json")["metrics"]["without_rerank"]["mAP"] == metrics["mAP"]
    metrics["train_provenance"] = {**metrics["train_provenance"], "time": "another moment"}
    (tmp_path / "other.json").write_text(json.dumps(metrics))
    with pytest.raises(CardError, match="other weights"):
        card_facts(folder / "model.pt", tmp_path / "other.json")


def test_a_status_of_other_images_gives_no_counts(run, tmp_path):
    folder, _, status = run
    other = read(status) | {"fingerprint": "0123456789abcdef"}
    (tmp_path / "status.json").write_text(json.dumps(other))
    facts = card_facts(folder / "model.pt", dataset_status=tmp_path / "status.json")
    assert facts["dataset"]["counts"] is None and "other images" in facts["dataset"]["counts_note"]


def test_only_a_demonstrations_recipe_is_called_of_no_use_outside_the_suite():
    """The paper's recipe has no such limitation; a moderately smaller one (BoT's 256x128, 120 epochs)
    is said to differ from the paper's; the default config's demo (ResNet10, 64x32, 4 epochs) is
    called a demonstration."""
    import dataclasses

    import yaml

    from reid.card import recipe_limitation
    from reid.config import TrainConfig, train_config

    paper = dataclasses.asdict(TrainConfig())
    assert recipe_limitation(paper) == ""
    bot = recipe_limitation(paper | {"height": 256, "width": 128, "epochs": 120})
    assert "smaller recipe than the paper's (256x128 images instead of 288x144; 120 epochs instead of 220)" in bot
    assert "demonstration" not in bot
    default = Path(__file__).resolve().parents[1] / "configs" / "config.yaml"
    demo = recipe_limitation(dataclasses.asdict(train_config(yaml.safe_load(default.read_text()))))
    assert demo.startswith("Trained with a scaled-down demonstration recipe (resnet10 instead of resnet50;")


def test_the_card_job_loads_torch_for_the_model_file_and_no_other_heavy_package(run, tmp_path):
    """The card reads model.pt, which needs torch (and torchvision, which reid.models builds on); it
    draws nothing and judges nothing, so matplotlib, scipy and pandas stay out of its start-up."""
    from tests.test_startup import heavy_packages

    folder, rerank_metrics, status = run
    argv = ["card", "--model", folder / "model.pt", "--rerank-metrics", rerank_metrics, "--dataset-status", status]
    loaded = set(heavy_packages(*argv, "--out", tmp_path, cwd=tmp_path))
    assert "torch" in loaded and loaded <= {"torch", "torchvision"}, loaded
    assert (tmp_path / "MODEL_CARD.md").is_file()
