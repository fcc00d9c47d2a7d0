import os

import numpy as np
import pytest
import torch
from PIL import Image

from reid.data import DatasetError, Sample
from reid.figures import (
    CORRECT,
    CORRECT_COLOR,
    EMPTY,
    WRONG,
    WRONG_COLOR,
    load_per_query,
    ranked_lists,
    result_marks,
    select_queries,
)
from reid.figures.gradcam import gradcam_grid, gradcam_maps, load_models, select_query_images

VARIANTS = ("avg", "max", "residual")


@pytest.fixture(scope="module")
def model_files(one_epoch_models):
    return one_epoch_models


def _png(path):
    with Image.open(path) as img:
        img.load()
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"))


def _color_pixels(image, hex_color, tol=6):
    rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image.astype(int) - rgb).max(axis=2) <= tol).sum())


def _nothing_but(folder, *names):
    assert sorted(os.listdir(folder)) == sorted(names)  # no output, no temporary file left behind


def _per_query(tiny, path, rows):
    """A per_query.npz for the tiny set with hand-made ranked lists: rows = {query index: top10}."""
    nq = len(tiny.query)
    top10 = np.full((nq, 10), -1, dtype=np.int64)
    first_hit = np.full(nq, -1, dtype=np.int64)
    ap = np.zeros(nq)
    for q, (row, value) in rows.items():
        top10[q, : len(row)] = row
        first_hit[q] = 0
        ap[q] = value
    np.savez(
        path,
        ap=ap,
        first_hit=first_hit,
        q_pids=np.array([s.pid for s in tiny.query]),
        q_camids=np.array([s.camid for s in tiny.query]),
        top10=top10,
        g_pids=np.array([s.pid for s in tiny.gallery]),
        g_camids=np.array([s.camid for s in tiny.gallery]),
        q_paths=np.array([os.path.relpath(s.path, tiny.root) for s in tiny.query]),
        g_paths=np.array([os.path.relpath(s.path, tiny.root) for s in tiny.gallery]),
    )
    return path


def _matches(tiny, q):
    return [i for i, g in enumerate(tiny.gallery) if g.pid == tiny.query[q].pid and g.camid != tiny.query[q].camid]


def _non_matches(tiny, q):
    return [i for i, g in enumerate(tiny.gallery) if g.pid != tiny.query[q].pid]


# ------------------------------------------------------------------------------ Figure 4


def test_select_queries_spans_the_ap_distribution_and_skips_skipped():
    ap = np.array([0.5, 0.9, 0.1, 1.0, 0.3, 0.7, 0.2, 0.0, 0.6, 0.4, 0.8])
    first_hit = np.array([2, 0, 9, 0, 4, -1, 5, 20, 1, 3, -1])
    chosen = select_queries(ap, first_hit, 4)
    valid = first_hit >= 0
    assert list(chosen) == list(select_queries(ap, first_hit, 4))  # deterministic
    assert len(chosen) == 4 and len(set(chosen)) == 4
    assert not set(chosen) & {5, 10}  # skipped queries never shown
    assert ap[chosen[0]] == ap[valid].max() and ap[chosen[-1]] == ap[valid].min()  # best and worst both shown
    assert list(ap[chosen]) == sorted(ap[chosen], reverse=True)
    # a middle row sits in the middle of the distribution, not next to the best
    assert 0.3 <= ap[chosen[1]] <= 0.6
    # fewer valid queries than rows: all of them, best first
    assert list(select_queries(ap, first_hit, 50)) == [3, 1, 8, 0, 9, 4, 6, 2, 7]
    # ties keep query order
    assert list(select_queries(np.array([0.5, 0.5, 0.5]), np.zeros(3, int), 2)) == [0, 2]
    with pytest.raises(ValueError, match="skipped"):
        select_queries(ap, np.full(len(ap), -1), 3)
    with pytest.raises(ValueError):
        select_queries(ap, first_hit, 0)


def test_result_marks_follow_pids_and_pads():
    g_pids = np.array([7, 7, 3, 0, 5])
    top10 = np.array([[0, 2, 1, 3, -1], [4, 3, 2, -1, -1]])
    marks = result_marks(top10, np.array([7, 5]), g_pids)
    assert marks.tolist() == [[CORRECT, WRONG, CORRECT, WRONG, EMPTY], [CORRECT, WRONG, WRONG, EMPTY, EMPTY]]
    # a distractor (pid 0) is never a match, whatever the query
    assert result_marks(np.array([[3]]), np.array([0]) + 1, g_pids).tolist() == [[WRONG]]


