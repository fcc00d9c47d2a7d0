"""Export a trained model for use outside the suite: ``python -m reid export --model model.pt
--format onnx --out model.onnx``, or ``--format torch-export --out model.pt2``.

Both formats are traced with torch.export (TorchScript is deprecated in the installed torch, so
nothing here builds on it), on the CPU in float32, with a dynamic batch axis and the model
file's own input size fixed. The exported program takes what the model's forward takes:

    images    float32 (batch, 3, height, width), RGB scaled to [0, 1] and then normalised per
              channel with mean and std (ImageNet's, as the suite's own evaluation does)
    features  float32 (batch, D): the retrieval embedding, compared with ``distance``

and it carries the preprocessing and the model's identity with it, so that whoever receives the
file needs nothing else: in ONNX's ``metadata_props`` (keys ``height``, ``width``, ``mean``,
``std``, ``variant``, ``weights_sha256``, ``suite_version``, ...; lists and mappings as JSON),
and in a torch.export file as the extra file ``reid_facts.json``. The model's card
(reid.card: ``model_card.json`` beside model.pt, when it is of these weights) goes in as well.

Before the file is written, the export runs the exported program on a few inputs and compares
its features with PyTorch's (``PARITY_COSINE``, ``PARITY_RELATIVE``); a file that does not
match is never written. ONNX needs the ``onnx`` extra (``pip install -e ".[onnx]"``: onnx,
onnxscript for the exporter, onnxruntime for the check).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import torch

import reid
from reid.card import read_card
from reid.checkpoints import build_from_checkpoint, load_model_file, train_config_of
from reid.config import ConfigError
from reid.data.augment import IMAGENET_MEAN, IMAGENET_STD
from reid.evaluate import DEFAULT_DISTANCE
from reid.utils import atomic_write_bytes

FORMATS = {"onnx": ".onnx", "torch-export": ".pt2"}
INPUT_NAME, OUTPUT_NAME = "images", "features"
FACTS_FILE = "reid_facts.json"  # the extra file of a torch.export archive that holds the facts
# The facts that are numbers, lists or mappings, written in ONNX's metadata (which holds strings)
# as JSON; every other fact is text, kept as it is even where it looks like a number (a digest).
JSON_FACTS = ("height", "width", "mean", "std", "feature_dim", "seed", "recipe", "model_card")
# An exported model must give each image at least this cosine with PyTorch's feature, and differ
# from it by at most this fraction of the feature's norm in any component.
PARITY_COSINE = 0.99999
PARITY_RELATIVE = 1e-4
CHECK_BATCH = 3  # The check runs a batch of another size than the trace's, to prove the batch axis free.
INPUT_TEXT = "float32 (batch, 3, height, width), RGB scaled to [0, 1], then (x - mean) / std per channel"
ONNX_EXTRA = 'ONNX export needs the onnx extra: pip install -e ".[onnx]" (onnx, onnxscript and onnxruntime)'


class ExportError(Exception):
    """The exported program does not reproduce the model's features; the message gives by how much."""


def export_facts(payload: dict, feature_dim: int, card: dict | None = None) -> dict:
    """Return what an exported file says about itself: its preprocessing, the model's identity,
    and the card of its run (``card``) when there is one for these weights."""
    cfg = train_config_of(payload)
    facts = {
        "height": cfg.height,
        "width": cfg.width,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "input": INPUT_TEXT,
        "output": f"float32 (batch, {feature_dim}): compare features with the {DEFAULT_DISTANCE} distance",
        "distance": DEFAULT_DISTANCE,
        "feature_dim": feature_dim,
        "variant": payload["variant"],
        "weights_sha256": payload.get("weights_sha256") or "",
        "suite_version": reid.version(),
        "dataset": payload.get("dataset", ""),
        "dataset_fingerprint": payload.get("dataset_fingerprint", ""),
        "seed": payload.get("seed"),
        "recipe": payload["config"],
    }
    if card is not None:
        facts["model_card"] = card
    return facts


def as_metadata(facts: dict) -> dict[str, str]:
    """Return the facts as ONNX metadata_props, which are strings: JSON_FACTS as JSON, text as it is."""
    return {key: json.dumps(value, sort_keys=True) if key in JSON_FACTS else str(value) for key, value in facts.items()}


def trace_input(height: int, width: int, batch: int = 2) -> torch.Tensor:
    """Return the example batch that the export traces with. Its batch is 2, not 1, because
    torch.export treats a size of 1 as a constant and would fix the batch axis to it."""
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(0))


def batch_axis() -> tuple[dict]:
    return ({0: torch.export.Dim("batch")},)


