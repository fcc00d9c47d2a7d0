"""This module holds the command line, python -m reid COMMAND (or the installed reid script): its
parser, and the process policy every command shares (a GPU slot, torch threads, one-line user
errors).

The commands themselves are in reid.commands. Errors a user can fix (a missing or damaged
dataset, a bad value) print one message to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import reid.commands
from reid import version
from reid.config import ConfigError, default
from reid.data import CATALOG
from reid.data.fetch import FetchError
from reid.data.market import DatasetError
from reid.data.synthetic import SIZES as SYNTH_SIZES
from reid.gpu_slot import claim_gpu
from reid.utils import DiskFullError
from reid.variants import VARIANTS


class _HelpFormatter(argparse.HelpFormatter):
    """This formatter shows each option's default after its help, except where there is none to show (no
    default, a flag, a required option), so that a reader sees what an option left out means."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        nothing = default is None or default is False or default == [] or default is argparse.SUPPRESS
        shown = not nothing and not action.required
        if shown and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def _command(commands, name: str, help: str, description: str | None = None, **kwargs):
    """Add a subcommand whose --help shows the defaults; its description is its help unless one is given."""
    return commands.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        formatter_class=_HelpFormatter,
        **kwargs,
    )


def _add_config_source(parser: argparse.ArgumentParser, file_help: str, required: bool = True) -> None:
    """Add --config FILE or --config-json JSON, and --set KEY=VALUE on top of either, so that every
    command that reads a config takes the same three options. The workflow passes each job its
    part of the config as JSON."""
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--config", type=Path, metavar="FILE", help=file_help)
    source.add_argument("--config-json", metavar="JSON", help="the config's content as JSON (what the workflow passes)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value: a train key (epochs=2) or a dotted path (datasets.synthetic.size=tiny); repeat",
    )


def _add_data_commands(commands) -> None:
    data = _command(commands, "data", "create, fetch, verify and prepare datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")

    synth = _command(data_commands, "synth", "render the synthetic re-ID set in Market-1501 layout")
    synth.add_argument("--root", required=True, type=Path, help="folder to create (the dataset itself)")
    synth.add_argument("--size", default="default", choices=list(SYNTH_SIZES), help="how many identities and images")
    synth.add_argument("--seed", type=int, default=0, help="the set's random seed (a different seed, a different set)")
    synth.add_argument("--workers", type=int, default=None, help="rendering processes (default: all cores)")
    synth.add_argument("--overwrite", action="store_true", help="replace an existing, different dataset")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=reid.commands.data_synth)

    fetch = _command(data_commands, "fetch", "download (or take a local archive), verify and extract a public dataset")
    fetch.add_argument("name", choices=list(CATALOG), help="which dataset")
    fetch.add_argument("--root", required=True, type=Path, help="data root; the dataset lands in ROOT/NAME")
    fetch.add_argument("--archive", type=Path, default=None, help="a local copy of the dataset's archive")
    fetch.add_argument("--force", action="store_true", help="verify and extract again even if already done")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=reid.commands.data_fetch)

    verify = _command(data_commands, "verify", "parse a dataset and check its layout (and counts, for known sets)")
    verify.add_argument("name", help=f"{', '.join(CATALOG)}, synthetic, or any name for a custom set")
    where = verify.add_mutually_exclusive_group(required=True)
    where.add_argument("--root", type=Path, help="data root holding ROOT/NAME")
    where.add_argument("--path", type=Path, help="the dataset folder itself")
    verify.add_argument(
        "--boxes",
        choices=list(CATALOG["cuhk03_np"].subsets),
        default=None,
        help="cuhk03_np's subset, ROOT/cuhk03_np/BOXES (default: the name of a --path that is one, else the "
        f"config schema's, {default('datasets.cuhk03_np.boxes')})",
    )
    verify.set_defaults(func=reid.commands.data_verify)

    prep = _command(
        data_commands,
        "prepare",
        "render, fetch or check one of a config's datasets and record the outcome (a workflow step)",
    )
    prep.add_argument("name", help="a dataset of the config")
    _add_config_source(prep, "the config file naming the dataset")
    prep.add_argument(
        "--status",
        required=True,
        type=Path,
        help="JSON file to write: ok, counts, fingerprint, checksums, or the error",
    )
    prep.add_argument(
        "--workers", type=int, default=None, help="processes for the synthetic renderer (default: all cores)"
    )
    prep.add_argument("--quiet", action="store_true", help="no progress bar")
    prep.set_defaults(func=reid.commands.data_prepare)

    hist = _command(
        data_commands, "histogram-baseline", "mAP of a whole-image colour histogram (no learning): how hard a set is"
    )
    hist.add_argument("--root", required=True, type=Path, help="dataset folder in Market-1501 layout")
    hist.add_argument("--out", type=Path, default=None, help="also write the result as JSON to this file")
    hist.set_defaults(func=reid.commands.data_histogram_baseline)


