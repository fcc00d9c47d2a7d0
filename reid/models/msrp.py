"""This module holds the paper's model family: a ResNet backbone and four heads (baseline, avg,
max, residual).

These are the shapes for resnet50 at 288x144 with last stride 1 (as in the paper and BoT):
    layer3 -> (N, 1024, 18, 9)      layer4 -> (N, 2048, 18, 9)
    scale 1: global pooling of layer3   Pavg1, Pmax1: (N, 1024)
    scale 2: global pooling of layer4   Pavg2, Pmax2: (N, 2048)
    scale 3: 2x2 pooling of layer4      Pavg3, Pmax3: (N, 2048, 2, 2)

Equation (1), the residual pooling module, per scale:
    Pcont = delta1x1(Pmax) + delta1x1(Pavg - Pmax)
Each delta is its own 1x1 convolution to the unified dimension (512 by default) followed by
BN and ReLU (``reduce_act``). Then each Pcont goes through a BNNeck (BN, its shift frozen at
zero, as in BoT) and its own identity classifier. The retrieval embedding is the concatenation
of the three post-BN features (``embedding: post_bn``; ``pre_bn`` takes them before the BN).

These are the choices where the paper is silent; all are configurable (see ``build_model`` / configs):
- unified dimension 512 (``reduce_dim``): with three scales and three 751-way classifiers the
  residual model has 31.07 M parameters against the paper's 30.55 M (Table 4), and ResNet50
  without its classifier 23.51 M as in the paper; a test checks this.
- scale 3 keeps its 2x2 cells after the 1x1 convs (512 x 2 x 2, flattened to 2048 for its
  BNNeck and classifier): pooling to 2x2 "to reduce the information loss" would be undone by
  collapsing it again. ``flatten_scale3=False`` global-pools the 2x2 map after the convs instead.
- delta = 1x1 conv + BN + ReLU (the reduction layer of MGN and most multi-branch re-ID nets;
  a purely linear delta makes equation (1) a linear mix of Pmax and Pavg).
  ``reduce_act``: ``bn_relu`` | ``bn`` | ``none``.
- the triplet loss of equation (2) sees the six pooled backbone features (Pavg3/Pmax3
  flattened to 8192-d), as the paper's text says; ``triplet_on: pooled | fused`` switches it to
  the fused post-delta features instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reid.models.pooling import adaptive_pool2d


class BNNeck(nn.Module):
    """This puts a BN before the classifier (Luo et al., BoT). The triplet sees the feature before
    it and the classifier sees the normalised one; the BN's shift is frozen at zero."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.bn.bias.requires_grad_(False)
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feat = self.bn(x)
        return feat, (self.classifier(feat) if self.training else None)


def reduction(in_dim: int, out_dim: int, act: str) -> nn.Sequential:
    """This is delta_1x1 of equation (1): a 1x1 convolution to the unified dimension."""
    layers: list[nn.Module] = [nn.Conv2d(in_dim, out_dim, kernel_size=1, bias=(act == "none"))]
    if act in ("bn", "bn_relu"):
        layers.append(nn.BatchNorm2d(out_dim))
    if act == "bn_relu":
        layers.append(nn.ReLU(inplace=True))
    nn.init.kaiming_normal_(layers[0].weight, mode="fan_out", nonlinearity="relu")
    return nn.Sequential(*layers)


class ResidualPooling(nn.Module):
    """This computes equation (1), Pcont = delta(Pmax) + delta(Pavg - Pmax), with one delta per branch."""

    def __init__(self, in_dim: int, out_dim: int, act: str):
        super().__init__()
        self.delta_max = reduction(in_dim, out_dim, act)
        self.delta_diff = reduction(in_dim, out_dim, act)

    def forward(self, p_avg: torch.Tensor, p_max: torch.Tensor) -> torch.Tensor:
        return residual_pooling(p_avg, p_max, self.delta_max, self.delta_diff)


def residual_pooling(p_avg, p_max, delta_max, delta_diff):
    """Compute equation (1) of the paper, written out."""
    return delta_max(p_max) + delta_diff(p_avg - p_max)


class SinglePooling(nn.Module):
    """This is the avg and max ablations: delta(Pavg) or delta(Pmax) alone."""

    def __init__(self, in_dim: int, out_dim: int, act: str, which: str):
        super().__init__()
        self.which = which
        self.delta = reduction(in_dim, out_dim, act)

    def forward(self, p_avg: torch.Tensor, p_max: torch.Tensor) -> torch.Tensor:
        return self.delta(p_avg if self.which == "avg" else p_max)


