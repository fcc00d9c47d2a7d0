"""This module holds the commands of ``python -m reid``, one function each. Each takes the parsed
arguments (reid.cli builds the parser) and calls the library. The modules that need torch, matplotlib
or scipy are imported inside the command that uses them, since every job starts here and the
data job, for one, needs none of them (tests/test_startup.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from reid.config import ConfigError, apply_overrides, load_config, section, train_config
from reid.data import load_dataset, synthetic
from reid.data.fetch import fetch
from reid.data.prepare import prepare, require_ready, write_status
from reid.targets import expected_results
from reid.utils import atomic_write_json


def data_synth(args) -> int:
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


def data_fetch(args) -> int:
    root = fetch(args.name, args.root, archive=args.archive, progress=not args.quiet, force=args.force)
    print(root)
    return 0


def data_verify(args) -> int:
    dataset = load_dataset(args.name, root=args.root, path=args.path, boxes=args.boxes)
    print(dataset.summary())
    return 0


def data_prepare(args) -> int:
    config = load_config(args.config, args.set, text=args.config_json)
    options = config["datasets"].get(args.name)
    if options is None:
        raise ConfigError(f"dataset '{args.name}' is not in the config's datasets ({', '.join(config['datasets'])})")
    status = prepare(args.name, options, config["data_root"], workers=args.workers, progress=not args.quiet)
    write_status(args.status, status)
    if not status["ok"]:  # It is recorded, not raised, so that the workflow goes on with the other datasets.
        print(f"dataset '{args.name}' is not available:\n{status['error']}", file=sys.stderr)
    else:
        print(json.dumps(status["counts"]))
    return 0


def check_dataset_status(args) -> None:
    """Stop the job with its error when --dataset-status, the workflow's record of the dataset, says it failed."""
    if getattr(args, "dataset_status", None) is not None:
        require_ready(args.dataset_status)


def data_histogram_baseline(args) -> int:
    from reid.histogram_baseline import colour_histogram_baseline  # It is imported here because it scores with torch.

    result = colour_histogram_baseline(args.root)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.out:
        atomic_write_json(args.out, result)
    print(text)
    return 0


def train(args) -> int:
    from reid.train import train as train_model

    config = load_config(args.config, args.set, text=args.config_json)
    cfg = train_config(config)
    name = args.dataset or single_dataset(config)
    options = config["datasets"].get(name)
    if options is None:
        raise ConfigError(f"dataset '{name}' is not in the config's datasets ({', '.join(config['datasets'])})")
    dataset = load_dataset(name, root=config["data_root"], path=options.get("path"), boxes=options.get("boxes"))
    summary = train_model(cfg, dataset, args.variant, args.seed, args.out)
    print(json.dumps(summary, indent=2))
    return 0


def evaluate(args) -> int:
    from reid.evaluate import evaluate_checkpoint

    root, path, name, boxes = args.data_root, args.path, args.dataset, None
    if args.config is not None or args.config_json is not None:
        config = load_config(args.config, args.set, text=args.config_json)
        name = name or single_dataset(config)
        options = config["datasets"].get(name)
        if options is None:
            raise ConfigError(f"dataset '{name}' is not in the config's datasets ({', '.join(config['datasets'])})")
        boxes = options.get("boxes")  # CUHK03-NP's subset, as the model was trained on it.
        if root is None and path is None:  # The dataset is where the config's workflow keeps it, as for train.
            root, path = config["data_root"], options.get("path")
    if name is None:
        raise ConfigError("say which dataset to evaluate on: --dataset NAME (or --config with a single dataset)")
    if root is None and path is None:
        raise ConfigError(
            f"say where dataset '{name}' is: --data-root DIR (it is DIR/{name}), --path DIR, or --config FILE"
        )
    dataset = load_dataset(name, root=root, path=path, boxes=boxes)
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


def embed(args) -> int:
    from reid.embed import embed as embed_images

    done = embed_images(args.model, args.images, args.out, args.batch_size, args.device, args.flip, args.skip_bad)
    for path in done["skipped"]:
        print(f"skipped (unreadable): {path}", file=sys.stderr)
    print(json.dumps(done, indent=2))
    return 0