def _add_dataset_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset-status",
        type=Path,
        default=None,
        help="the workflow's dataset status file: stop with its error if the dataset is unavailable",
    )


def _add_train(commands) -> None:
    train = _command(
        commands, "train", "train one variant with one seed; resumes if the --out folder holds a checkpoint"
    )
    _add_config_source(train, "a config file, e.g. configs/paper.yaml")
    train.add_argument("--variant", required=True, choices=VARIANTS, help="which variant of the paper's Table 2")
    train.add_argument("--seed", type=int, default=0, help="the run's random seed")
    train.add_argument("--out", required=True, type=Path, help="the run folder: log.csv, checkpoints, model.pt")
    train.add_argument("--dataset", default=None, help="which of the config's datasets (needed if it lists several)")
    _add_dataset_status(train)
    train.set_defaults(func=reid.commands.train)


def _add_evaluate(commands) -> None:
    evaluate = _command(
        commands,
        "evaluate",
        "R1/R5/R10, mAP and mINP of a trained model.pt on a dataset's query and gallery",
        description="Evaluate a model.pt written by 'train' under the Market-1501 protocol; write OUT/metrics.json "
        "and OUT/per_query.npz. The dataset is --path DIR (the folder itself) or --data-root DIR (DIR/NAME); "
        "without either, it is where the --config file puts it (data_root and datasets.NAME.path, as for "
        "'train': pass the config the model was trained with). Images are decoded at the training size "
        "through the training cache.",
    )
    evaluate.add_argument("--checkpoint", required=True, type=Path, help="a run's model.pt")
    evaluate.add_argument(
        "--dataset",
        default=None,
        help=f"{', '.join(CATALOG)}, synthetic or any name for a custom set (optional with a config of one dataset)",
    )
    _add_config_source(evaluate, "a config file, e.g. configs/paper.yaml: where the data is", required=False)
    where = evaluate.add_mutually_exclusive_group()
    where.add_argument("--data-root", type=Path, default=None, help="data root holding DATA_ROOT/NAME")
    where.add_argument("--path", type=Path, default=None, help="the dataset folder itself")
    evaluate.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3)")
    evaluate.add_argument("--flip", action="store_true", help="average the embeddings of each image and its mirror")
    evaluate.add_argument(
        "--distance",
        default="euclidean",
        choices=["euclidean", "cosine"],
        help="how query and gallery features are compared",
    )
    evaluate.add_argument("--batch-size", type=int, default=128, help="images per forward pass")
    evaluate.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where the model runs (auto: CUDA if there is one)",
    )
    evaluate.add_argument("--out", required=True, type=Path, help="folder for metrics.json and per_query.npz")
    _add_dataset_status(evaluate)
    evaluate.set_defaults(func=reid.commands.evaluate)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that run a trained model on one's own images (embed, search)."""
    parser.add_argument("--model", required=True, type=Path, help="a run's model.pt")
    parser.add_argument("--batch-size", type=int, default=128, help="images per forward pass")
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where the model runs (auto: CUDA if there is one)",
    )
    parser.add_argument(
        "--skip-bad", action="store_true", help="leave unreadable images out and list them, instead of stopping"
    )


def _add_embed(commands) -> None:
    embed = _command(
        commands,
        "embed",
        "features of your own images from a trained model.pt, as the suite's evaluation computes them",
        description="Embed the PNG and JPEG images of a folder (any layout), a glob or one file with a model.pt "
        "that 'train' wrote, using the model file's own input size and normalisation. Writes OUT (.npz): paths, "
        "features (N x D float32), the model's variant and weights digest, the distance its evaluation uses, "
        "and the preprocessing.",
    )
    _add_model_options(embed)
    embed.add_argument(
        "--images", required=True, help="a folder (searched through its sub-folders), a glob or an image"
    )
    embed.add_argument("--out", required=True, type=Path, help="the .npz file to write")
    embed.add_argument("--flip", action="store_true", help="average the embeddings of each image and its mirror")
    embed.set_defaults(func=reid.commands.embed)


def _add_search(commands) -> None:
    search = _command(
        commands,
        "search",
        "rank a gallery of your own images for each query image, with a trained model.pt",
        description="Embed the query and gallery images (PNG or JPEG, any layout) as 'embed' does, rank the gallery "
        "for each query with the suite's distance (or its k-reciprocal re-ranking), and write OUT/ranked.csv and "
        "a ranked-list picture per query under OUT/ranked/.",
    )
    _add_model_options(search)
    search.add_argument("--query", required=True, help="a query image, a folder of them or a glob")
    search.add_argument("--gallery", required=True, help="a folder of gallery images (or a glob)")
    search.add_argument("--top", type=int, default=10, help="gallery images kept per query")
    search.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3)")
    search.add_argument("--out", required=True, type=Path, help="folder for ranked.csv and the pictures")
    search.set_defaults(func=reid.commands.search)


