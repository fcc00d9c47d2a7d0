"""Command line: ``python -m reid <command> ...``.

Each command is a thin wrapper over a library function; errors a user can fix (a missing
or damaged dataset, a bad value) print one message to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from reid import version
from reid.config import ConfigError
from reid.data.synthetic import SIZES as SYNTH_SIZES
from reid.variants import VARIANTS


def _data_synth(args) -> int:
    from reid.data import synthetic

    root = synthetic.generate(
        args.root,
        size=args.size,
        seed=args.seed,
        workers=args.workers,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(root)
    return 0


def _data_fetch(args) -> int:
    from reid.data.fetch import fetch

    root = fetch(args.name, args.root, archive=args.archive, progress=not args.quiet, force=args.force)
    print(root)
    return 0


def _data_verify(args) -> int:
    from reid.data import load_dataset

    dataset = load_dataset(args.name, root=args.root, path=args.path)
    print(dataset.summary())
    return 0


def _data_prepare(args) -> int:
    from reid.config import load_config
    from reid.data.prepare import prepare, write_status

    config = load_config(args.config, args.set, text=args.config_json)
    options = config["datasets"].get(args.name)
    if options is None:
        raise ConfigError(f"dataset '{args.name}' is not in the config's datasets ({', '.join(config['datasets'])})")
    status = prepare(args.name, options, config["data_root"], workers=args.workers, progress=not args.quiet)
    write_status(args.status, status)
    if not status["ok"]:  # recorded, not raised: the workflow goes on with the other datasets
        print(f"dataset '{args.name}' is not available:\n{status['error']}", file=sys.stderr)
    else:
        print(json.dumps(status["counts"]))
    return 0


def _check_status(args) -> None:
    """--dataset-status: the workflow's record of the dataset; a failed one stops the job with its error."""
    if getattr(args, "dataset_status", None) is not None:
        from reid.data.prepare import require_ready

        require_ready(args.dataset_status)


def _data_histogram_baseline(args) -> int:
    from reid.histogram_baseline import colour_histogram_baseline
    from reid.utils import atomic_write_json

    result = colour_histogram_baseline(args.root)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.out:
        atomic_write_json(args.out, result)
    print(text)
    return 0


def _train(args) -> int:
    from reid.config import load_config, train_config
    from reid.data import load_dataset
    from reid.train import train

    config = load_config(args.config, args.set, text=args.config_json)
    cfg = train_config(config)
    name = args.dataset or _single_dataset(config)
    options = config["datasets"].get(name)
    if options is None:
        raise ConfigError(f"dataset '{name}' is not in the config's datasets ({', '.join(config['datasets'])})")
    dataset = load_dataset(name, root=config["data_root"], path=options.get("path"))
    summary = train(cfg, dataset, args.variant, args.seed, args.out)
    print(json.dumps(summary, indent=2))
    return 0


def _evaluate(args) -> int:
    from reid.config import load_config
    from reid.data import load_dataset
    from reid.evaluate import evaluate_checkpoint

    root, path, name = args.data_root, args.path, args.dataset
    if args.config is not None or args.config_json is not None:
        config = load_config(args.config, args.set, text=args.config_json)
        name = name or _single_dataset(config)
        options = config["datasets"].get(name)
        if options is None:
            raise ConfigError(f"dataset '{name}' is not in the config's datasets ({', '.join(config['datasets'])})")
        if root is None and path is None:  # where the config's workflow keeps it, as for train
            root, path = config["data_root"], options.get("path")
    if name is None:
        raise ConfigError("say which dataset to evaluate on: --dataset NAME (or --config with a single dataset)")
    if root is None and path is None:
        raise ConfigError(
            f"say where dataset '{name}' is: --data-root DIR (it is DIR/{name}), --path DIR, or --config FILE"
        )
    dataset = load_dataset(name, root=root, path=path)
    metrics = evaluate_checkpoint(
        args.checkpoint,
        dataset,
        args.out,
        rerank=args.rerank,
        distance=args.distance,
        flip=args.flip,
        batch_size=args.batch_size,
        device=args.device,
    )
    shown = ("R1", "R5", "R10", "mAP", "mAP_official", "mINP", "num_query", "num_skipped", "distance", "rerank", "flip")
    print(json.dumps({k: metrics[k] for k in shown} | {"out": str(args.out)}, indent=2))
    return 0


