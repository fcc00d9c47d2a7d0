"""This module builds ResNet trunks from torchvision, cut after layer4, with the last-stride option.

Last stride 1 (BoT, and the paper's 18x9 layer4 maps at 288x144) doubles layer4's spatial
size at the same parameter count.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import torchvision

# torchvision is imported where a network is built, because its import (most of it
# torch._dynamo, through torchvision.ops) is a large share of a short job's start-up and is
# wasted on the jobs that build no network (an evaluation with the training's features, the
# data job, the report): `python -X importtime -m reid ...` shows its cost on a machine

CHANNELS = {"resnet10": (256, 512), "resnet18": (256, 512), "resnet34": (256, 512), "resnet50": (1024, 2048)}
# ImageNet weights come through torchvision's weights API; V1 is chosen because BoT and the paper's era used it.
WEIGHTS = {
    "resnet18": "ResNet18_Weights.IMAGENET1K_V1",
    "resnet34": "ResNet34_Weights.IMAGENET1K_V1",
    "resnet50": "ResNet50_Weights.IMAGENET1K_V1",
}


class PretrainedWeightsError(RuntimeError):
    pass


def resnet10(weights=None) -> torchvision.models.ResNet:
    """Build ResNet18 with one BasicBlock per stage instead of two. It keeps the same four stages,
    strides and widths (layer3 256-d, layer4 512-d) at about half the compute and 44% of the
    parameters. No ImageNet weights exist for it, so the default CPU demo trains it from scratch."""
    import torchvision

    if weights is not None:
        raise ValueError("resnet10 has no published weights")
    return torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1])


def _resnet(name: str) -> torchvision.models.ResNet:
    import torchvision

    return resnet10() if name == "resnet10" else getattr(torchvision.models, name)(weights=None)


class ResNetTrunk(nn.Module):
    """This is a torchvision ResNet without avgpool/fc; its forward returns (layer3, layer4) outputs."""

    def __init__(self, resnet: torchvision.models.ResNet, last_stride: int = 1):
        import torchvision

        super().__init__()
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4
        if last_stride not in (1, 2):
            raise ValueError(f"last_stride must be 1 or 2, got {last_stride}")
        first = self.layer4[0]
        # The strided conv is conv2 in a Bottleneck (torchvision's v1.5) and conv1 in a BasicBlock.
        strided = first.conv2 if isinstance(first, torchvision.models.resnet.Bottleneck) else first.conv1
        strided.stride = (last_stride, last_stride)
        if first.downsample is not None:
            first.downsample[0].stride = (last_stride, last_stride)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.layer2(self.layer1(self.stem(x)))
        f3 = self.layer3(x)
        return f3, self.layer4(f3)


def _load_state_dict(path: Path) -> dict:
    try:  # With weights_only, a file of pickled objects is refused, never executed.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise PretrainedWeightsError(
            f"cannot load {path} as weights ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}): "
            "give a state dict saved with torch.save(model.state_dict(), PATH), or pretrained: none"
        ) from err
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise PretrainedWeightsError(f"{path} does not hold a state dict")
    return {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}


def build_backbone(
    name: str = "resnet50", pretrained: str = "none", last_stride: int = 1
) -> tuple[ResNetTrunk, tuple[int, int]]:
    """Build a trunk; ``pretrained`` is ``imagenet`` (torchvision's weights API), ``none``, or a path to a state dict."""
    import torchvision

    if name not in CHANNELS:
        raise ValueError(f"unknown backbone '{name}': choose one of {', '.join(CHANNELS)}")
    if pretrained == "imagenet" and name not in WEIGHTS:
        raise PretrainedWeightsError(f"{name} has no ImageNet weights: use pretrained: none or a local state dict")
    if pretrained == "imagenet":
        try:
            resnet = getattr(torchvision.models, name)(weights=WEIGHTS[name])
        except Exception as err:  # No network, a proxy and a broken cache all end the same way.
            raise PretrainedWeightsError(
                f"could not get torchvision's ImageNet weights for {name} ({type(err).__name__}: {err}). "
                f"On a machine without internet use pretrained: none (train from scratch) or "
                f"pretrained: PATH (a local state dict, e.g. torchvision's {name} .pth file, copied here)."
            ) from err
    else:
        resnet = _resnet(name)
        if pretrained not in ("none", "", None):
            path = Path(os.path.expanduser(str(pretrained)))
            if not path.is_file():
                raise PretrainedWeightsError(
                    f"pretrained weights file {path} does not exist; use pretrained: imagenet, none or an existing PATH"
                )
            state = _load_state_dict(path)
            missing, unexpected = resnet.load_state_dict(state, strict=False)
            missing = [k for k in missing if not k.startswith("fc.")]
            if missing or unexpected:
                raise PretrainedWeightsError(
                    f"{path} is not a {name} state dict: missing {missing[:5]}, unexpected {unexpected[:5]}"
                )
    return ResNetTrunk(resnet, last_stride), CHANNELS[name]
