"""python -m reid.bench embed prints embed's images/s beside the model alone's, from one run."""

import json

import pytest

from reid.bench.__main__ import main


def test_the_embed_benchmark_prints_both_figures_and_their_ratio(tmp_path, tiny_synthetic, capsys):
    out = tmp_path / "embed.json"
    argv = ["embed", "--data", str(tiny_synthetic), "--backbone", "resnet10", "--height", "64", "--width", "32"]
    assert main([*argv, "--images", "20", "--batch-size", "8", "--device", "cpu", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert (
        figures["images"] == 20
        and figures["embed_images_per_s"] > 0
        and figures["model_alone_inference_images_per_s"] > 0
    )
    # the ratio of the unrounded figures, which are printed to one decimal
    assert figures["ratio"] == pytest.approx(
        figures["embed_images_per_s"] / figures["model_alone_inference_images_per_s"], abs=2e-3
    )
    # onnxruntime's figure for the same model, beside PyTorch's on the CPU in the same run
    assert figures["onnxruntime_cpu_images_per_s"] > 0 and figures["pytorch_cpu_images_per_s"] > 0
    assert figures["onnxruntime_vs_pytorch"] == pytest.approx(
        figures["onnxruntime_cpu_images_per_s"] / figures["pytorch_cpu_images_per_s"], rel=2e-3
    )
    assert figures["pytorch_cpu_images_per_s"] == figures["model_alone_inference_images_per_s"]  # on the CPU
    assert "--images 20" in figures["command"] and json.loads(capsys.readouterr().out) == figures
