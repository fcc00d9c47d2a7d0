import torch

from reid.data.augment import normalize
from reid.features import extract_features
from reid.runtime import Runtime


def _asymmetric_model():
    """A linear map of the whole image: it sees left from right and top from bottom."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 2, 5))


def test_flip_averages_the_image_and_its_mirror_image():
    model = _asymmetric_model()
    images = torch.randint(0, 256, (7, 3, 4, 2), dtype=torch.uint8)
    x = normalize(images)
    mirrored = x.flip(3)  # left-right: the width axis of (N, C, H, W)
    with torch.no_grad():
        plain, of_mirror = model(x), model(mirrored)
        assert not torch.allclose(of_mirror, model(x.flip(2)))  # upside down differs: the test can tell them apart
    runtime = Runtime.resolve("cpu")
    got = extract_features(model, images, runtime, batch_size=3, flip=True)
    torch.testing.assert_close(got, (plain + of_mirror) / 2)
    torch.testing.assert_close(extract_features(model, images, runtime, batch_size=3), plain)


def test_extraction_leaves_the_models_mode_as_it_was():
    model = _asymmetric_model().train()
    extract_features(model, torch.zeros(2, 3, 4, 2, dtype=torch.uint8), Runtime.resolve("cpu"))
    assert model.training
    assert (
        extract_features(model.eval(), torch.zeros(0, 3, 4, 2, dtype=torch.uint8), Runtime.resolve("cpu")).numel() == 0
    )
    assert not model.training
