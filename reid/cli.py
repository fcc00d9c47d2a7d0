"""Command line: ``python -m reid <command> ...``.

Each command is a thin wrapper over a library function; errors a user can fix (a missing
or damaged dataset, a bad value) print one message to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reid.config import ConfigError


def _data_synth(args) -> int:
    from reid.data import synthetic

    root = synthetic.generate(args.root, size=args.size, seed=args.seed, workers=args.workers,
                              progress=not args.quiet, overwrite=args.overwrite)
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


def _data_histogram_baseline(args) -> int:
    from reid.data import synthetic
    from reid.utils import atomic_write_json

    result = synthetic.colour_histogram_baseline(args.root)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.out:
        atomic_write_json(args.out, result)
    print(text)
    return 0


def _train(args) -> int:
    from reid.config import load_config, train_config
    from reid.data import load_dataset
    from reid.train import train

    config = load_config(args.config, args.set)
    cfg = train_config(config)
    name = args.dataset or _single_dataset(config)
    options = config["datasets"].get(name)
    if options is None:
        raise ConfigError(f"dataset '{name}' is not in the config's datasets ({', '.join(config['datasets'])})")
    dataset = load_dataset(name, root=config["data_root"], path=options.get("path"))
    summary = train(cfg, dataset, args.variant, args.seed, args.out)
    print(json.dumps(summary, indent=2))
    return 0


def _single_dataset(config: dict) -> str:
    names = list(config["datasets"])
    if len(names) != 1:
        raise ConfigError(f"the config lists several datasets ({', '.join(names)}): choose one with --dataset")
    return names[0]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reid", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="create, fetch and verify datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)

    synth = data_commands.add_parser("synth", help="render the synthetic re-ID set in Market-1501 layout")
    synth.add_argument("--root", required=True, type=Path, help="folder to create (the dataset itself)")
    synth.add_argument("--size", default="default", choices=["tiny", "default"])
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    synth.add_argument("--overwrite", action="store_true", help="replace an existing, different dataset")
    synth.add_argument("--quiet", action="store_true")
    synth.set_defaults(func=_data_synth)

    fetch = data_commands.add_parser("fetch", help="download (or take a local archive), verify and extract a public dataset")
    fetch.add_argument("name", choices=["market1501", "dukemtmcreid"])
    fetch.add_argument("--root", required=True, type=Path, help="data root; the dataset lands in ROOT/NAME")
    fetch.add_argument("--archive", type=Path, default=None, help="a local copy of the dataset's archive")
    fetch.add_argument("--force", action="store_true", help="verify and extract again even if already done")
    fetch.add_argument("--quiet", action="store_true")
    fetch.set_defaults(func=_data_fetch)

    verify = data_commands.add_parser("verify", help="parse a dataset, check its layout (and counts, for known sets)")
    verify.add_argument("name", help="market1501, dukemtmcreid, synthetic, or any name for a custom set")
    where = verify.add_mutually_exclusive_group(required=True)
    where.add_argument("--root", type=Path, help="data root holding ROOT/NAME")
    where.add_argument("--path", type=Path, help="the dataset folder itself")
    verify.set_defaults(func=_data_verify)

    hist = data_commands.add_parser(
        "histogram-baseline", help="mAP of a whole-image colour histogram (no learning): how hard a set is")
    hist.add_argument("--root", required=True, type=Path, help="dataset folder in Market-1501 layout")
    hist.add_argument("--out", type=Path, default=None, help="also write the result as JSON")
    hist.set_defaults(func=_data_histogram_baseline)

    train = commands.add_parser("train", help="train one variant with one seed (resumes if DIR holds a checkpoint)")
    train.add_argument("--config", required=True, type=Path, help="a profile, e.g. configs/paper.yaml")
    train.add_argument("--variant", required=True, choices=["baseline", "avg", "max", "residual"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, type=Path, help="run folder: log.csv, checkpoints, model.pt")
    train.add_argument("--dataset", default=None, help="which of the config's datasets (needed if it lists several)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value: a train key (epochs=2) or a dotted path (datasets.synthetic.size=tiny)")
    train.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    from reid.data.fetch import FetchError
    from reid.data.market import DatasetError
    from reid.models import PretrainedWeightsError

    args = build_parser().parse_args(argv)
    user_errors = (DatasetError, FetchError, FileExistsError, ConfigError, PretrainedWeightsError)
    try:
        return args.func(args)
    except user_errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
