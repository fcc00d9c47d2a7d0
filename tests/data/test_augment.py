import torch

from reid.data.augment import IMAGENET_MEAN, IMAGENET_STD, BatchAugment, normalize, seeded_generator


def _ramp(b=4, h=16, w=8):
    x = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w).expand(b, 3, h, w)
    return (x % 256).to(torch.uint8).contiguous()


def test_identity_settings_only_normalise():
    x = _ramp()
    out = BatchAugment(flip_prob=0.0, pad=0, erasing_prob=0.0)(x, seeded_generator(0))
    torch.testing.assert_close(out, normalize(x))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(out, (x.float() / 255 - mean) / std)


def test_flip_mirrors_each_selected_image():
    x = _ramp()
    out = BatchAugment(flip_prob=1.0, pad=0, erasing_prob=0.0)(x, seeded_generator(0))
    torch.testing.assert_close(out, normalize(x.flip(-1)))


def test_pad_crop_is_a_shift_with_black_border():
    x = torch.full((64, 3, 8, 4), 200, dtype=torch.uint8)
    out = BatchAugment(flip_prob=0.0, pad=2, erasing_prob=0.0)(x, seeded_generator(1))
    black = normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8))
    is_black = torch.isclose(out, black.expand_as(out)).all(1)
    assert is_black.any() and (~is_black).any()
    # a shift of at most 2 keeps at least (8 - 2) x (4 - 2) pixels of the image in each crop
    assert ((~is_black).flatten(1).sum(1) >= 6 * 2).all()


def test_erasing_fills_a_rectangle_with_the_mean_pixel():
    x = torch.full((256, 3, 32, 16), 255, dtype=torch.uint8)
    out = BatchAugment(flip_prob=0.0, pad=0, erasing_prob=0.5)(x, seeded_generator(2))
    erased = (out == 0).all(1)  # 0 after normalisation = the mean pixel
    frac_images = erased.flatten(1).any(1).float().mean().item()
    assert 0.35 < frac_images < 0.65
    for img in erased[erased.flatten(1).any(1)][:20]:
        rows, cols = img.any(1).nonzero().flatten(), img.any(0).nonzero().flatten()
        # a filled axis-aligned rectangle
        assert img[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        area = img.float().mean().item()
        assert 0.015 <= area <= 0.45


def test_same_seed_same_augmentation():
    x = torch.randint(0, 255, (8, 3, 32, 16), dtype=torch.uint8)
    aug = BatchAugment()
    torch.testing.assert_close(aug(x, seeded_generator(5, 1)), aug(x, seeded_generator(5, 1)))
    assert not torch.equal(aug(x, seeded_generator(5, 1)), aug(x, seeded_generator(5, 2)))
