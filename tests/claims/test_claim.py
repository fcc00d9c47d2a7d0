"""The family-wise adjustment of the verdicts and sizes (reid/claims/claim.py)."""

from reid.claims import Claim, adjust_family_wise


def _size_row(verdict, p_value, size, size_p_value):
    row = Claim("C2", "residual vs baseline", "d", "mAP", 23.0, verdict=verdict, p_value=p_value, kind="size")
    row.size, row.size_p_value = size, size_p_value
    return row


def test_each_call_is_adjusted_by_its_own_p_value():
    """A verdict and a size of one row are two tests, each with its p-value. In a family of two,
    Holm's bounds are 0.05 / 2 for the smaller p-value and 0.05 for the larger: a clear direction
    (p 0.001) is kept and a doubtful size (p 0.3) is not, and the other way round."""
    clear_direction = _size_row("supported", 0.001, "smaller", 0.3)
    adjust_family_wise([clear_direction])
    assert clear_direction.verdict_adjusted == "supported" and clear_direction.size_adjusted == "inconclusive"
    clear_size = _size_row("inconclusive", 0.6, "as_claimed", 0.001)
    adjust_family_wise([clear_size])
    assert clear_size.verdict_adjusted == "inconclusive" and clear_size.size_adjusted == "as_claimed"
