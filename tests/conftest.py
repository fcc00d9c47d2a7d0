import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest -n N (the README's test command runs one worker per core): N workers each with
    # torch's default of every core would fight over the cores
    import torch

    torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """The slow tests first: with one worker per core each takes one of them early, instead of
    one worker finishing alone with the longest at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept otherwise


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """The tiny synthetic set, rendered once per test session."""
    from reid.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("data") / "synthetic", size="tiny", seed=0, workers=1, progress=False)


@pytest.fixture(scope="session")
def tiny(tiny_synthetic):
    """The tiny synthetic set, parsed."""
    from reid.data import load_market_layout

    return load_market_layout(tiny_synthetic, name="synthetic")


@pytest.fixture(scope="session")
def one_epoch_models(tiny, tmp_path_factory):
    """model.pt files of avg, max and residual: one epoch of ResNet10 at 64x32 (about a second
    each on a CPU). Read them; write edited copies elsewhere."""
    from reid.config import TrainConfig
    from reid.train import train

    tmp = tmp_path_factory.mktemp("models")
    cfg = TrainConfig(
        backbone="resnet10",
        pretrained="none",
        height=64,
        width=32,
        batch_size=8,
        num_instances=2,
        epochs=1,
        eval_every=0,
        cache_dir=str(tmp / "cache"),
        progress=False,
        decode_workers=1,
        warmup_epochs=1,
        milestones=[1],
        base_lr=0.01,
        device="cpu",
        reduce_dim=32,
    )
    for variant in ("avg", "max", "residual"):
        train(cfg, tiny, variant, seed=0, out=tmp / variant)
    return {variant: tmp / variant / "model.pt" for variant in ("avg", "max", "residual")}