def test_ranked_lists_renders_marks_and_rows(tmp_path, tiny):
    q = next(i for i in range(len(tiny.query)) if _matches(tiny, i))
    other = next(i for i in range(len(tiny.query)) if i != q)
    good = _per_query(
        tiny,
        tmp_path / "good.npz",
        {
            q: (_matches(tiny, q)[:1] + _non_matches(tiny, q)[:4], 0.8),  # 1 correct, 4 wrong, 5 empty
            other: (_non_matches(tiny, other)[:10], 0.1),
        },
    )
    bad = _per_query(tiny, tmp_path / "bad.npz", {q: (_non_matches(tiny, q)[:10], 0.1)})

    one_row = _png(ranked_lists(bad, tiny.root, tmp_path / "bad.png", num_queries=6))
    two_rows = _png(ranked_lists(good, tiny.root, tmp_path / "good.png", num_queries=6, title="tiny"))
    # 11 image columns side by side, one row per query: wide, and a row adds the same height
    assert one_row.shape[1] == two_rows.shape[1] > 800
    assert one_row.shape[1] > one_row.shape[0]
    assert 150 < two_rows.shape[0] - one_row.shape[0] < 300
    # the correct result's solid green border is drawn; where every result is wrong only the legend is green
    # and ten dashed red borders are drawn
    assert _color_pixels(one_row, CORRECT_COLOR) < 300
    assert _color_pixels(two_rows, CORRECT_COLOR) > _color_pixels(one_row, CORRECT_COLOR) + 1000
    assert _color_pixels(one_row, WRONG_COLOR) > 10 * 500
    _nothing_but(tmp_path, "good.npz", "bad.npz", "bad.png", "good.png")


def test_ranked_lists_from_an_evaluation(tmp_path, tiny, model_files):
    from reid.evaluate import evaluate_checkpoint

    evaluate_checkpoint(model_files["residual"], tiny, tmp_path / "ev", device="cpu", cache_dir=None)
    per_query = tmp_path / "ev" / "per_query.npz"
    arrays = load_per_query(per_query)
    image = _png(ranked_lists(per_query, tiny.root, tmp_path / "fig" / "ranked.png", num_queries=3))
    assert image.shape[1] > image.shape[0] > 300
    chosen = select_queries(arrays["ap"], arrays["first_hit"], 3)
    assert len(chosen) == 3 and arrays["ap"][chosen[0]] >= arrays["ap"][chosen[-1]]


def test_missing_image_is_a_clear_error_and_writes_nothing(tmp_path, tiny):
    q = next(i for i in range(len(tiny.query)) if _matches(tiny, i))
    per_query = _per_query(tiny, tmp_path / "pq.npz", {q: (_matches(tiny, q), 0.5)})
    (tmp_path / "empty").mkdir()
    (tmp_path / "out").mkdir()
    with pytest.raises(DatasetError, match=r"does not exist.*dataset the model was evaluated on") as err:
        ranked_lists(per_query, tmp_path / "empty", tmp_path / "out" / "ranked.png")
    assert os.path.relpath(tiny.query[q].path, tiny.root) in str(err.value)
    _nothing_but(tmp_path / "out")


def test_per_query_without_required_keys_is_a_value_error(tmp_path, tiny):
    np.savez(tmp_path / "pq.npz", ap=np.zeros(2), first_hit=np.zeros(2, int))
    with pytest.raises(ValueError, match="top10") as err:
        ranked_lists(tmp_path / "pq.npz", tiny.root, tmp_path / "ranked.png")
    assert "g_paths" in str(err.value) and "ap," not in str(err.value)
    (tmp_path / "junk.npz").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="cannot read"):
        load_per_query(tmp_path / "junk.npz")
    _nothing_but(tmp_path, "pq.npz", "junk.npz")