class MultiScalePooling(nn.Module):
    """This holds heads ``avg``, ``max`` and ``residual``: three scales, with one fusion module,
    BNNeck and classifier per scale."""

    def __init__(
        self,
        backbone: nn.Module,
        channels: tuple[int, int],
        num_classes: int,
        variant: str,
        reduce_dim: int = 512,
        reduce_act: str = "bn_relu",
        flatten_scale3: bool = True,
        embedding: str = "post_bn",
        triplet_on: str = "pooled",
    ):
        super().__init__()
        self.backbone = backbone
        self.variant = variant
        self.embedding = embedding
        self.triplet_on = triplet_on
        self.flatten_scale3 = flatten_scale3
        c3, c4 = channels
        in_dims = (c3, c4, c4)
        if variant == "residual":
            self.fusion = nn.ModuleList(ResidualPooling(d, reduce_dim, reduce_act) for d in in_dims)
        else:
            self.fusion = nn.ModuleList(SinglePooling(d, reduce_dim, reduce_act, variant) for d in in_dims)
        out_dims = (reduce_dim, reduce_dim, reduce_dim * 4 if flatten_scale3 else reduce_dim)
        self.necks = nn.ModuleList(BNNeck(d, num_classes) for d in out_dims)

    def pooled(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Return (Pavg_i, Pmax_i) for the three scales, kept as (N, C, h, w) maps for the 1x1 convs."""
        f3, f4 = self.backbone(x)
        return [
            (adaptive_pool2d(f3, 1, "avg"), adaptive_pool2d(f3, 1, "max")),  # Pavg1, Pmax1
            (adaptive_pool2d(f4, 1, "avg"), adaptive_pool2d(f4, 1, "max")),  # Pavg2, Pmax2
            (adaptive_pool2d(f4, 2, "avg"), adaptive_pool2d(f4, 2, "max")),  # Pavg3, Pmax3
        ]

    def heads(self, x: torch.Tensor):
        """Return the pooled pairs, the fused features (Pcont_i) and (post-BN feature, logits) per scale."""
        pooled = self.pooled(x)
        fused = []
        for i, ((p_avg, p_max), fuse) in enumerate(zip(pooled, self.fusion)):
            p_cont = fuse(p_avg, p_max)
            if i == 2 and not self.flatten_scale3:
                p_cont = F.adaptive_avg_pool2d(p_cont, 1)
            fused.append(p_cont.flatten(1))
        return pooled, fused, [neck(f) for neck, f in zip(self.necks, fused)]

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Return the identity logits averaged over the three classifiers, in any mode; Grad-CAM explains them."""
        necked = self.heads(x)[2]  # In eval mode a BNNeck skips its classifier, so it is applied here.
        return torch.stack([neck.classifier(feat) for neck, (feat, _) in zip(self.necks, necked)]).mean(0)

    def forward(self, x: torch.Tensor):
        pooled, fused, necked = self.heads(x)
        if not self.training:
            parts = [n[0] for n in necked] if self.embedding == "post_bn" else fused
            return torch.cat(parts, dim=1)
        if self.triplet_on == "fused":
            triplet_feats = fused
        elif self.variant == "residual":
            # Equation (2) puts the triplet on the six basic features Pavg1, Pmax1, ..., Pavg3, Pmax3.
            triplet_feats = [p.flatten(1) for pair in pooled for p in pair]
        else:
            k = 0 if self.variant == "avg" else 1
            triplet_feats = [pair[k].flatten(1) for pair in pooled]
        return {"triplet": triplet_feats, "logits": [n[1] for n in necked]}


class PlainBaseline(nn.Module):
    """This is ResNet50_baseline as the paper's numbers suggest: layer4 global average pooling -> one
    linear classifier, softmax cross-entropy only (no BNNeck, no triplet). It is the IDE-style
    baseline that many papers of 2017-2018 compared against. The retrieval feature is the pooled 2048-d vector."""

    def __init__(self, backbone: nn.Module, channels: tuple[int, int], num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Linear(channels[1], num_classes)

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Identity logits, in any mode."""
        return self.classifier(F.adaptive_avg_pool2d(self.backbone(x)[1], 1).flatten(1))

    def forward(self, x: torch.Tensor):
        gap = F.adaptive_avg_pool2d(self.backbone(x)[1], 1).flatten(1)
        if not self.training:
            return gap
        return {"triplet": [], "logits": [self.classifier(gap)]}


class Baseline(nn.Module):
    """This is ResNet50_baseline of Table 2: layer4 global average pooling -> BNNeck -> classifier (BoT)."""

    def __init__(self, backbone: nn.Module, channels: tuple[int, int], num_classes: int, embedding: str = "post_bn"):
        super().__init__()
        self.backbone = backbone
        self.embedding = embedding
        self.neck = BNNeck(channels[1], num_classes)

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Identity logits, in any mode."""
        feat, _ = self.neck(F.adaptive_avg_pool2d(self.backbone(x)[1], 1).flatten(1))
        return self.neck.classifier(feat)

    def forward(self, x: torch.Tensor):
        _, f4 = self.backbone(x)
        gap = F.adaptive_avg_pool2d(f4, 1).flatten(1)
        feat, logits = self.neck(gap)
        if not self.training:
            return feat if self.embedding == "post_bn" else gap
        return {"triplet": [gap], "logits": [logits]}
