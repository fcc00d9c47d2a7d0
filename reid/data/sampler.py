"""PK sampling (Hermans et al.; BoT's RandomIdentitySampler): each batch holds P identities
with K images each, so that every anchor of the batch-hard triplet has positives."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def pk_batches(labels, num_instances: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Yield one epoch of batches of indices into ``labels``.

    Each identity's images are shuffled and cut into groups of K (an identity with fewer than K
    images is sampled with replacement up to K; a remainder smaller than K is dropped); batches
    take P = batch_size / K identities at random among those with groups left.
    """
    if batch_size % num_instances:
        raise ValueError(f"batch_size {batch_size} is not a multiple of num_instances {num_instances}")
    p = batch_size // num_instances
    by_label: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(np.asarray(labels).tolist()):
        by_label[label].append(index)
    if len(by_label) < p:
        raise ValueError(f"{len(by_label)} identities in the training set but a batch needs P = {p}")
    groups: dict[int, list[np.ndarray]] = {}
    for label in sorted(by_label):
        idx = np.asarray(by_label[label])
        if len(idx) < num_instances:
            idx = rng.choice(idx, size=num_instances, replace=True)
        idx = rng.permutation(idx)
        n = len(idx) // num_instances
        groups[label] = [idx[i * num_instances : (i + 1) * num_instances] for i in range(n)]
    available = [label for label in sorted(groups) if groups[label]]
    batches = []
    while len(available) >= p:
        chosen = rng.choice(len(available), size=p, replace=False)
        picked = [available[i] for i in chosen]
        batches.append(np.concatenate([groups[label].pop() for label in picked]))
        available = [label for label in available if groups[label]]
    return batches
