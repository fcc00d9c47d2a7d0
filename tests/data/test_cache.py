import numpy as np
import pytest
import torch
from PIL import Image

from reid.data.cache import cached_images, decode
from reid.data.market import DatasetError, Sample


def _images(tmp_path, n=5):
    samples = []
    for i in range(n):
        path = tmp_path / f"{i + 1:04d}_c1s1_000000_00.jpg"
        Image.fromarray(np.full((20, 10, 3), (i * 40) % 256, np.uint8)).save(path, quality=100)
        samples.append(Sample(str(path), i + 1, 1))
    return samples


def test_decode_and_cache_roundtrip(tmp_path):
    samples = _images(tmp_path)
    first = cached_images(samples, "set-train", 8, 4, tmp_path / "cache", workers=1)
    assert first.shape == (5, 3, 8, 4) and first.dtype == torch.uint8
    assert abs(int(first[3].float().mean()) - 120) <= 2
    files = list((tmp_path / "cache").glob("*.npy"))
    assert [f.name for f in files] == ["set-train-8x4.npy"]
    # the second call reads the cache: make decoding impossible to prove it
    for s in samples:
        (tmp_path / s.path).unlink()
    torch.testing.assert_close(cached_images(samples, "set-train", 8, 4, tmp_path / "cache"), first)


def test_parallel_decode_equals_serial(tmp_path):
    samples = _images(tmp_path, n=300)  # more than one chunk of 256
    serial = cached_images(samples, "a", 8, 4, None, workers=1)
    parallel = cached_images(samples, "b", 8, 4, None, workers=2)
    torch.testing.assert_close(serial, parallel)


def test_damaged_cache_is_rebuilt(tmp_path):
    samples = _images(tmp_path)
    first = cached_images(samples, "k", 8, 4, tmp_path / "cache", workers=1)
    (tmp_path / "cache" / "k-8x4.npy").write_bytes(b"garbage")
    torch.testing.assert_close(cached_images(samples, "k", 8, 4, tmp_path / "cache", workers=1), first)


def test_corrupt_image_names_the_file(tmp_path):
    samples = _images(tmp_path, n=2)
    open(samples[1].path, "wb").write(b"not a jpeg")
    with pytest.raises(DatasetError, match="0002_c1s1_000000_00.jpg"):
        decode(samples[1].path, 8, 4)