def _cost(args) -> int:
    import yaml

    from reid.config import apply_overrides, load_config, section, train_config
    from reid.cost import measure_cost
    from reid.utils import atomic_write_json

    if args.command == "profile":
        print(
            "note: 'python -m reid profile' is now 'python -m reid cost'; the old name goes in the next release",
            file=sys.stderr,
        )
    if len(args.variant) != len(args.out):
        raise SystemExit(f"error: {len(args.variant)} --variant but {len(args.out)} --out: give one --out per variant")
    # a whole config file, or the workflow's train: and cost: sections (or nothing: the defaults)
    if args.config:
        config = load_config(args.config, args.set)
    else:
        config = apply_overrides(yaml.safe_load(args.config_json or "{}"), args.set)
    cfg, options = train_config(config), section(config, "cost")
    for variant, out in zip(args.variant, args.out):  # one process: one start-up, the same conditions
        result = measure_cost(
            variant,
            options["num_classes"],
            cfg.backbone,
            cfg.height,
            cfg.width,
            last_stride=cfg.last_stride,
            options=cfg.model_options(variant),
            runs=options["runs"],
        )
        atomic_write_json(out, result)
        print(json.dumps(result, indent=2))
    return 0


def _figure_ranked_lists(args) -> int:
    from reid.data.prepare import require_ready
    from reid.figures import ranked_lists

    root = args.dataset_root or require_ready(args.dataset_status)["path"]
    try:
        print(ranked_lists(args.per_query, root, args.out, num_queries=args.queries))
    except (ValueError, FileNotFoundError) as err:  # a damaged or missing per_query.npz: the message says which
        raise ConfigError(str(err)) from err
    return 0


def _figure_gradcam(args) -> int:
    from reid.data import load_dataset
    from reid.figures.gradcam import gradcam_grid

    checkpoints = {}
    for item in args.checkpoint:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise ConfigError(f"--checkpoint {item!r}: write LABEL=PATH, e.g. --checkpoint residual=RUN/model.pt")
        checkpoints[label] = Path(path)
    if args.path is None:
        from reid.data.prepare import require_ready

        if args.dataset_status is None:
            raise ConfigError("say where the dataset is: --path DIR or --dataset-status FILE")
        args.path = require_ready(args.dataset_status)["path"]
    dataset = load_dataset(args.dataset, path=args.path)
    try:
        print(gradcam_grid(checkpoints, dataset, args.out, num_images=args.images, device=args.device))
    except (ValueError, FileNotFoundError) as err:  # models of different input sizes, no query images
        raise ConfigError(str(err)) from err
    return 0


def _report(args) -> int:
    from reid.config import load_config
    from reid.report import build_report
    from reid.targets import expected_results

    config = load_config(args.config, args.set, text=args.config_json)
    out = build_report(
        args.results,
        args.out,
        config,
        args.claims or Path(args.out).with_name("claims.json"),  # what `python -m reid claims` wrote
        benchmarks_dir=args.benchmarks,
        data_root=config["data_root"],
        expected=expected_results(config, args.results),
    )
    print(out)
    return 0


def _claims(args) -> int:
    from reid.claims import judge_run, write_claims
    from reid.config import load_config

    config = load_config(args.config, args.set, text=args.config_json)
    json_path = args.json or args.out.with_suffix(".json")
    write_claims(judge_run(args.results, config), args.out, json_path)
    print(args.out)
    return 0


def _single_dataset(config: dict) -> str:
    names = list(config["datasets"])
    if len(names) != 1:
        raise ConfigError(f"the config lists several datasets ({', '.join(names)}): choose one with --dataset")
    return names[0]


class _HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default after its help, except where there is none to show (no
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
    """A subcommand whose --help shows the defaults; its description is its help unless given."""
    return commands.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        formatter_class=_HelpFormatter,
        **kwargs,
    )


