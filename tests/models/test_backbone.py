"""The trunk's pretrained weights from a local file: which state dicts are taken, which refused."""

import pytest
import torch
import torchvision

from reid.models import PretrainedWeightsError, build_model


def test_a_wrapped_re_id_checkpoint_gives_its_trunk(tmp_path):
    """A state dict as re-ID code saves it, under "model", with DataParallel's "module." prefix
    and a classifier of its own size (751 identities, not ImageNet's 1,000): the trunk's weights
    are taken and the classifier is left out."""
    reference = torchvision.models.resnet18(num_classes=751)
    wrapped = {"model": {f"module.{k}": v for k, v in reference.state_dict().items()}, "epoch": 120}
    torch.save(wrapped, tmp_path / "reid.pth")
    model = build_model("baseline", 10, backbone="resnet18", pretrained=str(tmp_path / "reid.pth"))
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    torch.testing.assert_close(model.backbone.stem[0].weight, reference.conv1.weight)


def test_a_state_dict_that_lacks_part_of_the_trunk_is_refused(tmp_path):
    """Weights for only some of the layers would leave the rest at random: refused, naming them."""
    state = {k: v for k, v in torchvision.models.resnet18().state_dict().items() if not k.startswith("layer4.")}
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(PretrainedWeightsError, match=r"missing \['layer4"):
        build_model("baseline", 10, backbone="resnet18", pretrained=str(tmp_path / "partial.pth"))