def _add_export(commands) -> None:
    export = _command(
        commands,
        "export",
        "a trained model.pt as an ONNX file or a torch.export program, for use outside the suite",
        description="Export a model.pt that 'train' wrote, traced with torch.export on the CPU in float32, with a "
        "dynamic batch axis. The file takes float32 images (batch, 3, height, width), RGB in [0, 1] normalised "
        "with mean and std, and returns the features; it carries height, width, mean, std, the variant, the "
        "weights digest, the suite's version and the run's card (ONNX: metadata_props; torch-export: the extra "
        "file reid_facts.json). It is written only after its features have matched PyTorch's.",
    )
    export.add_argument("--model", required=True, type=Path, help="a run's model.pt")
    export.add_argument(
        "--format",
        required=True,
        choices=["onnx", "torch-export"],
        help="onnx (needs the onnx extra: pip install -e '.[onnx]') or torch-export (a .pt2 for torch.export.load)",
    )
    export.add_argument("--out", required=True, type=Path, help="the file to write (.onnx or .pt2)")
    export.set_defaults(func=reid.commands.export)


def _add_card(commands) -> None:
    card = _command(
        commands,
        "card",
        "write a trained model's card: MODEL_CARD.md and model_card.json",
        description="Write the card of a model.pt that 'train' wrote: what the model is (variant, weights digest, "
        "features, input), its recipe, the dataset it was trained on with its licence, its metrics without and with "
        "k-reciprocal re-ranking, its intended use and limitations, and the provenance of every number. Writes "
        "OUT/MODEL_CARD.md, and the same facts as OUT/model_card.json. The metrics must be an evaluation of this "
        "model's own weights ('evaluate' writes them).",
    )
    card.add_argument("--model", required=True, type=Path, help="a run's model.pt (its log.csv is read from beside it)")
    card.add_argument(
        "--metrics",
        type=Path,
        default=None,
        help="the metrics.json of the model's evaluation without re-ranking (default: the one beside --model)",
    )
    card.add_argument(
        "--rerank-metrics",
        type=Path,
        default=None,
        help="the metrics.json of its evaluation with --rerank; without it the card says that none was made "
        "(the workflow's card.rerank: false)",
    )
    card.add_argument(
        "--dataset-status",
        type=Path,
        default=None,
        help="the workflow's dataset status file (results/DATASET/dataset.json): the card then gives the dataset's counts",
    )
    card.add_argument(
        "--out", required=True, type=Path, help="the folder to write MODEL_CARD.md and model_card.json in"
    )
    card.set_defaults(func=reid.commands.card)


def _add_cost(commands) -> None:
    cost = _command(
        commands,
        "cost",
        "Table 4: the cost of variants, their parameters, FLOPs and latency",
        aliases=["profile"],  # This was its name in 0.1, and it is kept for one release (CHANGELOG).
    )
    cost.add_argument(
        "--variant",
        required=True,
        action="append",
        choices=VARIANTS,
        help="a variant to measure; repeat, each with its --out",
    )
    _add_config_source(
        cost, "a config file: its train: (backbone, input size) and cost: (num_classes, runs)", required=False
    )
    cost.add_argument("--out", required=True, action="append", type=Path, help="JSON file to write, one per --variant")
    cost.set_defaults(func=reid.commands.cost)


def _add_figures(commands) -> None:
    figure = _command(commands, "figure", "render the paper's Figure 4 (ranked lists) or 6 (Grad-CAM)")
    figures = figure.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    ranked = _command(figures, "ranked-lists", "Figure 4: queries and their top 10, correct and wrong marked")
    ranked.add_argument("--per-query", required=True, type=Path, help="the per_query.npz that evaluate wrote")
    where = ranked.add_mutually_exclusive_group(required=True)
    where.add_argument("--dataset-root", type=Path, help="the evaluated dataset's folder")
    where.add_argument("--dataset-status", type=Path, help="the workflow's dataset status file (it holds the folder)")
    ranked.add_argument("--queries", type=int, default=6, help="rows: queries spread from the best to the worst AP")
    ranked.add_argument("--out", required=True, type=Path, help="PNG file to write")
    ranked.set_defaults(func=reid.commands.figure_ranked_lists)

    cam = _command(figures, "gradcam", "Figure 6: Grad-CAM of several models on the same query images")
    cam.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="LABEL=PATH",
        help="a model.pt and its row label, in row order (e.g. avg=RUN/model.pt); repeat",
    )
    cam.add_argument("--dataset", required=True, help="the dataset's name")
    where = cam.add_mutually_exclusive_group(required=True)
    where.add_argument("--path", type=Path, help="the dataset folder")
    where.add_argument("--dataset-status", type=Path, help="the workflow's dataset status file (it holds the folder)")
    cam.add_argument("--images", type=int, default=6, help="query images (columns)")
    cam.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the models run")
    cam.add_argument("--out", required=True, type=Path, help="PNG file to write")
    cam.set_defaults(func=reid.commands.figure_gradcam)


