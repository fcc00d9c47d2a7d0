"""This package draws the paper's figures: Figure 4 (ranked lists), Figure 5 (learning curves) and
Figure 6 (Grad-CAM).

``python -m reid figure ranked-lists`` / ``python -m reid figure gradcam`` call these; the
report draws Figure 5 from the training logs.

* ``ranked_lists`` is Figure 4 ("Person re-identification results of the proposed method"):
  each row is a query image followed by its top 10 gallery results; the paper marks correct
  results with a solid border and wrong ones with a dotted one. Here solid green marks the same
  identity as the query, dashed red marks another identity, and an empty cell means that no
  candidate is left (the query's junk removed, fewer than 10 gallery images). It reads the ``per_query.npz``
  that ``reid.evaluate`` writes. The paper does not say how its queries were picked; ours are
  spread over the AP distribution (evenly spaced quantiles, best first) so that the figure
  shows the model's failures as well as its successes.

* ``learning_curves`` is Figure 5 ("Accuracy and loss values comparison among different
  methods"): R1, mAP and loss per epoch of avg, max and residual, the mean over seeds with a
  min-max band.

* ``gradcam_grid`` is Figure 6 ("Visualization results of different methods. (a): input
  images; (b): avg method; (c): max method; (d): residual method"): one row of input images,
  then one row of Grad-CAM overlays per model (rows in the order of ``checkpoints``), on the
  same query images in every row. Grad-CAM (Selvaraju et al.) is taken at the last block of
  the backbone's layer4, for the identity logits averaged over the model's classifiers.

Each figure has its own module (``ranked_lists``, ``curves``, ``gradcam``) and is drawn on
``canvas``, which uses matplotlib through its Agg canvas without pyplot and writes PNGs atomically.
This package exports the torch-free figures only, because Figure 4's job and the report import it
and must not load torch (tests/test_startup.py), so Figure 6's functions are imported from ``reid.figures.gradcam``.
"""

from reid.figures.curves import learning_curves
from reid.figures.ranked_lists import (
    CORRECT,
    CORRECT_COLOR,
    EMPTY,
    PER_QUERY_KEYS,
    WRONG,
    WRONG_COLOR,
    load_per_query,
    ranked_lists,
    result_marks,
    select_queries,
)

__all__ = [
    "CORRECT",
    "CORRECT_COLOR",
    "EMPTY",
    "PER_QUERY_KEYS",
    "WRONG",
    "WRONG_COLOR",
    "learning_curves",
    "load_per_query",
    "ranked_lists",
    "result_marks",
    "select_queries",
]