def search(args) -> int:
    from reid.search import search as search_gallery

    done = search_gallery(
        args.model,
        args.query,
        args.gallery,
        args.out,
        args.top,
        args.rerank,
        args.batch_size,
        args.device,
        args.skip_bad,
    )
    for path in done["skipped"]:
        print(f"skipped (unreadable): {path}", file=sys.stderr)
    print(json.dumps(done, indent=2))
    return 0


def export(args) -> int:
    from reid.export import export as export_model

    print(json.dumps(export_model(args.model, args.format, args.out), indent=2))
    return 0


def card(args) -> int:
    from reid.card import card_facts, write_card

    facts = card_facts(args.model, args.metrics, args.rerank_metrics, args.dataset_status)
    for path in write_card(facts, args.out):
        print(path)
    return 0


def cost(args) -> int:
    from reid.cost import measure_cost

    if args.command == "profile":
        print(
            "note: 'python -m reid profile' is now 'python -m reid cost'; the old name goes in the next release",
            file=sys.stderr,
        )
    if len(args.variant) != len(args.out):
        raise SystemExit(f"error: {len(args.variant)} --variant but {len(args.out)} --out: give one --out per variant")
    # The config is a whole config file, or the workflow's train: and cost: sections, or nothing (the defaults).
    if args.config:
        config = load_config(args.config, args.set)
    else:
        config = apply_overrides(yaml.safe_load(args.config_json or "{}"), args.set)
    cfg, options = train_config(config), section(config, "cost")
    # One process measures all variants, so that they share one start-up and the same conditions.
    for variant, out in zip(args.variant, args.out):
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


def figure_ranked_lists(args) -> int:
    from reid.figures import ranked_lists

    root = args.dataset_root or require_ready(args.dataset_status)["path"]
    try:
        print(ranked_lists(args.per_query, root, args.out, num_queries=args.queries))
    except (ValueError, FileNotFoundError) as err:
        # A damaged or missing per_query.npz raises these, and the message says which.
        raise ConfigError(str(err)) from err
    return 0


def figure_gradcam(args) -> int:
    from reid.figures.gradcam import gradcam_grid

    checkpoints = {}
    for item in args.checkpoint:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise ConfigError(f"--checkpoint {item!r}: write LABEL=PATH, e.g. --checkpoint residual=RUN/model.pt")
        checkpoints[label] = Path(path)
    if args.path is None:
        if args.dataset_status is None:
            raise ConfigError("say where the dataset is: --path DIR or --dataset-status FILE")
        args.path = require_ready(args.dataset_status)["path"]
    dataset = load_dataset(args.dataset, path=args.path)
    try:
        print(gradcam_grid(checkpoints, dataset, args.out, num_images=args.images, device=args.device))
    except (ValueError, FileNotFoundError) as err:  # Models of different input sizes, or no query images, raise these.
        raise ConfigError(str(err)) from err
    return 0


def report(args) -> int:
    from reid.report import build_report

    config = load_config(args.config, args.set, text=args.config_json)
    out = build_report(
        args.results,
        args.out,
        config,
        args.claims or Path(args.out).with_name("claims.json"),  # This is what `python -m reid claims` wrote.
        benchmarks_dir=args.benchmarks,
        data_root=config["data_root"],
        expected=expected_results(config, args.results),
    )
    print(out)
    return 0


def claims(args) -> int:
    from reid.claims import judge_run, write_claims

    config = load_config(args.config, args.set, text=args.config_json)
    json_path = args.json or args.out.with_suffix(".json")
    write_claims(judge_run(args.results, config), args.out, json_path)
    print(args.out)
    return 0


def single_dataset(config: dict) -> str:
    names = list(config["datasets"])
    if len(names) != 1:
        raise ConfigError(f"the config lists several datasets ({', '.join(names)}): choose one with --dataset")
    return names[0]
