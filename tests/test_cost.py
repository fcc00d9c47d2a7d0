import pytest
import torch

from reid.cost import count_macs, count_parameters, measure_cost, measure_latency
from reid.models import build_model


def test_parameters_of_residual_resnet50():
    counts = count_parameters(build_model("residual", 751, backbone="resnet50"))
    assert counts["backbone_params_M"] == pytest.approx(23.508, abs=1e-3)
    # classifiers: (512 + 512 + 2048) x 751
    assert counts["params_M"] - counts["params_without_classifiers_M"] == pytest.approx(3072 * 751 / 1e6, abs=1e-6)
    assert counts["params_M"] == pytest.approx(31.07, abs=0.01)


def test_macs_resnet50_trunk_at_288x144_and_flops_are_twice_macs():
    macs = count_macs(build_model("baseline", 751, backbone="resnet50"), 288, 144)
    # ResNet50 with last stride 1 at 288x144: ~5.15 G MACs (fvcore); the paper's 10.82 "FLOPs" ~ 2 x MACs
    assert macs["fvcore_GMACs"] == pytest.approx(5.15, abs=0.05)
    assert macs["thop_GMACs"] == pytest.approx(5.17, abs=0.05)
    assert macs["fvcore_GFLOPs"] == pytest.approx(2 * macs["fvcore_GMACs"])


def test_counting_leaves_the_model_untouched():
    model = build_model("avg", 10, backbone="resnet18")
    before = set(model.state_dict())
    count_macs(model, 64, 32)
    assert set(model.state_dict()) == before  # thop's counting buffers went to a copy


def test_latency_and_measure_cost():
    lat = measure_latency(
        build_model("max", 10, backbone="resnet18"), 64, 32, torch.device("cpu"), runs=5, warmup=1, batch=4, batches=1
    )
    assert 0 < lat["latency_ms_median"] <= lat["latency_ms_p90"] and lat["runs"] == 5
    assert len(lat["latency_ms_runs"]) == 5 and min(lat["latency_ms_runs"]) <= lat["latency_ms_median"]
    assert lat["throughput_images_per_s"] > 0 and lat["precision"] == "float32"
    result = measure_cost("residual", 10, "resnet18", 64, 32, runs=3, devices=["cpu"], cpu_batch=2)
    assert set(result["latency"]) == {"cpu"} and result["fvcore_GMACs"] > 0
