"""kill -9 of a training job, then a rerun of the workflow: resumes and ends exactly where an
uninterrupted run ends (two trials here; ``python tools/faults.py --trials 10`` for the ten)."""

import pytest

from tools.faults import run_trials


@pytest.mark.slow(seconds=55)  # with the uninterrupted reference run (conftest), if it is first to ask
def test_killed_training_resumes_to_the_same_result(tmp_path, uninterrupted_run):
    lines = []
    trials = run_trials(2, seed=3, workdir=tmp_path, log=lines.append, reference=uninterrupted_run())
    assert all(t.killed for t in trials), lines
    assert all(t.rerun_ok and t.metrics_equal and t.weights_equal for t in trials), lines
    assert all(t.passed for t in trials), lines
