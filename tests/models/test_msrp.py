import urllib.error

import pytest
import torch
import torchvision

from reid.models import PretrainedWeightsError, build_model
from reid.models.backbone import build_backbone
from reid.models.msrp import ResidualPooling, residual_pooling


@pytest.fixture(scope="module")
def residual50():
    torch.manual_seed(0)
    return build_model("residual", num_classes=751, backbone="resnet50")


def test_shapes_resnet50_288x144(residual50):
    x = torch.randn(2, 3, 288, 144)
    residual50.train()
    with torch.no_grad():
        f3, f4 = residual50.backbone(x)
        assert f3.shape == (2, 1024, 18, 9) and f4.shape == (2, 2048, 18, 9)  # last stride 1
        pooled = residual50.pooled(x)
        assert [tuple(p.shape[1:]) for pair in pooled for p in pair] == [
            (1024, 1, 1),
            (1024, 1, 1),
            (2048, 1, 1),
            (2048, 1, 1),
            (2048, 2, 2),
            (2048, 2, 2),
        ]
        p_cont = [fuse(a, m) for (a, m), fuse in zip(pooled, residual50.fusion)]
        assert [tuple(p.shape[1:]) for p in p_cont] == [(512, 1, 1), (512, 1, 1), (512, 2, 2)]
        out = residual50(x)
    assert [f.shape[1] for f in out["triplet"]] == [1024, 1024, 2048, 2048, 8192, 8192]
    assert [z.shape for z in out["logits"]] == [torch.Size([2, 751])] * 3
    residual50.eval()
    with torch.no_grad():
        assert residual50(x).shape == (2, 512 + 512 + 2048)


def test_parameter_count_matches_table4(residual50):
    trunk, _ = build_backbone("resnet50")
    n_trunk = sum(p.numel() for p in trunk.parameters()) / 1e6
    n_residual = sum(p.numel() for p in residual50.parameters()) / 1e6
    assert n_trunk == pytest.approx(23.51, abs=0.01)  # Table 4: ResNet50 without its classifier
    # Table 4: Residual 30.55 M. Our reading (512-d, scale 3 kept 2x2) gives 31.07 M.
    assert n_residual == pytest.approx(30.55, rel=0.03)


def test_equation_1_on_hand_built_tensor():
    module = ResidualPooling(in_dim=2, out_dim=2, act="none")
    with torch.no_grad():
        module.delta_max[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]).view(2, 2, 1, 1))
        module.delta_max[0].bias.zero_()
        module.delta_diff[0].weight.copy_(torch.tensor([[0.0, 1.0], [3.0, 0.0]]).view(2, 2, 1, 1))
        module.delta_diff[0].bias.copy_(torch.tensor([0.5, 0.0]))
    p_avg = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    p_max = torch.tensor([4.0, 3.0]).view(1, 2, 1, 1)
    # delta_max(Pmax) = [4, 6]; Pavg - Pmax = [-3, -1]; delta_diff = [-1 + 0.5, -9] -> Pcont = [3.5, -3]
    assert module(p_avg, p_max).flatten().tolist() == [3.5, -3.0]
    assert residual_pooling(p_avg, p_max, module.delta_max, module.delta_diff).flatten().tolist() == [3.5, -3.0]


@pytest.mark.parametrize("variant, n_triplet", [("baseline", 1), ("avg", 3), ("max", 3), ("residual", 6)])
def test_variants_resnet18(variant, n_triplet):
    model = build_model(variant, num_classes=5, backbone="resnet18")
    x = torch.randn(4, 3, 64, 32)
    out = model.train()(x)
    assert len(out["triplet"]) == n_triplet
    assert len(out["logits"]) == (1 if variant == "baseline" else 3)
    emb = model.eval()(x)
    # baseline: layer4's 512 channels; others: 512 + 512 + 512 x 2 x 2 (the unified dimension)
    assert emb.shape == (4, 512 if variant == "baseline" else 512 * 6)


def test_resnet10_is_resnet18_with_one_block_per_stage():
    """The CPU demo's backbone: the same stages, widths and strides as ResNet18, half the blocks."""
    from reid.models.backbone import build_backbone

    trunk10, channels10 = build_backbone("resnet10", last_stride=1)
    trunk18, channels18 = build_backbone("resnet18", last_stride=1)
    assert channels10 == channels18 == (256, 512)
    assert [len(getattr(trunk10, f"layer{i}")) for i in range(1, 5)] == [1, 1, 1, 1]
    x = torch.randn(2, 3, 64, 32)
    assert [f.shape for f in trunk10(x)] == [f.shape for f in trunk18(x)] == [(2, 256, 4, 2), (2, 512, 4, 2)]
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert 0.3 < count(trunk10) / count(trunk18) < 0.5
    with pytest.raises(PretrainedWeightsError, match="no ImageNet weights"):
        build_backbone("resnet10", pretrained="imagenet")


