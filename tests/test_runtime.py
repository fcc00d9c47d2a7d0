"""reid.runtime: the precision and device each job runs with, checked on the CPU by faking the
GPU's properties (which CUDA branch a card of each generation takes)."""

import pytest
import torch

from reid import runtime
from reid.runtime import DeviceError, Runtime, autocast_dtype

CUDA = torch.device("cuda")


@pytest.mark.parametrize(
    "card, capability, expected",
    [
        ("P100", (6, 0), torch.float16),
        ("V100", (7, 0), torch.float16),
        ("T4 / RTX 2080", (7, 5), torch.float16),
        ("A100", (8, 0), torch.bfloat16),
        ("RTX 3090", (8, 6), torch.bfloat16),
        ("H100", (9, 0), torch.bfloat16),
    ],
)
def test_auto_precision_follows_the_cards_compute_capability(monkeypatch, card, capability, expected):
    """bf16 only where it runs natively (sm80 on); older cards get fp16 even though
    torch.cuda.is_bf16_supported() says yes there (it emulates bf16)."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert autocast_dtype(CUDA) == expected, card


def _fake_gpu(monkeypatch, capability):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)


def test_auto_on_an_old_gpu_is_fp16_with_a_gradient_scaler(monkeypatch):
    _fake_gpu(monkeypatch, (7, 0))
    rt = Runtime.resolve("auto")
    assert rt.device.type == "cuda" and rt.amp and rt.precision == "float16"
    assert rt.channels_last
    # the scaler for the card's precision (built on the CPU: only its switch matters here)
    assert Runtime(torch.device("cpu"), True, torch.float16).grad_scaler().is_enabled()


def test_auto_on_a_new_gpu_is_bf16_without_a_scaler(monkeypatch):
    _fake_gpu(monkeypatch, (9, 0))
    rt = Runtime.resolve("auto")
    assert rt.precision == "bfloat16"
    assert not Runtime(torch.device("cpu"), True, torch.bfloat16).grad_scaler().is_enabled()


def test_precision_chosen_by_hand_wins_over_the_card(monkeypatch):
    _fake_gpu(monkeypatch, (9, 0))
    assert Runtime.resolve("auto", amp="fp16").precision == "float16"
    _fake_gpu(monkeypatch, (7, 5))
    assert Runtime.resolve("auto", amp="bf16").precision == "bfloat16"
    assert Runtime.resolve("auto", amp="off").precision == "float32"


def test_on_the_cpu_auto_means_float32_and_no_scaler():
    rt = Runtime.resolve("cpu")
    assert rt.precision == "float32" and not rt.channels_last and not rt.compile
    assert not rt.grad_scaler().is_enabled()
    fp16 = Runtime.resolve("cpu", amp="fp16")  # by hand it is honoured (and scaled) on the CPU too
    assert fp16.precision == "float16" and fp16.grad_scaler().is_enabled()


def test_cuda_asked_for_without_a_visible_gpu_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="no CUDA device is visible; use auto or cpu"):
        Runtime.resolve("cuda")
    assert Runtime.resolve("auto").device.type == "cpu"


def test_the_config_schema_knows_every_amp_choice():
    import yaml

    from reid.config import SCHEMA_PATH

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert tuple(schema["properties"]["train"]["properties"]["amp"]["enum"]) == runtime.AMP_CHOICES
