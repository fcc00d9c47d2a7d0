import math

import pytest
import torch

from reid.losses import batch_hard_triplet, label_smoothed_ce, paper_loss


def test_batch_hard_triplet_by_hand():
    # 1-d features: ids a = {0, 1}, b = {3, 10}
    feats = torch.tensor([[0.0], [1.0], [3.0], [10.0]])
    labels = torch.tensor([0, 0, 1, 1])
    loss, acc = batch_hard_triplet(feats, labels, margin=0.3)
    # anchor 0: pos 1, neg 3 -> 0; anchor 1: pos 1, neg 2 -> 0; anchor 2: pos 7, neg 2 -> 5.3;
    # anchor 3: pos 7, neg 9 -> 0
    assert loss.item() == pytest.approx(5.3 / 4, abs=1e-5)
    assert acc.item() == pytest.approx(3 / 4)


def test_label_smoothing_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    labels = torch.tensor([0])
    logp = torch.log_softmax(logits, 1)[0]
    eps, k = 0.1, 3
    expected = -((1 - eps) * logp[0] + eps / k * logp.sum())
    assert label_smoothed_ce(logits, labels, eps).item() == pytest.approx(expected.item(), rel=1e-6)


def test_equation_2_by_hand():
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    feats = [torch.randn(6, d) for d in (4, 4, 8, 8, 16, 16)]
    logits = [torch.randn(6, 3) for _ in range(3)]
    out = paper_loss({"triplet": feats, "logits": logits}, labels)

    def triplet(f):
        total = 0.0
        for i in range(6):
            d = [math.dist(f[i].tolist(), f[j].tolist()) for j in range(6)]
            pos = max(d[j] for j in range(6) if labels[j] == labels[i])
            neg = min(d[j] for j in range(6) if labels[j] != labels[i])
            total += max(0.0, pos - neg + 0.3)
        return total / 6

    def ce(z):
        total = 0.0
        for i in range(6):
            logp = torch.log_softmax(z[i], 0)
            total += -(0.9 * logp[labels[i]] + 0.1 / 3 * logp.sum()).item()
        return total / 6

    expected = sum(triplet(f) for f in feats) / 6 + sum(ce(z) for z in logits) / 3
    assert out["total"].item() == pytest.approx(expected, rel=1e-5)
    assert out["triplet"].item() == pytest.approx(sum(triplet(f) for f in feats) / 6, rel=1e-5)


def test_loss_has_gradient():
    f = torch.randn(4, 5, requires_grad=True)
    z = torch.randn(4, 2, requires_grad=True)
    out = paper_loss({"triplet": [f], "logits": [z]}, torch.tensor([0, 0, 1, 1]))
    out["total"].backward()
    assert f.grad is not None and z.grad is not None and torch.isfinite(f.grad).all()


@pytest.mark.parametrize("margin, expected", [(0.3, 5.3 / 4), (1.0, 6.0 / 4), (2.0, 8.0 / 4)])
def test_equation_2_uses_the_margin_it_is_given(margin, expected):
    # the by-hand example above: hardest positive - hardest negative per anchor is -2, -1, 5, -2
    feats = torch.tensor([[0.0], [1.0], [3.0], [10.0]])
    labels = torch.tensor([0, 0, 1, 1])
    logits = torch.zeros(4, 2)
    out = paper_loss({"triplet": [feats, feats], "logits": [logits]}, labels, margin=margin)
    assert out["triplet"].item() == pytest.approx(expected, abs=1e-5)


def test_equation_2_uses_the_smoothing_and_weights_it_is_given():
    labels = torch.tensor([0, 1])
    logits = torch.tensor([[2.0, 0.0], [0.5, 1.0]])
    feats = torch.tensor([[0.0], [1.0]])
    plain = torch.nn.functional.cross_entropy(logits, labels)
    out = paper_loss({"triplet": [feats], "logits": [logits]}, labels, epsilon=0.0, triplet_weight=0.0, ce_weight=2.0)
    assert out["ce"].item() == pytest.approx(plain.item(), rel=1e-6)
    assert out["total"].item() == pytest.approx(2 * plain.item(), rel=1e-6)
    smoothed = paper_loss({"triplet": [feats], "logits": [logits]}, labels, epsilon=0.4)
    expected = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.4)
    assert smoothed["ce"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_defaults_are_bots_margin_and_smoothing():
    """Called without them, the triplet's margin is 0.3 and the smoothing 0.1 (BoT's values)."""
    feats = torch.tensor([[0.0], [1.0], [3.0], [10.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert batch_hard_triplet(feats, labels)[0].item() == pytest.approx(5.3 / 4, abs=1e-5)  # the example above
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    logp = torch.log_softmax(logits, 1)[0]
    assert label_smoothed_ce(logits, torch.tensor([0])).item() == pytest.approx(
        -(0.9 * logp[0] + 0.1 / 3 * logp.sum()).item(), rel=1e-6
    )


def test_a_collapsed_embedding_separates_no_anchor_and_keeps_a_finite_gradient():
    """Every feature the same (as at a bad start): each hardest negative is as near as the hardest
    positive, so no anchor counts as separated and the loss is the margin; the distance's root
    is clamped, so the gradient at distance 0 is finite, not NaN."""
    feats = torch.ones(4, 3, requires_grad=True)
    loss, separated = batch_hard_triplet(feats, torch.tensor([0, 0, 1, 1]), margin=0.3)
    assert separated.item() == 0.0
    assert loss.item() == pytest.approx(0.3, abs=1e-5)
    loss.backward()
    assert torch.isfinite(feats.grad).all()
    # duplicates inside an otherwise spread batch: the zero distances between them as well
    spread = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0], [2.0, 0.0]], requires_grad=True)
    batch_hard_triplet(spread, torch.tensor([0, 0, 1, 1]))[0].backward()
    assert torch.isfinite(spread.grad).all()


def test_the_accuracy_is_the_classifiers_mean_top_1():
    """The training accuracy: per classifier, the fraction of samples whose highest logit is their
    label, then the mean over the classifiers (2/4 and 4/4 here)."""
    labels = torch.tensor([0, 1, 2, 0])
    half_right = torch.tensor([[3.0, 0.0, 1.0], [0.0, 2.0, 1.0], [2.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    all_right = torch.tensor([[3.0, 0.0, 1.0], [0.0, 2.0, 1.0], [0.0, 1.0, 2.0], [5.0, 0.0, 0.0]])
    out = paper_loss({"triplet": [], "logits": [half_right, all_right]}, labels)
    assert out["accuracy"].item() == pytest.approx(0.75)
