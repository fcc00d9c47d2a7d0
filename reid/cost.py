"""This module measures Table 4, the cost of a variant: its parameters, FLOPs and inference time
(``python -m reid cost``).

- Parameters: every parameter of the model as trained (classifiers included), and without
  the identity classifiers (what retrieval uses).
- FLOPs: fvcore and thop both count multiply-accumulates (MACs) and count differently (fvcore
  skips element-wise ops such as BN and ReLU, thop adds some of them). Both are reported as
  MACs and as FLOPs = 2 x MACs: the paper's "FLOPs/G" of 10.82 for a ResNet50 at 288x144 reads
  as 2 x MACs (fvcore gives about 5.15 G MACs for that trunk).
- Latency: batch-1 median and 90th percentile over ``runs`` warm forward passes in eval mode,
  and throughput at a large batch; on the CPU and, when present, on the GPU (with the same
  mixed precision and memory format as training uses there).
"""

from __future__ import annotations

import copy
import platform
import time
import warnings

import numpy as np
import torch
from fvcore.nn import FlopCountAnalysis
from thop import profile as thop_profile

from reid.models import build_model
from reid.runtime import Runtime


def count_parameters(model: torch.nn.Module) -> dict:
    total = sum(p.numel() for p in model.parameters())
    classifiers = sum(
        p.numel() for n, p in model.named_parameters() if ".classifier." in n or n.startswith("classifier.")
    )
    backbone = sum(p.numel() for p in model.backbone.parameters())
    return {
        "params_M": total / 1e6,
        "params_without_classifiers_M": (total - classifiers) / 1e6,
        "backbone_params_M": backbone / 1e6,
    }


def count_macs(model: torch.nn.Module, height: int, width: int) -> dict:
    """Count the MACs of one image in eval mode by fvcore and by thop, each on its own copy of the model."""

    x = torch.randn(1, 3, height, width)
    model = copy.deepcopy(model).eval().cpu()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        fvcore_macs = analysis.total()

        # thop registers counting buffers on the modules it visits, so a throwaway copy takes them.
        thop_macs, _ = thop_profile(copy.deepcopy(model), inputs=(x,), verbose=False)
    return {
        "fvcore_GMACs": fvcore_macs / 1e9,
        "fvcore_GFLOPs": 2 * fvcore_macs / 1e9,
        "thop_GMACs": float(thop_macs) / 1e9,
        "thop_GFLOPs": 2 * float(thop_macs) / 1e9,
    }


@torch.inference_mode()
def measure_latency(
    model: torch.nn.Module,
    height: int,
    width: int,
    device: torch.device | str,
    runs: int = 100,
    warmup: int = 10,
    batch: int = 64,
    batches: int = 5,
) -> dict:
    """Measure the batch-1 latency (median, p90, ms) over ``runs`` warm passes and the images/s at
    ``batch``. It uses the precision and memory format that training chooses on ``device`` ("auto")."""
    runtime = Runtime.resolve(device)
    model = runtime.place(copy.deepcopy(model).eval())

    def forward(x):
        with runtime.autocast():
            return model(x)

    def inputs(n):
        return runtime.batch(torch.randn(n, 3, height, width, device=runtime.device))

    one = inputs(1)
    for _ in range(warmup):
        forward(one)
    times = []
    for _ in range(runs):
        runtime.sync()
        t = time.perf_counter()
        forward(one)
        runtime.sync()
        times.append((time.perf_counter() - t) * 1000)
    big = inputs(batch)
    forward(big)
    runtime.sync()
    t = time.perf_counter()
    for _ in range(batches):
        forward(big)
    runtime.sync()
    seconds = time.perf_counter() - t
    return {
        "latency_ms_median": float(np.median(times)),
        "latency_ms_p90": float(np.percentile(times, 90)),
        "runs": runs,
        # The single runs are kept for the interval of a latency ratio (C5).
        "latency_ms_runs": [round(t, 4) for t in times],
        "throughput_images_per_s": batch * batches / seconds,
        "throughput_batch": batch,
        "precision": runtime.precision,
        "device": torch.cuda.get_device_name(runtime.device)
        if runtime.cuda
        else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
    }


def measure_cost(
    variant: str,
    num_classes: int,
    backbone: str,
    height: int,
    width: int,
    last_stride: int = 1,
    options: dict | None = None,
    runs: int = 100,
    devices: list[str] | None = None,
    cpu_batch: int = 16,
    gpu_batch: int = 256,
) -> dict:
    """Measure everything Table 4 shows for one variant. ``devices`` defaults to the CPU plus the GPU if there is one."""
    torch.manual_seed(0)
    model = build_model(
        variant, num_classes, backbone=backbone, pretrained="none", last_stride=last_stride, **(options or {})
    )
    result = {"variant": variant, "backbone": backbone, "input": [height, width], "num_classes": num_classes}
    result.update(count_parameters(model))
    result.update(count_macs(model, height, width))
    devices = devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    result["latency"] = {}
    for name in devices:
        device = torch.device(name)
        batch = gpu_batch if device.type == "cuda" else cpu_batch
        result["latency"][name] = measure_latency(model, height, width, device, runs=runs, batch=batch)
    return result
