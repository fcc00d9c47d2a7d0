import collections

import numpy as np
import pytest

from reid.data.sampler import pk_batches


def test_pk_batches_structure():
    labels = np.repeat(np.arange(10), [9, 4, 4, 5, 3, 8, 4, 4, 1, 6])
    batches = pk_batches(labels, num_instances=4, batch_size=16, rng=np.random.default_rng(0))
    assert batches and all(len(b) == 16 for b in batches)
    for b in batches:
        counts = collections.Counter(labels[b].tolist())
        assert len(counts) == 4 and set(counts.values()) == {4}  # P = 4 identities x K = 4
    # identities with >= K images contribute floor(n / K) groups; fewer than K are padded to K
    used = collections.Counter(labels[np.concatenate(batches)].tolist())
    assert sum(used.values()) == 16 * len(batches)
    flat = np.concatenate(batches)
    for label in (0, 5):  # no image of an identity with >= K images appears twice in an epoch
        idx = flat[labels[flat] == label]
        assert len(set(idx.tolist())) == len(idx)


def test_pk_batches_deterministic_for_a_seed():
    labels = np.repeat(np.arange(12), 6)
    a = pk_batches(labels, 4, 16, np.random.default_rng(3))
    b = pk_batches(labels, 4, 16, np.random.default_rng(3))
    c = pk_batches(labels, 4, 16, np.random.default_rng(4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_pk_batches_errors():
    with pytest.raises(ValueError, match="multiple"):
        pk_batches(np.arange(8), 3, 16, np.random.default_rng(0))
    with pytest.raises(ValueError, match="needs P = 4"):
        pk_batches(np.repeat(np.arange(3), 4), 4, 16, np.random.default_rng(0))
