import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reid.bench", description="benchmarks that print figures")
    commands = parser.add_subparsers(dest="command", required=True)
    from reid.bench import eval_bench, train_bench

    train_bench.add_arguments(commands.add_parser("train", help="training throughput: real pipeline vs model alone"))
    eval_bench.add_arguments(
        commands.add_parser(
            "eval", help="CMC/mAP evaluation: ours vs torchreid's evaluators (and re-ranking figures), Market-1501 size"
        )
    )
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
