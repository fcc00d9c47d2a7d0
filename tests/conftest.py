import pytest


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """The tiny synthetic set, rendered once per test session."""
    from reid.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("data") / "synthetic", size="tiny", seed=0, workers=1, progress=False)