def test_avg_and_max_pick_their_pooling():
    torch.manual_seed(0)
    avg = build_model("avg", num_classes=3, backbone="resnet18", reduce_dim=8, triplet_on="pooled")
    x = torch.randn(2, 3, 64, 32)
    out = avg.train()(x)
    pooled = avg.pooled(x)
    torch.testing.assert_close(out["triplet"][0], pooled[0][0].flatten(1))
    mx = build_model("max", num_classes=3, backbone="resnet18", reduce_dim=8)
    mx.load_state_dict(avg.state_dict())
    torch.testing.assert_close(mx.train()(x)["triplet"][1], pooled[1][1].flatten(1))


def test_options_are_validated():
    with pytest.raises(ValueError, match="unknown variant"):
        build_model("mean", 10)
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model("avg", 10, backbone="vgg16")
    with pytest.raises(ValueError, match="reduce_act"):
        build_model("residual", 10, backbone="resnet18", reduce_act="gelu")
    with pytest.raises(ValueError, match="last_stride"):
        build_model("residual", 10, backbone="resnet18", last_stride=3)


def test_imagenet_offline_message_names_alternatives(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(PretrainedWeightsError, match=r"pretrained: none.*pretrained: PATH"):
        build_model("residual", 10, backbone="resnet18", pretrained="imagenet")


def test_pretrained_from_path(tmp_path):
    reference = torchvision.models.resnet18()
    path = tmp_path / "rn18.pth"
    torch.save(reference.state_dict(), path)
    model = build_model("baseline", 10, backbone="resnet18", pretrained=str(path))
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    with pytest.raises(PretrainedWeightsError, match="does not exist"):
        build_model("baseline", 10, backbone="resnet18", pretrained=str(tmp_path / "missing.pth"))
    torch.save({"foo": torch.zeros(1)}, path)
    with pytest.raises(PretrainedWeightsError, match="not a resnet18 state dict"):
        build_model("baseline", 10, backbone="resnet18", pretrained=str(path))


def test_cli_knows_the_same_variants():
    from reid.cli import VARIANTS as CLI_VARIANTS
    from reid.models import VARIANTS

    assert CLI_VARIANTS == tuple(VARIANTS)


def test_class_scores_are_the_training_logits():
    import torch

    from reid.models import build_model

    for variant in ("baseline", "avg", "residual"):
        torch.manual_seed(0)
        model = build_model(variant, num_classes=5, backbone="resnet18")
        x = torch.randn(2, 3, 64, 32)
        model.train()
        for m in model.modules():  # training forward, but with fixed BN statistics
            if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                m.eval()
        with torch.no_grad():
            expected = torch.stack(model(x)["logits"]).mean(0)
            scores = model.class_scores(x)
            model.eval()  # where Grad-CAM calls it: the same numbers
            eval_scores = model.class_scores(x)
        assert scores.shape == (2, 5)
        assert torch.allclose(scores, expected, atol=1e-6) and torch.allclose(eval_scores, expected, atol=1e-6)


def test_plain_baseline_is_softmax_on_the_pooled_feature():
    import torch

    from reid.losses import paper_loss
    from reid.models import build_model

    torch.manual_seed(0)
    model = build_model("plain_baseline", num_classes=5, backbone="resnet18")
    x, y = torch.randn(4, 3, 64, 32), torch.tensor([0, 0, 1, 1])
    out = model.train()(x)
    assert out["triplet"] == [] and len(out["logits"]) == 1 and out["logits"][0].shape == (4, 5)
    losses = paper_loss(out, y, epsilon=0.0)
    assert losses["triplet"] == 0 and losses["total"] == losses["ce"]
    assert losses["ce"] == torch.nn.functional.cross_entropy(out["logits"][0], y)
    losses["total"].backward()
    assert model.classifier.weight.grad is not None
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (4, 512)  # resnet18's pooled layer4
        assert torch.equal(model.class_scores(x), model.classifier(model(x)))
    with pytest.raises(ValueError, match="do not apply to the plain baseline"):
        build_model("plain_baseline", 5, backbone="resnet18", reduce_dim=64)


@pytest.mark.parametrize("variant", ["avg", "max", "residual"])
def test_each_head_fuses_its_own_pooling_with_hand_set_weights(variant):
    """Where the model calls its fusion module: with each 1x1 delta set to "keep channels 0-3,
    times a factor" (no BN, no ReLU), the fused feature of every scale is a known mix of that
    scale's Pavg and Pmax. Residual is delta_max(Pmax) + delta_diff(Pavg - Pmax) = 2 Pavg - Pmax
    with the factors 1 and 2; an argument swap would give 2 Pmax - Pavg, and would turn the avg
    ablation into the max one."""
    torch.manual_seed(0)
    model = build_model(variant, num_classes=5, backbone="resnet18", reduce_dim=4, reduce_act="none").eval()

    def keep_first_four(conv, factor):
        weight = torch.zeros_like(conv.weight)
        for c in range(4):
            weight[c, c] = factor
        conv.weight.copy_(weight)
        conv.bias.zero_()

    with torch.no_grad():
        for module in model.fusion:
            if variant == "residual":
                keep_first_four(module.delta_max[0], 1.0)
                keep_first_four(module.delta_diff[0], 2.0)
            else:
                keep_first_four(module.delta[0], 1.0)
        x = torch.randn(2, 3, 64, 32)
        pooled, fused, _ = model.heads(x)
    expected_mix = {
        "avg": lambda a, m: a,
        "max": lambda a, m: m,
        "residual": lambda a, m: 2 * a - m,
    }[variant]
    for (p_avg, p_max), got in zip(pooled, fused):
        assert not torch.allclose(p_avg, p_max)  # the scales' two poolings differ: the test can tell them apart
        torch.testing.assert_close(got, expected_mix(p_avg, p_max)[:, :4].flatten(1))


def test_the_bnneck_shift_is_frozen_at_zero():
    """BoT's BNNeck: the BN before each classifier learns its scale but not its shift, which
    stays at zero through training (an optimiser step on the loss leaves it there)."""
    from reid.losses import paper_loss

    torch.manual_seed(0)
    for variant in ("baseline", "residual"):
        options = {} if variant == "baseline" else {"reduce_dim": 8}
        model = build_model(variant, num_classes=3, backbone="resnet10", **options).train()
        necks = [model.neck] if variant == "baseline" else list(model.necks)
        assert all(not neck.bn.bias.requires_grad and neck.bn.weight.requires_grad for neck in necks)
        optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
        paper_loss(model(torch.randn(4, 3, 32, 16)), torch.tensor([0, 0, 1, 2]))["total"].backward()
        optimiser.step()
        assert all(torch.equal(neck.bn.bias, torch.zeros_like(neck.bn.bias)) for neck in necks)
        assert any(not torch.equal(neck.bn.weight, torch.ones_like(neck.bn.weight)) for neck in necks)


def _with_known_bn_statistics(necks):
    """Running statistics far from (0, 1), so that a feature before the BN and after it differ."""
    with torch.no_grad():
        for neck in necks:
            neck.bn.running_mean.uniform_(-1.0, 1.0)
            neck.bn.running_var.fill_(4.0)


@pytest.mark.parametrize("variant", ["avg", "residual"])
def test_the_embedding_is_the_post_bn_or_the_fused_features(variant):
    """``embedding: post_bn`` is the three scales' features after their BNNeck's BN, concatenated;
    ``pre_bn`` the fused features before it."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 16)
    for embedding in ("post_bn", "pre_bn"):
        model = build_model(variant, num_classes=3, backbone="resnet10", reduce_dim=8, embedding=embedding).eval()
        _with_known_bn_statistics(model.necks)
        with torch.no_grad():
            _, fused, _ = model.heads(x)
            after_bn = [neck.bn(f) for neck, f in zip(model.necks, fused)]
            expected = torch.cat(after_bn if embedding == "post_bn" else fused, dim=1)
            torch.testing.assert_close(model(x), expected)
            assert not torch.allclose(torch.cat(after_bn, 1), torch.cat(fused, 1), atol=1e-2)


def test_the_baseline_embedding_is_the_post_bn_or_the_pooled_feature():
    """The baseline's embedding: the pooled layer4 feature after its BNNeck's BN, or before it."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 16)
    for embedding in ("post_bn", "pre_bn"):
        model = build_model("baseline", num_classes=3, backbone="resnet10", embedding=embedding).eval()
        _with_known_bn_statistics([model.neck])
        with torch.no_grad():
            gap = torch.nn.functional.adaptive_avg_pool2d(model.backbone(x)[1], 1).flatten(1)
            expected = model.neck.bn(gap) if embedding == "post_bn" else gap
            torch.testing.assert_close(model(x), expected)
            assert not torch.allclose(model.neck.bn(gap), gap, atol=1e-2)


@pytest.mark.parametrize(
    "act, layers",
    [("bn_relu", ["Conv2d", "BatchNorm2d", "ReLU"]), ("bn", ["Conv2d", "BatchNorm2d"]), ("none", ["Conv2d"])],
)
def test_reduce_act_names_the_layers_of_each_delta(act, layers):
    """``reduce_act``: the 1x1 convolution followed by BN and ReLU, by BN alone, or by nothing
    (then with its own bias); only bn_relu clips the fused feature at zero."""
    from reid.models.msrp import reduction

    delta = reduction(4, 3, act)
    assert [type(layer).__name__ for layer in delta] == layers
    assert (delta[0].bias is not None) == (act == "none")
    torch.manual_seed(0)
    out = delta.train()(torch.randn(8, 4, 2, 2))
    assert (out.min() >= 0) == (act == "bn_relu")


def test_options_out_of_their_range_are_refused():
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        build_model("residual", 1, backbone="resnet10")
    with pytest.raises(ValueError, match="embedding='postbn'"):
        build_model("residual", 10, backbone="resnet10", embedding="postbn")
    with pytest.raises(ValueError, match="triplet_on='both'"):
        build_model("avg", 10, backbone="resnet10", triplet_on="both")
