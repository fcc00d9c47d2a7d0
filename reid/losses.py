"""This module computes equation (2): L = 1/6 sum_i triplet(P_i) + 1/3 sum_j CE(Pcont_j).

It is written for any number of features, so that every variant uses it: the mean of a batch-hard triplet loss over the features
the model hands to the triplet (six for residual, three for avg/max, one for the baseline)
plus the mean of a label-smoothed cross-entropy over its classifiers (three, or one).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def euclidean_dist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return pairwise euclidean distances, clamped before the root so that its gradient stays finite."""
    x, y = x.float(), y.float()
    xx = x.pow(2).sum(1, keepdim=True)
    yy = y.pow(2).sum(1, keepdim=True).t()
    return (xx + yy - 2 * x @ y.t()).clamp(min=1e-12).sqrt()


def batch_hard_triplet(
    features: torch.Tensor, labels: torch.Tensor, margin: float = 0.3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return Hermans et al.'s batch-hard triplet loss, which takes for each anchor the farthest
    positive and the nearest negative in the batch, with a hinge at ``margin``. It also returns the
    fraction of anchors whose hardest negative is already beyond the hardest positive, as a
    training-accuracy signal."""
    dist = euclidean_dist(features, features)
    same = labels[:, None] == labels[None, :]
    hardest_pos = dist.masked_fill(~same, float("-inf")).max(dim=1).values
    hardest_neg = dist.masked_fill(same, float("inf")).min(dim=1).values
    loss = F.relu(hardest_pos - hardest_neg + margin).mean()
    return loss, (hardest_neg > hardest_pos).float().mean()


def label_smoothed_ce(logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 0.1) -> torch.Tensor:
    """Return the cross-entropy against (1 - eps) * one_hot + eps / K (Szegedy et al.; BoT's form)."""
    return F.cross_entropy(logits.float(), labels, label_smoothing=epsilon)


def paper_loss(
    outputs: dict,
    labels: torch.Tensor,
    margin: float = 0.3,
    epsilon: float = 0.1,
    triplet_weight: float = 1.0,
    ce_weight: float = 1.0,
) -> dict:
    """Compute equation (2). ``outputs`` is a model's train-mode output {"triplet": [...], "logits": [...]}.

    It returns the total and its parts; the parts are detached for logging, and ``total`` keeps its graph.
    """
    triplets = [batch_hard_triplet(f, labels, margin) for f in outputs["triplet"]]
    # This is 1/6 sum over Pavg1 ... Pmax3; the plain baseline has none, since it uses softmax alone.
    l_triplet = torch.stack([t[0] for t in triplets]).mean() if triplets else outputs["logits"][0].new_zeros(())
    l_ce = torch.stack(
        [label_smoothed_ce(z, labels, epsilon) for z in outputs["logits"]]
    ).mean()  # 1/3 sum over Pcont1..3
    total = triplet_weight * l_triplet + ce_weight * l_ce
    with torch.no_grad():
        acc = torch.stack([(z.argmax(1) == labels).float().mean() for z in outputs["logits"]]).mean()
    return {"total": total, "triplet": l_triplet.detach(), "ce": l_ce.detach(), "accuracy": acc}