def _add_config_source(parser: argparse.ArgumentParser, file_help: str, required: bool = True) -> None:
    """--config FILE or --config-json JSON (the workflow passes each job its part of the
    config), and --set KEY=VALUE on top of either: every command that reads a config takes the
    same three options."""
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
    synth.set_defaults(func=_data_synth)

    fetch = _command(data_commands, "fetch", "download (or take a local archive), verify and extract a public dataset")
    fetch.add_argument("name", choices=["market1501", "dukemtmcreid"], help="which dataset")
    fetch.add_argument("--root", required=True, type=Path, help="data root; the dataset lands in ROOT/NAME")
    fetch.add_argument("--archive", type=Path, default=None, help="a local copy of the dataset's archive")
    fetch.add_argument("--force", action="store_true", help="verify and extract again even if already done")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=_data_fetch)

    verify = _command(data_commands, "verify", "parse a dataset and check its layout (and counts, for known sets)")
    verify.add_argument("name", help="market1501, dukemtmcreid, synthetic, or any name for a custom set")
    where = verify.add_mutually_exclusive_group(required=True)
    where.add_argument("--root", type=Path, help="data root holding ROOT/NAME")
    where.add_argument("--path", type=Path, help="the dataset folder itself")
    verify.set_defaults(func=_data_verify)

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
    prep.set_defaults(func=_data_prepare)

    hist = _command(
        data_commands, "histogram-baseline", "mAP of a whole-image colour histogram (no learning): how hard a set is"
    )
    hist.add_argument("--root", required=True, type=Path, help="dataset folder in Market-1501 layout")
    hist.add_argument("--out", type=Path, default=None, help="also write the result as JSON to this file")
    hist.set_defaults(func=_data_histogram_baseline)


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
    train.set_defaults(func=_train)


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
        help="market1501, dukemtmcreid, synthetic or any name for a custom set (optional with a config of one dataset)",
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
    evaluate.set_defaults(func=_evaluate)


def _add_cost(commands) -> None:
    cost = _command(
        commands,
        "cost",
        "Table 4: the cost of variants, their parameters, FLOPs and latency",
        aliases=["profile"],  # its name in 0.1, kept for one release (CHANGELOG)
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
    cost.set_defaults(func=_cost)


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
    ranked.set_defaults(func=_figure_ranked_lists)

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
    cam.set_defaults(func=_figure_gradcam)


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
    report.set_defaults(func=_report)


def _add_claims(commands) -> None:
    claims = _command(commands, "claims", "judge the paper's and the config's claims on results/: claims.csv and .json")
    _add_config_source(claims, "the config file the results were made with")
    claims.add_argument("--results", type=Path, default=Path("results"), help="the results folder")
    claims.add_argument("--out", type=Path, default=Path("report/claims.csv"), help="the claims table to write")
    claims.add_argument("--json", type=Path, default=None, help="the record the report renders (default: beside --out)")
    claims.set_defaults(func=_claims)


def _program() -> str:
    """The command as the user typed it: ``reid`` for the installed script, else ``python -m reid``."""
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
    for add in (_add_data_commands, _add_train, _add_evaluate, _add_cost, _add_figures, _add_claims, _add_report):
        add(commands)
    return parser


def torch_threads(variable: str = "REID_TORCH_THREADS") -> None:
    """The torch threads the workflow gives this job (``variable``, set by
    workflow/rules/common.smk: on a machine without a GPU, jobs run side by side with the cores
    split between them); unset, torch's default (OMP_NUM_THREADS, else every core)."""
    value = os.environ.get(variable, "")
    if value.isdigit() and int(value) > 0:
        import torch

        torch.set_num_threads(int(value))


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` is the user's to fix, printed as one line. The error classes of
    reid.checkpoints, reid.models and reid.runtime are imported only when the others do not
    match: those modules import torch, which a job that needs none (data, report, figures, or a
    training stopped by a failed dataset) would otherwise spend two seconds on."""
    from reid.data.fetch import FetchError
    from reid.data.market import DatasetError
    from reid.utils import DiskFullError

    if isinstance(err, (DiskFullError, DatasetError, FetchError, FileExistsError, ConfigError)):
        return True
    from reid.checkpoints import CheckpointError, RunFolderError
    from reid.models import PretrainedWeightsError
    from reid.runtime import DeviceError

    return isinstance(err, (PretrainedWeightsError, CheckpointError, RunFolderError, DeviceError))


def needs_gpu_slot(args) -> bool:
    """Whether a command may run on a GPU, and so must claim one of a shared machine's
    (reid.gpu_slot): training, evaluation and Table 4's cost, unless told --device cpu; Grad-CAM
    only when told --device cuda (its default is the CPU, and a slot it held would keep a
    training waiting for nothing)."""
    if args.func is _figure_gradcam:
        return args.device == "cuda"
    return args.func in (_train, _evaluate, _cost) and getattr(args, "device", "auto") != "cpu"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.func in (_train, _evaluate, _cost, _figure_gradcam):  # the torch jobs
            _check_status(args)  # a dataset that failed stops the job before it waits for a GPU or imports torch
            if needs_gpu_slot(args):
                from reid.gpu_slot import claim_gpu

                claim_gpu()
            # a latency measurement runs alone, on every core; the others on their share
            torch_threads("REID_MACHINE_THREADS" if args.func is _cost else "REID_TORCH_THREADS")
        return args.func(args)
    except Exception as err:
        if not is_user_error(err):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