def test_failed_save_leaves_nothing_at_out(tmp_path, tiny, monkeypatch):
    from matplotlib.figure import Figure

    q = next(i for i in range(len(tiny.query)) if _matches(tiny, i))
    per_query = _per_query(tiny, tmp_path / "pq.npz", {q: (_matches(tiny, q), 0.5)})

    def broken_savefig(self, fname, **kw):
        with open(fname, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    (tmp_path / "out").mkdir()
    with pytest.raises(OSError, match="disk full"):
        ranked_lists(per_query, tiny.root, tmp_path / "out" / "ranked.png")
    _nothing_but(tmp_path / "out")


# ------------------------------------------------------------------------------ Figure 6


def test_select_query_images_distinct_pids_spread_and_deterministic():
    query = [Sample(f"q{i}.jpg", pid, 1) for i, pid in enumerate([4, 4, 9, 2, 2, 2, 7, 1, 1, 5, 3, 3])]
    chosen = select_query_images(query, 3)
    assert chosen == select_query_images(query, 3)
    assert [query[i].pid for i in chosen] == [4, 7, 3]  # first, middle and last identity of the list
    assert len({query[i].pid for i in select_query_images(query, 5)}) == 5
    everyone = select_query_images(query, 100)
    assert [query[i].pid for i in everyone] == [4, 9, 2, 7, 1, 5, 3]
    with pytest.raises(ValueError):
        select_query_images([], 3)


def test_gradcam_maps_differ_between_models_and_leave_them_untouched(tiny, model_files, monkeypatch):
    import pytorch_grad_cam

    import reid.figures.gradcam
    from reid.data.cache import decode

    # keep every GradCAM object alive: its hooks must be released explicitly, not by garbage collection
    alive = []

    class KeptGradCAM(pytorch_grad_cam.GradCAM):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            alive.append(self)

    monkeypatch.setattr(reid.figures.gradcam, "GradCAM", KeptGradCAM)  # the name the module calls

    loaded = load_models(model_files)
    assert list(loaded.models) == list(VARIANTS) and (loaded.height, loaded.width) == (64, 32)
    chosen = select_query_images(tiny.query, 4)
    images = np.stack([decode(tiny.query[i].path, loaded.height, loaded.width) for i in chosen])
    before = {label: {k: v.clone() for k, v in m.state_dict().items()} for label, m in loaded.models.items()}

    maps = gradcam_maps(loaded.models, images)
    assert list(maps) == list(VARIANTS)
    for label, cams in maps.items():
        assert cams.shape == (len(chosen), 64, 32) and cams.dtype == np.float32
        assert np.isfinite(cams).all() and cams.min() >= 0 and cams.max() <= 1 + 1e-5
        assert cams.reshape(len(chosen), -1).max(1).max() > 0.5, label  # not all-zero maps
    for a, b in [("avg", "max"), ("avg", "residual"), ("max", "residual")]:
        assert np.abs(maps[a] - maps[b]).mean() > 1e-3, (a, b)
    # the same inputs give the same maps
    again = gradcam_maps(loaded.models, images)
    for label in VARIANTS:
        np.testing.assert_allclose(again[label], maps[label], atol=1e-5)

    assert len(alive) == 2 * len(VARIANTS)
    for label, model in loaded.models.items():
        assert not any(m.training for m in model.modules())  # eval mode, necks included
        assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())  # hooks released
        assert all(p.grad is None for p in model.parameters())
        after = model.state_dict()
        assert all(torch.equal(before[label][k], after[k]) for k in after)  # BN statistics not updated


def test_gradcam_grid_renders_one_row_per_model(tmp_path, tiny, model_files):
    three = _png(gradcam_grid(model_files, tiny, tmp_path / "cam3.png", num_images=4))
    two = _png(
        gradcam_grid({k: model_files[k] for k in ("avg", "residual")}, tiny, tmp_path / "cam2.png", num_images=4)
    )
    wide = _png(gradcam_grid({"residual": model_files["residual"]}, tiny, tmp_path / "wide.png", num_images=6))
    # 4 columns of 1:2 person images: taller than wide; one model less is one row (about 2 cell widths) less
    assert three.shape[0] > three.shape[1] and three.shape[1] == two.shape[1]
    cell = three.shape[0] - two.shape[0]
    assert 150 < cell < 250
    assert wide.shape[1] - three.shape[1] == pytest.approx(cell, abs=5)  # two columns more: about one cell height
    _nothing_but(tmp_path, "cam3.png", "cam2.png", "wide.png")


def test_models_of_different_input_sizes_are_rejected(tmp_path, tiny, model_files):
    from reid.checkpoints import weights_digest

    payload = torch.load(model_files["max"], weights_only=True)
    payload["config"]["height"], payload["config"]["width"] = 128, 64  # ResNet weights fit any size
    payload["weights_sha256"] = weights_digest(payload["variant"], payload["config"], payload["state_dict"])
    torch.save(payload, tmp_path / "model.pt")
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match=r"different input sizes.*avg 64x32.*max 128x64"):
        gradcam_grid({"avg": model_files["avg"], "max": tmp_path / "model.pt"}, tiny, tmp_path / "out" / "cam.png")
    _nothing_but(tmp_path / "out")
    with pytest.raises(ValueError, match="no checkpoints"):
        gradcam_grid({}, tiny, tmp_path / "out" / "cam.png")


def test_gradcam_explains_the_eval_mode_identity_logits():
    from reid.figures.gradcam import _class_score_module
    from reid.models import build_model

    for variant in ("baseline", "residual"):
        torch.manual_seed(0)
        model = build_model(variant, num_classes=5, backbone="resnet18").eval()
        x = torch.randn(2, 3, 64, 32)
        with torch.no_grad():
            scores = _class_score_module(model).eval()(x)
            # the logits of the training forward, BatchNorm on its running statistics
            model.train()
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                    m.eval()
            expected = torch.stack(model(x)["logits"]).mean(0)
        assert torch.allclose(scores, expected, atol=1e-6), variant
