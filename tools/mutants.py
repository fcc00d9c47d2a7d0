"""Planted bugs, one at a time: does the test suite catch each of them?

    python tools/mutants.py                     # every mutant (the longest way: a test run each)
    python tools/mutants.py fuse-swap rr-2/3    # some, by name
    python tools/mutants.py --list

A mutant is one small, realistic change to one line of the package: an argument swapped, a
comparison loosened, an option not passed on. Each is written into a copy of the working tree in
a temporary folder (the working tree itself is never touched, so an interrupted run leaves no
planted bug behind), and the test files that cover its module are run there. The tests that
compare with torchreid are left out (``-m "not torchreid"``): a bug must be caught by the
suite's own tests, which run wherever the suite does. A mutant is *caught* when pytest fails
and *survives* when it passes.

The list below is the mutation pass of issue 21: the bugs that survived the suite before it,
then a pass by hand over the models, the losses, the metrics, re-ranking, the statistics, the
claims and the checkpoints. A mutant that cannot change any result (an equivalent mutant) says
why in ``harmless`` and is reported, not counted. Exits 1 when any other mutant survives.

This is a tool for a person changing the tests, not part of CI: each mutant costs one pytest
run of its test files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the project's root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  # test files (or node ids) that should catch it
    harmless: str = ""  # why the mutant cannot change a result, where it cannot


MODELS = ("tests/models",)
LOSSES = ("tests/test_losses.py", "tests/test_config.py")
METRICS = ("tests/test_metrics.py",)
RERANK = ("tests/test_rerank.py",)
STATS = ("tests/test_stats.py",)
CLAIMS = ("tests/claims",)
# tests/test_checkpoints.py first: its unit tests take seconds, the training and evaluation ones a minute
CHECKPOINTS = ("tests/test_checkpoints.py", "tests/test_train.py", "tests/test_security.py", "tests/test_evaluate.py")
CONFIG = ("tests/test_config.py",)
CARD = ("tests/test_card.py",)

MUTANTS = (
    # ------------------------------------------------------------ the survivors issue 21 found
    Mutant("fuse-swap", "reid/models/msrp.py", "p_cont = fuse(p_avg, p_max)", "p_cont = fuse(p_max, p_avg)", MODELS),
    Mutant(
        "margin-dropped",
        "reid/losses.py",
        "batch_hard_triplet(f, labels, margin) for f",
        "batch_hard_triplet(f, labels) for f",
        LOSSES,
    ),
    Mutant(
        "r1-loosened",
        "reid/claims/accuracy.py",
        "(first_hit < rank).astype",
        "(first_hit <= rank).astype",
        CLAIMS,
    ),
    Mutant(
        "c3-unpaired",
        "reid/claims/accuracy.py",
        "clusters=sa.pids[keep], paired=paired)",
        "clusters=sa.pids[keep])",
        CLAIMS,
    ),
    Mutant(
        "flip-axis", "reid/features.py", "model(batch.flip(-1))", "model(batch.flip(-2))", ("tests/test_features.py",)
    ),
    Mutant(
        "plain-smoothing-ignored",
        "reid/config.py",
        'smoothing = self.plain_label_smoothing if variant == "plain_baseline" else self.label_smoothing',
        "smoothing = self.label_smoothing",
        LOSSES + ("tests/test_train.py",),
    ),
    Mutant(
        "variant-loss-options-ignored",
        "reid/train.py",
        "cfg.loss_options(run.variant),\n    )",
        "cfg.loss_options(),\n    )",
        ("tests/test_train.py",),
    ),
    Mutant(
        "cmc-clamp",
        "reid/metrics.py",
        "ranks.clamp(max=max_rank)",
        "ranks.clamp(max=max_rank - 1)",
        METRICS,
    ),
    Mutant(
        "cmc-length",
        "reid/metrics.py",
        "max_rank = min(max_rank, num_g)",
        "max_rank = min(max_rank, num_g - 1)",
        METRICS,
    ),
    Mutant(
        "rr-2/3",
        "reid/rerank.py",
        "overlap.to(torch.float64) > (2.0 / 3.0)",
        "overlap.to(torch.float64) >= (2.0 / 3.0)",
        RERANK,
    ),
    # ------------------------------------------------------------ the hand pass over the modules
    # models: the BNNeck, the embedding each option reads, the delta's layers, the trunk's weights
    Mutant(
        "msrp-bnneck-shift-trainable",
        "reid/models/msrp.py",
        "self.bn.bias.requires_grad_(False)",
        "self.bn.bias.requires_grad_(True)",
        MODELS,
    ),
    Mutant(
        "msrp-embedding-readings-swapped",
        "reid/models/msrp.py",
        'parts = [n[0] for n in necked] if self.embedding == "post_bn" else fused',
        'parts = fused if self.embedding == "post_bn" else [n[0] for n in necked]',
        MODELS,
    ),
    Mutant(
        "msrp-baseline-embedding-swapped",
        "reid/models/msrp.py",
        'return feat if self.embedding == "post_bn" else gap',
        'return gap if self.embedding == "post_bn" else feat',
        MODELS,
    ),
    Mutant(
        "msrp-relu-after-bn-only", "reid/models/msrp.py", 'if act == "bn_relu":', 'if act in ("bn", "bn_relu"):', MODELS
    ),
    Mutant(
        "msrp-scale2-max-for-avg",
        "reid/models/msrp.py",
        '(adaptive_pool2d(f4, 1, "avg"), adaptive_pool2d(f4, 1, "max")),',
        '(adaptive_pool2d(f4, 1, "max"), adaptive_pool2d(f4, 1, "max")),',
        MODELS,
    ),
    Mutant(
        # A comparison contradicted on one dataset read as merely not shown everywhere.
        "across-contradiction-ignored",
        "reid/claims/across.py",
        'against = [d for d, v in verdicts.items() if v == "contradicted"]',
        "against = []",
        CLAIMS,
    ),
    Mutant(
        # A comparison tested on a single dataset read as holding across datasets.
        "across-one-dataset-enough",
        "reid/claims/across.py",
        "        if len(tested) < 2:\n            continue\n",
        "",
        CLAIMS,
    ),
    Mutant(
        # The euclidean distances' blocks finishing the wrong rows: only the first block is right.
        "distance-block-rows",
        "reid/features.py",
        "block.copy_(q_sq[start : start + rows] + g_sq - 2 * block)",
        "block.copy_(q_sq[:rows][: len(block)] + g_sq - 2 * block)",
        ("tests/test_features.py",),
    ),
    Mutant(
        # An export's written-out cells ending where floor division puts them: the overlapping cells
        # of 9 columns pooled in two would lose their shared column (0-3 and 4-8 instead of 0-4 and 4-8).
        "pooling-cells-end-floor",
        "reid/models/pooling.py",
        "return [((i * n) // k, -((-(i + 1) * n) // k)) for i in range(k)]",
        "return [((i * n) // k, ((i + 1) * n) // k) for i in range(k)]",
        MODELS,
    ),
    Mutant(
        "backbone-fc-not-dropped",
        "reid/models/backbone.py",
        'for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}',
        "for k, v in state.items()}",
        MODELS,
    ),
    Mutant(
        "backbone-model-key-not-unwrapped",
        "reid/models/backbone.py",
        'for key in ("state_dict", "model"):',
        'for key in ("state_dict",):',
        MODELS,
    ),
    Mutant(
        "backbone-missing-not-checked", "reid/models/backbone.py", "if missing or unexpected:", "if unexpected:", MODELS
    ),
    Mutant(
        "models-one-class-accepted", "reid/models/__init__.py", "if num_classes < 2:", "if num_classes < 1:", MODELS
    ),
    Mutant(
        "models-embedding-unchecked",
        "reid/models/__init__.py",
        '"embedding": ("post_bn", "pre_bn"),',
        '"embedding": None,',
        MODELS,
    ),
    # losses: the defaults, ties, the root's clamp, the accuracy signal, the mean over classifiers
    Mutant(
        "losses-triplet-default-margin",
        "reid/losses.py",
        "labels: torch.Tensor, margin: float = 0.3",
        "labels: torch.Tensor, margin: float = 0.5",
        LOSSES,
    ),
    Mutant(
        "losses-smoothing-default",
        "reid/losses.py",
        "epsilon: float = 0.1) -> torch.Tensor:",
        "epsilon: float = 0.2) -> torch.Tensor:",
        LOSSES,
    ),
    Mutant(
        "losses-separated-ties",
        "reid/losses.py",
        "(hardest_neg > hardest_pos).float().mean()",
        "(hardest_neg >= hardest_pos).float().mean()",
        LOSSES,
    ),
    Mutant("losses-no-clamp-before-root", "reid/losses.py", ".clamp(min=1e-12).sqrt()", ".sqrt()", LOSSES),
    Mutant("losses-accuracy-argmin", "reid/losses.py", "(z.argmax(1) == labels)", "(z.argmin(1) == labels)", LOSSES),
    Mutant(
        "losses-ce-sum",
        "reid/losses.py",
        ").mean()  # 1/3 sum over Pcont1..3",
        ").sum()  # 1/3 sum over Pcont1..3",
        LOSSES,
    ),
    # metrics: INP, the trapezoid's first step, junk before a hit, the default cut-off, integer input
    Mutant(
        "metrics-inp-first-hit",
        "reid/metrics.py",
        "/ (last.clamp(min=0) + 1).to(torch.float64)",
        "/ (first.clamp(min=0) + 1).to(torch.float64)",
        METRICS,
    ),
    Mutant(
        "metrics-trapezoid-start",
        "reid/metrics.py",
        "kept_f.clamp(min=1), torch.ones_like(kept_f))",
        "kept_f.clamp(min=1), torch.zeros_like(kept_f))",
        METRICS,
    ),
    Mutant("metrics-default-max-rank", "reid/metrics.py", "max_rank: int = 50", "max_rank: int = 20", METRICS),
    Mutant("metrics-integers-as-float32", "reid/metrics.py", "dist = dist.double()", "dist = dist.float()", METRICS),
    Mutant(
        "metrics-tie-limit-inclusive",
        "reid/metrics.py",
        "many = tied.sum(1) > TIE_PAIRS_PER_ROW",
        "many = tied.sum(1) >= TIE_PAIRS_PER_ROW",
        METRICS,
        harmless="both ways of ranking tied entries are exact, so which one a row with exactly TIE_PAIRS_PER_ROW ties takes cannot change a rank",
    ),
    Mutant(
        "metrics-ranked-gallery-strict",
        "reid/metrics.py",
        "(rows <= kth).nonzero(as_tuple=True)",
        "(rows < kth).nonzero(as_tuple=True)",
        METRICS,
        harmless="fewer than k entries lie strictly below the k-th smallest, so every row takes the stable arg-sort fallback, which returns the same indices more slowly",
    ),
    # re-ranking: lambda, round(k1 / 2), the weights, query expansion, the orientation, the diagonal
    Mutant("rr-lambda-weights-swapped", "reid/rerank.py", "one_minus = 1.0 - lam", "one_minus = lam", RERANK),
    Mutant("rr-qe-not-averaged", "reid/rerank.py", "new_vals.append(s / k2)", "new_vals.append(s)", RERANK),
    Mutant(
        "rr-lambda-zero-refused",
        "reid/rerank.py",
        "not (0.0 <= float(lambda_value) <= 1.0)",
        "not (0.0 < float(lambda_value) <= 1.0)",
        RERANK,
    ),
    Mutant(
        "rr-qq-row-not-column",
        "reid/rerank.py",
        "_copy_transposed_square(buf[:nq, :Q], self.qq[:, a : a + nq])",
        "_square_into(buf[:nq, :Q], self.qq[a : a + nq])",
        RERANK,
    ),
    Mutant("rr-feature-diagonal-not-zeroed", "reid/rerank.py", "        buf.diagonal(a).zero_()\n", "", RERANK),
    # statistics: degrees of freedom, the variance parts, the one-seed rule, boundaries, Holm
    Mutant(
        "stats-mean-ddof0",
        "reid/stats.py",
        "seed_part = float(x.mean(1).var(ddof=1)) / s",
        "seed_part = float(x.mean(1).var(ddof=0)) / s",
        STATS,
    ),
    Mutant(
        "stats-difference-ddof0",
        "reid/stats.py",
        "parts = [(float(x.mean(1).var(ddof=1)) / n",
        "parts = [(float(x.mean(1).var(ddof=0)) / n",
        STATS,
    ),
    Mutant(
        "stats-published-runs-dropped",
        "reid/stats.py",
        "(1 / len(x) + 1 / published_runs)",
        "(1 / len(x))",
        STATS,
    ),
    Mutant(
        "stats-identity-df",
        "reid/stats.py",
        "identity_part, groups - 1, (s,), q",
        "identity_part, groups, (s,), q",
        STATS,
    ),
    Mutant(
        "stats-no-small-cluster-correction",
        "reid/stats.py",
        "raw = groups / (groups - 1) * float(",
        "raw = float(",
        STATS,
    ),
    Mutant(
        "stats-interaction-over-s",
        "reid/stats.py",
        "** 2).sum() / (s - 1))",
        "** 2).sum() / s)",
        STATS,
    ),
    Mutant(
        "stats-interaction-not-per-seed",
        "reid/stats.py",
        "_interaction(t, index, groups) / t.shape[0] for t in tables",
        "_interaction(t, index, groups) for t in tables",
        STATS,
    ),
    Mutant(
        "stats-known-any",
        "reid/stats.py",
        "known = all(s > 1 for s in seeds)",
        "known = any(s > 1 for s in seeds)",
        STATS,
    ),
    Mutant("stats-verdict-touching-zero", "reid/stats.py", "if low > 0:", "if low >= 0:", STATS),
    Mutant(
        "stats-band-edge-inside",
        "reid/stats.py",
        "if -tolerance < low and high < tolerance:",
        "if -tolerance <= low and high <= tolerance:",
        STATS,
    ),
    Mutant(
        "stats-holm-equal-bound",
        "reid/stats.py",
        "if p_values[i] > alpha / (m - rank):",
        "if p_values[i] >= alpha / (m - rank):",
        STATS,
    ),
    Mutant("stats-holm-off-by-one", "reid/stats.py", "alpha / (m - rank)", "alpha / (m - rank + 1)", STATS),
    # claims: which queries count, pairing, the claim's side, C4 above the paper, the settings
    Mutant(
        "acc-valid-any-all",
        "reid/claims/accuracy.py",
        "[~np.isnan(t).any(0) for t in tables]",
        "[~np.isnan(t).all(0) for t in tables]",
        CLAIMS,
    ),
    Mutant(
        "acc-paired-wrong-seed-list",
        "reid/claims/accuracy.py",
        "tb[[sb.seeds.index(s) for s in common]]",
        "tb[[sa.seeds.index(s) for s in common]]",
        CLAIMS,
    ),
    Mutant(
        "acc-pairing-one-way",
        "reid/claims/accuracy.py",
        "paired = SAME_MODELS.get(a) == b or SAME_MODELS.get(b) == a",
        "paired = SAME_MODELS.get(a) == b",
        CLAIMS,
    ),
    Mutant(
        "acc-lower-claim-side", "reid/claims/accuracy.py", "side = 1.0 if spec.higher else -1.0", "side = 1.0", CLAIMS
    ),
    Mutant(
        "acc-c4-above-not-contradicted",
        "reid/claims/accuracy.py",
        '"above": "contradicted"}.get(where, "inconclusive")',
        '"above": "inconclusive"}.get(where, "inconclusive")',
        CLAIMS,
    ),
    Mutant(
        "claim-size-adjusted-with-verdict-p",
        "reid/claims/claim.py",
        'c.p_value if column == "verdict" else c.size_p_value for c, column in tests',
        "c.p_value for c, column in tests",
        CLAIMS,
    ),
    Mutant(
        "claim-adjusted-any-call",
        "reid/claims/claim.py",
        "if call in CALLS and not kept:",
        "if not kept:",
        CLAIMS,
        harmless="the only call that is a test and not in CALLS is inconclusive, which the adjustment would set to inconclusive again",
    ),
    Mutant(
        "cost-margin-strict",
        "reid/claims/cost.py",
        '"supported" if high <= margin',
        '"supported" if high < margin',
        CLAIMS,
    ),
    Mutant(
        "cost-cpu-first",
        "reid/claims/cost.py",
        'key=lambda d: (d == "cpu", d)',
        'key=lambda d: (d != "cpu", d)',
        CLAIMS,
    ),
    Mutant(
        "cost-bootstrap-mean",
        "reid/claims/cost.py",
        "ma = np.median(a[rng.integers(0, len(a), (BOOTSTRAP, len(a)))], axis=1)",
        "ma = np.mean(a[rng.integers(0, len(a), (BOOTSTRAP, len(a)))], axis=1)",
        CLAIMS,
    ),
    Mutant("curves-step-epoch-included", "reid/claims/curves.py", "if e < step]", "if e <= step]", CLAIMS),
    Mutant(
        "curves-latest-step",
        "reid/claims/curves.py",
        "step = min((s for s in (first_lr_step(curves)",
        "step = max((s for s in (first_lr_step(curves)",
        CLAIMS,
    ),
    Mutant(
        "declared-dataset-filter-ignored",
        "reid/claims/declared.py",
        "names = list(ran) if ALL in self.datasets else []",
        "names = list(ran)",
        CLAIMS,
    ),
    Mutant(
        "declared-cost-margin-key",
        "reid/claims/declared.py",
        'float(config["claims"]["cost_margin"])',
        'float(config["claims"]["tolerance"])',
        CLAIMS,
    ),
    # one home for every setting: a default written a second time, or missing from the schema
    Mutant(
        "second-home-seeds",
        "reid/targets.py",
        '    seeds = config["seeds"]\n    files',
        '    seeds = config.get("seeds") or [1, 2, 3]\n    files',
        CONFIG,
    ),
    Mutant(
        "second-home-cpu-jobs",
        "workflow/rules/common.smk",
        'config["cpu_jobs"] == "auto"',
        'config.get("cpu_jobs", "auto") == "auto"',
        CONFIG,
    ),
    Mutant(
        "schema-default-missing",
        "reid/resources/config.schema.yaml",
        "minimum: 1, default: 100, ",
        "minimum: 1, ",
        CONFIG,
    ),
    Mutant(
        "recipe-default-as-int",
        "reid/resources/config.schema.yaml",
        "triplet_weight: {type: number, minimum: 0, default: 1.0}",
        "triplet_weight: {type: number, minimum: 0, default: 1}",
        CONFIG,
    ),
    # checkpoints: the previous checkpoint, which one is read, the run key, the digest, eval mode
    Mutant(
        "ckpt-prev-discarded",
        "reid/checkpoints.py",
        'os.replace(path, path.with_suffix(".prev.pt"))',
        "path.unlink()",
        CHECKPOINTS,
    ),
    Mutant(
        "ckpt-older-first",
        "reid/checkpoints.py",
        'for path in (out / "checkpoint.pt", out / "checkpoint.prev.pt"):',
        'for path in (out / "checkpoint.prev.pt", out / "checkpoint.pt"):',
        CHECKPOINTS,
    ),
    Mutant(
        "ckpt-eval-batch-in-run-key",
        "reid/checkpoints.py",
        '"decode_workers", "eval_batch_size", "tensorboard")',
        '"decode_workers", "tensorboard")',
        CHECKPOINTS,
    ),
    Mutant(
        "ckpt-digest-ignores-variant",
        "reid/checkpoints.py",
        'json.dumps({"variant": variant, "config": config}',
        'json.dumps({"config": config}',
        CHECKPOINTS,
    ),
    Mutant(
        "ckpt-tensorboard-in-run-key",
        "reid/checkpoints.py",
        '"eval_batch_size", "tensorboard")',
        '"eval_batch_size")',
        CHECKPOINTS,
    ),
    Mutant("ckpt-not-eval", "reid/checkpoints.py", "    return model.eval()", "    return model", CHECKPOINTS),
    Mutant(
        "ckpt-unknown-config-keys",
        "reid/checkpoints.py",
        "TrainConfig(**{k: v for k, v in config.items() if k in names})",
        "TrainConfig(**config)",
        CHECKPOINTS,
    ),
    Mutant(
        "ckpt-resume-root-absolute",
        "reid/checkpoints.py",
        "if root and not out.is_absolute() else out",
        "if root else out",
        CHECKPOINTS,
        harmless="pathlib joins an absolute path to the root as the absolute path itself, so the condition only says so explicitly",
    ),
    # the model card: a withdrawal left out, the plain metrics shown as re-ranked, any card read back
    Mutant("card-withdrawal-dropped", "reid/card.py", '"withdrawn": withdrawal_of(name),', '"withdrawn": "",', CARD),
    Mutant(
        "card-plain-metrics-as-reranked",
        "reid/card.py",
        '"with_rerank": metric_facts(reranked) if reranked else None,',
        '"with_rerank": metric_facts(metrics) if reranked else None,',
        CARD,
    ),
    Mutant(
        "card-read-any-weights",
        "reid/card.py",
        'return facts if facts["model"]["weights_sha256"] == weights_sha256 else None',
        "return facts",
        CARD,
    ),
)


def names() -> list[str]:
    return [m.name for m in MUTANTS]


def working_copy(into: Path) -> None:
    """The tracked and untracked (not ignored) files of the working tree, copied into ``into``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        src = ROOT / os.fsdecode(raw)
        if src.is_file():
            dst = into / os.fsdecode(raw)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def run_mutant(mutant: Mutant, copy: Path) -> tuple[str, float]:
    """'caught' or 'survived' (or 'broken': the mutant's text is not in its file), and seconds."""
    path = copy / mutant.file
    original = path.read_text()
    if original.count(mutant.old) != 1:
        return f"broken: the text occurs {original.count(mutant.old)} times in {mutant.file}", 0.0
    path.write_text(original.replace(mutant.old, mutant.new))
    env = dict(os.environ, PYTHONPATH=str(copy), CI="")  # the copy's package, not the installed one
    started = time.time()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not torchreid"]
            + list(mutant.tests),
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        path.write_text(original)
    # 1: a test failed; 2 with a failure named: pytest-xdist's way of stopping at the first
    # failure (-x); anything else (5: no test ran, a wrong test path; 2: a collection error)
    # says nothing about the mutant
    if done.returncode == 0:
        outcome = "survived"
    elif done.returncode == 1 or (done.returncode == 2 and "\nFAILED " in done.stdout):
        outcome = "caught"
    else:
        outcome = f"error (pytest exit {done.returncode}: {done.stdout.strip().splitlines()[-1:]})"
    return outcome, time.time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:32} {m.file}: {m.old.strip()!r} -> {m.new.strip()!r}")
        return 0
    unknown = sorted(set(args.names) - set(names()))
    if unknown:
        parser.error(f"unknown mutant(s) {', '.join(unknown)}; see --list")
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    failed = []
    with tempfile.TemporaryDirectory(prefix="reid-mutants-") as tmp:
        copy = Path(tmp)
        working_copy(copy)
        for mutant in chosen:
            outcome, seconds = run_mutant(mutant, copy)
            shown = "harmless" if outcome == "survived" and mutant.harmless else outcome
            print(f"{shown:10} {seconds:6.1f} s  {mutant.name}" + (f"  ({mutant.harmless})" if mutant.harmless else ""))
            if outcome != "caught" and not (outcome == "survived" and mutant.harmless):
                failed.append(mutant.name)
    print(
        f"{len(chosen) - len(failed)} of {len(chosen)} caught or harmless"
        + (f"; not: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