def to_onnx(model: torch.nn.Module, height: int, width: int, facts: dict) -> bytes:
    """Return the model as an ONNX file's bytes, with a dynamic batch axis and the facts as metadata."""
    try:
        import onnx
        import onnxscript  # noqa: F401 (torch's exporter needs it; importing it here names the extra when absent)
    except ImportError as err:
        raise ConfigError(f"{ONNX_EXTRA} ({err})") from err
    program = torch.onnx.export(
        model.eval(),
        (trace_input(height, width),),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=batch_axis(),
        verbose=False,
    )
    proto = program.model_proto
    onnx.helper.set_model_props(proto, as_metadata(facts))
    return proto.SerializeToString()


def to_torch_export(model: torch.nn.Module, height: int, width: int, facts: dict) -> bytes:
    """Return the model as a torch.export archive's bytes (torch.export.load reads it), with a
    dynamic batch axis and the facts as the extra file FACTS_FILE."""
    program = torch.export.export(model.eval(), (trace_input(height, width),), dynamic_shapes=batch_axis())
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={FACTS_FILE: json.dumps(facts, sort_keys=True)})
    return buffer.getvalue()


def run_onnx(data: bytes | str | os.PathLike, images: np.ndarray) -> np.ndarray:
    """Run an exported ONNX model on normalised images with onnxruntime, on the CPU."""
    try:
        import onnxruntime
    except ImportError as err:
        raise ConfigError(f"{ONNX_EXTRA} ({err})") from err
    source = data if isinstance(data, bytes) else str(data)
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(images, dtype=np.float32)})[0]


def run_torch_export(data: bytes | str | os.PathLike, images: np.ndarray) -> np.ndarray:
    """Run an exported torch.export archive on normalised images, on the CPU."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with torch.no_grad():
        return torch.export.load(source).module()(torch.from_numpy(images)).numpy()


def read_facts(path: str | os.PathLike) -> dict:
    """Return the facts an exported file carries (ONNX metadata, or a torch.export extra file)."""
    if Path(path).suffix == FORMATS["onnx"]:
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        return {key: json.loads(value) if key in JSON_FACTS else value for key, value in props.items()}
    extra = {FACTS_FILE: ""}
    torch.export.load(path, extra_files=extra)
    return json.loads(extra[FACTS_FILE])


def parity(reference: np.ndarray, exported: np.ndarray) -> dict:
    """Return the worst image's cosine between the two features, and its largest component
    difference as a fraction of PyTorch's feature norm."""
    reference, exported = reference.astype(np.float64), exported.astype(np.float64)
    norms = np.linalg.norm(reference, axis=1)
    cosine = (reference * exported).sum(1) / (norms * np.linalg.norm(exported, axis=1))
    relative = np.abs(reference - exported).max(1) / norms
    return {"min_cosine": float(cosine.min()), "max_relative_difference": float(relative.max())}


def check_parity(model: torch.nn.Module, run, data: bytes, height: int, width: int) -> dict:
    """Run the exported program ``data`` with ``run`` beside the model on a batch that is not the
    trace's, and raise ExportError when it falls short of PARITY_COSINE or PARITY_RELATIVE."""
    images = trace_input(height, width, batch=CHECK_BATCH)
    with torch.no_grad():
        reference = model.eval()(images).numpy()
    found = parity(reference, run(data, images.numpy()))
    if found["min_cosine"] < PARITY_COSINE or found["max_relative_difference"] > PARITY_RELATIVE:
        raise ExportError(
            f"the exported model's features differ from PyTorch's (cosine {found['min_cosine']:.7f}, needs at "
            f"least {PARITY_COSINE}; largest difference {found['max_relative_difference']:.2e} of the norm, may be "
            f"at most {PARITY_RELATIVE:g}): nothing was written. Report it with the model's variant and torch version."
        )
    return found


def export(model_path: str | os.PathLike, fmt: str, out: str | os.PathLike) -> dict:
    """Export ``model_path`` as ``fmt`` (a key of FORMATS) to ``out``, checked against PyTorch first,
    and return what was written with the parity measured."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if Path(out).suffix != FORMATS[fmt]:  # read_facts, and most tools, tell the format by the suffix
        raise ConfigError(f"--out {out}: a {fmt} file is named *{FORMATS[fmt]}; rename it")
    payload = load_model_file(model_path)
    cfg = train_config_of(payload)
    model = build_from_checkpoint(payload, model_path).float().eval()
    with torch.no_grad():
        feature_dim = int(model(trace_input(cfg.height, cfg.width)).shape[1])
    card = read_card(model_path, payload.get("weights_sha256") or "")  # Only the card of these very weights.
    facts = export_facts(payload, feature_dim, card)
    write, run = (to_onnx, run_onnx) if fmt == "onnx" else (to_torch_export, run_torch_export)
    data = write(model, cfg.height, cfg.width, facts)
    found = check_parity(model, run, data, cfg.height, cfg.width)
    atomic_write_bytes(Path(out), data)
    return {
        "out": str(out),
        "format": fmt,
        "bytes": len(data),
        "feature_dim": feature_dim,
        "card": "model_card" in facts,
        **found,
    }
