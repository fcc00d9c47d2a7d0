"""``build_model`` is the one way the suite makes a network, so that every job builds it alike."""

from __future__ import annotations

from torch import nn

from reid.models.backbone import CHANNELS, PretrainedWeightsError, build_backbone
from reid.models.msrp import Baseline, MultiScalePooling, PlainBaseline, residual_pooling
from reid.variants import VARIANTS

__all__ = ["build_model", "VARIANTS", "CHANNELS", "PretrainedWeightsError", "residual_pooling"]


def build_model(
    variant: str,
    num_classes: int,
    backbone: str = "resnet50",
    pretrained: str = "none",
    last_stride: int = 1,
    **options,
) -> nn.Module:
    """Build a re-ID network. In train mode its forward returns {"triplet": [...], "logits": [...]};
    in eval mode it returns the retrieval embedding (N, D).

    The options are ``reduce_dim`` (512), ``reduce_act`` (bn_relu | bn | none), ``flatten_scale3`` (True),
    ``embedding`` (post_bn | pre_bn), ``triplet_on`` (pooled | fused); see reid/models/msrp.py.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant '{variant}': choose one of {', '.join(VARIANTS)}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    trunk, channels = build_backbone(backbone, pretrained, last_stride)
    if variant == "plain_baseline":
        if options:
            raise ValueError(f"options {sorted(options)} do not apply to the plain baseline")
        return PlainBaseline(trunk, channels, num_classes)
    if variant == "baseline":
        unknown = set(options) - {"embedding"}
        if unknown:
            raise ValueError(f"options {sorted(unknown)} do not apply to the baseline")
        return Baseline(trunk, channels, num_classes, **options)
    _check_options(options)
    return MultiScalePooling(trunk, channels, num_classes, variant, **options)


def _check_options(options: dict) -> None:
    allowed = {
        "reduce_dim": None,
        "flatten_scale3": None,
        "reduce_act": ("bn_relu", "bn", "none"),
        "embedding": ("post_bn", "pre_bn"),
        "triplet_on": ("pooled", "fused"),
    }
    for key, value in options.items():
        if key not in allowed:
            raise ValueError(f"unknown model option '{key}': choose from {', '.join(allowed)}")
        if allowed[key] is not None and value not in allowed[key]:
            raise ValueError(f"model option {key}={value!r}: choose one of {', '.join(allowed[key])}")
    if "reduce_dim" in options and (not isinstance(options["reduce_dim"], int) or options["reduce_dim"] < 1):
        raise ValueError(f"reduce_dim must be a positive integer, got {options['reduce_dim']!r}")
