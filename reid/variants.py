"""The variants of the paper's Table 2. Their names are the config schema's (its ``variants``
list, the default); what each is, is said here, in DESCRIPTIONS.

Torch-free, so that the CLI parser, the workflow's rules and the config schema's test can
import it without loading a network. ``residual+rerank`` (Table 2's last row) is not a variant:
it is residual's models evaluated with k-reciprocal re-ranking.
"""

from reid.config import default

# Every variant is listed in the paper's order, as the config schema's list has them.
VARIANTS = tuple(default("variants"))
# This says in one line what each variant is; a model card (reid.card) opens with it, beside the
# name of the paper's row (reid.paper.PAPER_ROWS).
DESCRIPTIONS = {
    "baseline": (
        "ResNet50_baseline read as BoT's head: layer4, global average pooling, BNNeck, triplet and "
        "label-smoothed cross-entropy (the faithful reading of the paper's four tricks)"
    ),
    "plain_baseline": (
        "ResNet50_baseline read as the paper's numbers suggest (64.67 mAP on Market-1501, far below BoT's "
        "85.9): an IDE-style head, layer4 global average pooling and one linear classifier trained by "
        "softmax cross-entropy alone"
    ),
    "avg": "the multi-scale head with average pooling only",
    "max": "the multi-scale head with max pooling only",
    "residual": "the multi-scale head with the residual pooling module, equation (1)",
}
# A run folder named <variant>+rerank holds that variant's re-ranked evaluation.
RERANK_SUFFIX = "+rerank"
RERANKED = "residual" + RERANK_SUFFIX  # This is Table 2's last row.
# A run that re-evaluates another run's models maps to that run, so that the two are compared seed
# by seed.
SAME_MODELS = {RERANKED: "residual"}


# Readings of the paper that need trainings of their own (the workflow's ``readings`` target):
# name -> what it is, the train: keys it changes, and the variants it retrains. Their results
# are under results/<dataset>/readings/<name>/<variant>/seed<N>/.
TRAINING_READINGS = {
    "triplet_fused": {
        "words": "triplet on the fused features (BoT's arrangement)",
        "train": {"triplet_on": "fused"},  # The default, "pooled", reads equation (2) literally.
        "variants": ("avg", "max", "residual"),
    },
}


def table_rows(variants) -> list[str]:
    """Return Table 2's rows for a config's variants: each variant, then residual re-ranked."""
    variants = list(variants)
    return variants + ([RERANKED] if "residual" in variants else [])
