"""The written-out adaptive pooling that exports use must be PyTorch's adaptive pooling, cell
for cell, including the overlapping cells of a side that the grid does not divide (layer4's 9
columns at 288x144)."""

import pytest
import torch
import torch.nn.functional as F

from reid.models.pooling import adaptive_pool2d, cell_bounds


def test_cell_bounds_overlap_where_the_grid_does_not_divide_the_side():
    assert cell_bounds(9, 2) == [(0, 5), (4, 9)]
    assert cell_bounds(18, 2) == [(0, 9), (9, 18)]
    assert cell_bounds(7, 1) == [(0, 7)]
    assert cell_bounds(5, 3) == [(0, 2), (1, 4), (3, 5)]


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("shape", [(18, 9), (4, 2), (5, 7), (2, 2), (3, 1)])
def test_written_out_pooling_equals_pytorchs(kind, size, shape):
    x = torch.randn(3, 4, *shape, generator=torch.Generator().manual_seed(0))
    want = F.adaptive_avg_pool2d(x, size) if kind == "avg" else F.adaptive_max_pool2d(x, size)
    got = adaptive_pool2d(x, size, kind, explicit=True)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6 if kind == "avg" else 0)


def test_outside_an_export_the_model_keeps_pytorchs_own_kernels(monkeypatch):
    """Training and evaluation must stay bit for bit what they were: only an export writes cells out."""
    calls = []
    monkeypatch.setattr(F, "adaptive_max_pool2d", lambda x, size: calls.append(size) or x.amax((2, 3), keepdim=True))
    adaptive_pool2d(torch.zeros(1, 1, 4, 4), 1, "max")
    assert calls == [1]
