"""snakemake cross (workflow/rules/cross.smk): every model trained on one dataset of the config is
evaluated on the other, end to end on two tiny synthetic sets, and the next run's claims and
report show the cross-dataset rows beside the same-dataset ones."""

import json
import re

import pytest
import yaml

from reid.data import synthetic
from tests.test_workflow import ROOT, TINY, job_counts, snakemake


def test_the_cross_target_of_the_benchmarks_config_makes_the_evaluations_the_readme_states(tmp_path):
    plan = snakemake(tmp_path, "-n", f"--configfile={ROOT / 'configs' / 'benchmarks.yaml'}", "cross")
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = job_counts(plan.stdout + plan.stderr)
    assert counts["cross_evaluate"] == 3 * 2 * 5 * 3  # three datasets, each on the other two; 5 variants, 3 seeds
    stated = re.findall(r"the benchmarks config: (\d+) cross-dataset evaluations", (ROOT / "README.md").read_text())
    assert stated == [str(counts["cross_evaluate"])]


@pytest.mark.slow(seconds=45)
def test_snakemake_cross_evaluates_each_model_on_the_other_dataset_and_the_report_shows_it(tmp_path):
    # a second tiny set, rendered with another seed: other people, other images
    other = synthetic.generate(tmp_path / "elsewhere" / "other", size="tiny", seed=1, workers=1, progress=False)
    config = dict(TINY, datasets={"synthetic": {"size": "tiny"}, "other": {"path": str(other)}})
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(tmp_path, "-n", f"--configfile={tmp_path / 'two.yaml'}", "cross")
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = job_counts(plan.stdout + plan.stderr)
    assert counts["cross_evaluate"] == 2 * len(TINY["variants"]) * len(TINY["seeds"])  # both ways
    assert counts["train"] == 2 * len(TINY["variants"]) and "report" not in counts  # not the default run
    done = snakemake(tmp_path, "--cores", "2", f"--configfile={tmp_path / 'two.yaml'}", "cross")
    assert done.returncode == 0, done.stderr[-3000:]
    for trained_on, evaluated_on in (("synthetic", "other"), ("other", "synthetic")):
        for variant in TINY["variants"]:
            metrics = json.loads(
                (
                    tmp_path / "results" / "cross" / trained_on / evaluated_on / variant / "seed1" / "metrics.json"
                ).read_text()
            )
            assert metrics["dataset"] == evaluated_on and metrics["checkpoint_dataset"] == trained_on
            status = json.loads((tmp_path / "results" / evaluated_on / "dataset.json").read_text())
            assert metrics["num_query"] == status["counts"]["query"]["images"]  # the evaluated set's own test split
    done = snakemake(tmp_path, "--cores", "2", f"--configfile={tmp_path / 'two.yaml'}")
    assert done.returncode == 0, done.stderr[-3000:]
    claims = (tmp_path / "report" / "claims.csv").read_text()
    assert "C1,residual vs avg,synthetic→other,mAP," in claims and "C1,residual vs avg,other→synthetic,mAP," in claims
    page = (tmp_path / "report" / "index.html").read_text()
    assert "Cross-dataset evaluation" in page and "synthetic → other" in page
