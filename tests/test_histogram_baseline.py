"""The colour-histogram baseline (no learning) on the tiny synthetic set."""

from __future__ import annotations

import json
import math

from reid.histogram_baseline import colour_histogram_baseline


def test_colour_histogram_baseline_on_tiny(tiny_synthetic):
    tiny = tiny_synthetic
    res = colour_histogram_baseline(tiny)
    for key in ("mAP", "rank1", "rank5", "rank10"):
        assert math.isfinite(res[key]) and 0.0 <= res[key] <= 1.0, (key, res[key])
    assert res["rank1"] <= res["rank5"] <= res["rank10"]
    marker = json.loads((tiny / ".reid_dataset.json").read_text())
    assert res["num_query"] == marker["counts"]["query"]["images"]
    assert res["num_gallery"] == marker["counts"]["bounding_box_test"]["images"]
