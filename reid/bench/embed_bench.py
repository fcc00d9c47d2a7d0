"""How fast ``python -m reid embed`` is: ``python -m reid.bench embed``.

It writes a model file of the chosen variant, backbone and size (its weights untrained, which
changes nothing about the speed) and a folder of real JPEGs (the synthetic set's renderer, or
the images of --data), then measures in one run, one after the other:
- embed: images/s from JPEG files on disk to features, as the command runs once started
  (reading the model file, decoding, resizing, batching, the forward passes);
- model alone: images/s of the same forward passes on images already decoded, which says how
  fast this machine is, so that a figure from another machine can be compared by the ratio;
- onnxruntime: images/s of the same model exported to ONNX (reid.export) on the same decoded
  images in the same batches, run by onnxruntime on the CPU, beside PyTorch's CPU figure. It
  needs the onnx extra; without it the figure is left out and the output says why.
``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from reid.checkpoints import build_from_checkpoint, load_model_file, save_model_file
from reid.config import TrainConfig
from reid.data import synthetic
from reid.data.augment import normalize
from reid.data.cache import decode_all
from reid.embed import embed, find_images
from reid.export import INPUT_NAME, OUTPUT_NAME, to_onnx
from reid.features import extract_features
from reid.models import build_model
from reid.provenance import cpu_model
from reid.runtime import Runtime, resolve_device
from reid.utils import atomic_write_json
from reid.variants import VARIANTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=None, help="a folder of images (default: render the synthetic set)")
    p.add_argument("--variant", default="residual", choices=VARIANTS, help="the network to embed with")
    p.add_argument("--backbone", default="resnet50", help="the paper's ResNet50, or resnet10/18/34")
    p.add_argument("--height", type=int, default=288, help="input height")
    p.add_argument("--width", type=int, default=144, help="input width")
    p.add_argument("--batch-size", type=int, default=128, help="images per forward pass, as embed's default")
    p.add_argument("--images", type=int, default=512, help="how many images to embed")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where the model runs")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.set_defaults(func=run)


def write_model(folder: Path, args) -> Path:
    """Write an untrained model file of the chosen network, since speed does not depend on the weights."""
    cfg = TrainConfig(backbone=args.backbone, pretrained="none", height=args.height, width=args.width)
    model = build_model(args.variant, 751, backbone=args.backbone, pretrained="none", **cfg.model_options(args.variant))
    path = folder / "model.pt"
    save_model_file(
        path, model, args.variant, cfg, num_classes=751, seed=0, dataset="bench", dataset_fingerprint="", provenance={}
    )
    return path


def image_paths(folder: Path, args) -> list[str]:
    """Return ``args.images`` real JPEG paths, repeated as needed: from --data, or from a freshly
    rendered synthetic set."""
    source = args.data or synthetic.generate(folder / "synthetic", size="small", seed=0, workers=0, progress=False)
    paths = find_images(source)
    return (paths * (args.images // len(paths) + 1))[: args.images]


def model_alone(model_file: Path, images: torch.Tensor, args, device: str) -> float:
    """Return the images/s of the forward passes alone, on images decoded beforehand as embed does."""
    payload = load_model_file(model_file)
    model = build_from_checkpoint(payload, model_file)
    runtime = Runtime.from_config(TrainConfig(**payload["config"]), device=device)
    runtime.place(model)
    extract_features(model, images[: args.batch_size], runtime, args.batch_size)  # warm up
    runtime.sync()
    start = time.perf_counter()
    extract_features(model, images, runtime, args.batch_size)
    runtime.sync()
    return len(images) / (time.perf_counter() - start)


def onnxruntime_speed(model_file: Path, images: torch.Tensor, args, pytorch_cpu: float | None) -> dict:
    """Return onnxruntime's images/s for the model exported to ONNX, on the same images and batches
    as the model-alone figure, and PyTorch's on the CPU beside it (``pytorch_cpu``, measured here
    when the model-alone figure was not on the CPU); or why there is none."""
    try:
        import onnxruntime
    except ImportError:
        return {"onnxruntime": 'not measured: pip install -e ".[onnx]"'}
    payload = load_model_file(model_file)
    model = build_from_checkpoint(payload, model_file)
    session = onnxruntime.InferenceSession(
        to_onnx(model, args.height, args.width, {}), providers=["CPUExecutionProvider"]
    )
    batches = [normalize(images[i : i + args.batch_size]).numpy() for i in range(0, len(images), args.batch_size)]
    session.run([OUTPUT_NAME], {INPUT_NAME: batches[0]})  # warm up
    start = time.perf_counter()
    for batch in batches:
        session.run([OUTPUT_NAME], {INPUT_NAME: batch})
    ort = len(images) / (time.perf_counter() - start)
    cpu = pytorch_cpu or model_alone(model_file, images, args, "cpu")
    return {
        "onnxruntime_cpu_images_per_s": round(ort, 1),
        "pytorch_cpu_images_per_s": round(cpu, 1),
        "onnxruntime_vs_pytorch": round(ort / cpu, 3),
    }


def run(args) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_file = write_model(folder, args)
        paths = image_paths(folder, args)
        listed = folder / "images"
        listed.mkdir()
        for i, path in enumerate(paths):  # one link per image, so that embed reads exactly these
            (listed / f"{i:06d}{Path(path).suffix}").symlink_to(Path(path).resolve())
        images = torch.from_numpy(decode_all(paths, args.height, args.width))
        alone = model_alone(model_file, images, args, args.device)
        start = time.perf_counter()
        done = embed(model_file, listed, folder / "features.npz", args.batch_size, args.device)
        embedded = done["images"] / (time.perf_counter() - start)
        on_cpu = resolve_device(args.device).type == "cpu"
        exported = onnxruntime_speed(model_file, images, args, alone if on_cpu else None)
    figures = {
        "machine": cpu_model(),
        "command": f"python -m reid.bench embed --backbone {args.backbone} --height {args.height} --width {args.width} "
        f"--images {args.images}",
        "images": len(paths),
        "embed_images_per_s": round(embedded, 1),
        "model_alone_inference_images_per_s": round(alone, 1),
        "ratio": round(embedded / alone, 3),
        **exported,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        atomic_write_json(args.json, figures)
    return 0
