import argparse
import sys

from reid.bench import cpu_bench, embed_bench, eval_bench, gpu_check, scale_bench, suite_bench, train_bench


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reid.bench", description="benchmarks that print figures")
    commands = parser.add_subparsers(dest="command", required=True)

    train_bench.add_arguments(commands.add_parser("train", help="training throughput: real pipeline vs model alone"))
    eval_bench.add_arguments(
        commands.add_parser(
            "eval", help="CMC/mAP evaluation: ours vs torchreid's evaluators (and re-ranking figures), Market-1501 size"
        )
    )
    cpu_bench.add_arguments(
        commands.add_parser("cpu", help="CPU choices: threads, jobs side by side, channels_last, determinism")
    )
    suite_bench.add_arguments(
        commands.add_parser("suite", help="the README's first command, timed per stage, with the machine's figure")
    )
    embed_bench.add_arguments(
        commands.add_parser("embed", help="python -m reid embed's images/s from JPEGs, beside the model alone")
    )
    scale_bench.add_arguments(
        commands.add_parser("scale", help="an evaluation's time and peak memory at a dataset's size (MSMT17's)")
    )
    gpu_check.add_arguments(
        commands.add_parser("gpu", help="the CUDA code paths, run once on a GPU machine, one line per check")
    )
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
