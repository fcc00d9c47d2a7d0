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


def test_euclidean_distances_in_blocks_are_the_whole_matrix_expression_to_the_bit(monkeypatch):
    """The sums are finished a block of rows at a time, to hold one matrix instead of three; every
    element must still come out of the same operations in the same order."""
    import reid.features
    from reid.features import euclidean_distances

    g = torch.Generator().manual_seed(0)
    q, gal = torch.randn(37, 16, generator=g), torch.randn(101, 16, generator=g)
    whole = (q.pow(2).sum(1, keepdim=True) + gal.pow(2).sum(1)[None, :] - 2 * q @ gal.t()).clamp(min=0).sqrt()
    monkeypatch.setattr(reid.features, "_DISTANCE_BLOCK_ELEMS", 3 * 101 + 5)  # blocks of 3 rows, the last of 1
    assert torch.equal(euclidean_distances(q, gal), whole)


def test_cosine_distances_finished_in_place_are_one_minus_the_similarity_to_the_bit():
    import torch.nn.functional as F

    from reid.features import cosine_distances

    g = torch.Generator().manual_seed(1)
    q, gal = torch.randn(37, 16, generator=g), torch.randn(101, 16, generator=g)
    assert torch.equal(cosine_distances(q, gal), 1 - F.normalize(q, dim=1) @ F.normalize(gal, dim=1).t())