def _add_report(commands) -> None:
    report = _command(commands, "report", "render report/index.html from results/")
    _add_config_source(report, "the config file the results were made with")
    report.add_argument("--results", type=Path, default=Path("results"), help="the results folder")
    report.add_argument("--benchmarks", type=Path, default=Path("benchmarks"), help="the Snakemake benchmark files")
    report.add_argument("--out", type=Path, default=Path("report/index.html"), help="the page to write")
    report.add_argument(
        "--claims",
        type=Path,
        default=None,
        help="the judged claims that 'claims' wrote (default: claims.json beside --out)",
    )
    report.set_defaults(func=reid.commands.report)


def _add_claims(commands) -> None:
    claims = _command(commands, "claims", "judge the paper's and the config's claims on results/: claims.csv and .json")
    _add_config_source(claims, "the config file the results were made with")
    claims.add_argument("--results", type=Path, default=Path("results"), help="the results folder")
    claims.add_argument("--out", type=Path, default=Path("report/claims.csv"), help="the claims table to write")
    claims.add_argument("--json", type=Path, default=None, help="the record the report renders (default: beside --out)")
    claims.set_defaults(func=reid.commands.claims)


def _program() -> str:
    """Return the command as the user typed it: ``reid`` for the installed script, else ``python -m reid``."""
    return "reid" if Path(sys.argv[0]).name == "reid" else "python -m reid"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program(),
        description="The reproduction suite of multi-scale residual pooling re-ID, one command at a time. Errors a "
        "user can fix print one line and exit with status 2.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _add_data_commands,
        _add_train,
        _add_evaluate,
        _add_embed,
        _add_search,
        _add_export,
        _add_card,
        _add_cost,
        _add_figures,
        _add_claims,
        _add_report,
    ):
        add(commands)
    return parser


def torch_threads(variable: str = "REID_TORCH_THREADS") -> None:
    """Set the torch threads that the workflow gives this job in ``variable``.

    workflow/rules/common.smk sets it because, on a machine without a GPU, jobs run side by side
    with the cores split between them. When it is unset, torch keeps its default
    (OMP_NUM_THREADS, else every core)."""
    value = os.environ.get(variable, "")
    if value.isdigit() and int(value) > 0:
        import torch

        torch.set_num_threads(int(value))


def is_user_error(err: BaseException) -> bool:
    """Say whether ``err`` is the user's to fix, and so is printed as one line. The error classes of
    reid.card, reid.checkpoints, reid.models and reid.runtime are imported only when the others do not
    match: those modules import torch, which a job that needs none (data, report, figures, or a
    training stopped by a failed dataset) would otherwise spend seconds on."""
    if isinstance(err, (DiskFullError, DatasetError, FetchError, FileExistsError, ConfigError)):
        return True
    from reid.card import CardError
    from reid.checkpoints import CheckpointError, RunFolderError
    from reid.models import PretrainedWeightsError
    from reid.runtime import DeviceError

    if isinstance(err, (PretrainedWeightsError, CheckpointError, RunFolderError, DeviceError, CardError)):
        return True
    from reid.export import ExportError

    return isinstance(err, ExportError)


def needs_gpu_slot(args) -> bool:
    """Say whether a command may run on a GPU, and so must claim one of a shared machine's GPUs
    (reid.gpu_slot). Training, evaluation, embedding, search and Table 4's cost do, unless told
    --device cpu.
    Grad-CAM does only when told --device cuda, because its default is the CPU, and a slot it held
    would keep a training waiting for nothing."""
    if args.func is reid.commands.figure_gradcam:
        return args.device == "cuda"
    return (
        args.func
        in (reid.commands.train, reid.commands.evaluate, reid.commands.embed, reid.commands.search, reid.commands.cost)
        and getattr(args, "device", "auto") != "cpu"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.func in (
            reid.commands.train,
            reid.commands.evaluate,
            reid.commands.embed,
            reid.commands.search,
            reid.commands.export,
            reid.commands.cost,
            reid.commands.figure_gradcam,
        ):  # These are the jobs that use torch.
            # A dataset that failed stops the job before it waits for a GPU or imports torch.
            reid.commands.check_dataset_status(args)
            if needs_gpu_slot(args):
                claim_gpu()
            # A latency measurement runs alone, on every core; the others run on their share.
            torch_threads("REID_MACHINE_THREADS" if args.func is reid.commands.cost else "REID_TORCH_THREADS")
        return args.func(args)
    except Exception as err:
        if not is_user_error(err):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
