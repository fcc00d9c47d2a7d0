"""python -m reid search: each query's gallery ranked with the suite's own distance and
re-ranking, written as a CSV and a picture per query."""

import csv
from pathlib import Path

import numpy as np
import torch

from reid.cli import main
from reid.evaluate import DISTANCES
from reid.rerank import k_reciprocal_from_features
from reid.search import ranked


def test_ranking_is_the_suites_distance_blockwise_and_its_re_ranking(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    queries, gallery = torch.randn(7, 16, generator=generator), torch.randn(40, 16, generator=generator)
    whole = DISTANCES["euclidean"](queries, gallery)
    monkeypatch.setattr("reid.search.QUERY_BLOCK", 3)  # three blocks: 3, 3 and 1 queries
    order, values = ranked(queries, gallery, 5, rerank=False)
    assert np.array_equal(order, torch.argsort(whole, dim=1)[:, :5].numpy())
    assert np.allclose(values, torch.sort(whole, dim=1).values[:, :5].numpy())
    order, values = ranked(queries, gallery, 50, rerank=True)  # top beyond the gallery: the whole gallery
    reranked = torch.as_tensor(k_reciprocal_from_features(queries, gallery))
    assert order.shape == (7, 40) and np.array_equal(order, torch.argsort(reranked, dim=1).numpy())


def test_search_writes_each_querys_ranked_gallery_and_picture(tmp_path, tiny, one_epoch_models, capsys):
    query = tiny.query[0].path
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for s in tiny.gallery[:12]:
        (gallery / Path(s.path).name.upper()).write_bytes(Path(s.path).read_bytes())
    argv = ["search", "--model", str(one_epoch_models["residual"]), "--query", str(query), "--gallery", str(gallery)]
    assert main([*argv, "--top", "5", "--device", "cpu", "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "ranked.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4, 5] and all(r["query"] == str(query) for r in rows)
    distances = [float(r["distance"]) for r in rows]
    assert distances == sorted(distances) and len({r["gallery"] for r in rows}) == 5
    pictures = list((tmp_path / "out" / "ranked").glob("*.png"))
    assert len(pictures) == 1 and pictures[0].read_bytes()[:4] == b"\x89PNG"
    assert main([*argv, "--rerank", "--device", "cpu", "--out", str(tmp_path / "rr")]) == 0
    with open(tmp_path / "rr" / "ranked.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 10
