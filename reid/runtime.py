"""Device and precision, resolved once: where a job runs and how.

Every torch job (training, evaluation, feature extraction, Table 4's cost, the benchmarks) turns the
config's ``device``, ``amp``, ``channels_last`` and ``compile`` switches ("auto" | "on" | "off")
into one ``Runtime`` and hands it on, so that they all make the same choice: on a CUDA device
"auto" means mixed precision (bf16 from compute capability 8.0, fp16 with a gradient scaler
below), channels_last and a compiled training step; on the CPU it means none of them.
``amp`` also takes ``bf16`` or ``fp16``, to choose the precision by hand.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


class DeviceError(RuntimeError):
    """Signal that a device was asked for that this machine does not have."""


def resolve_device(device: str | torch.device = "auto", source: str = "device") -> torch.device:
    """Resolve "auto" (CUDA if visible, else the CPU), "cpu", "cuda" or "cuda:N" to a device.

    ``source`` names the setting in the error."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"{source} is {device!r} but no CUDA device is visible; use auto or cpu")
    return torch.device(device)


def switch(value: str | bool, device: torch.device) -> bool:
    """Resolve an "auto | on | off" setting, where auto is on with CUDA."""
    if isinstance(value, bool):
        return value
    return device.type == "cuda" if value == "auto" else value == "on"


AMP_CHOICES = ("auto", "on", "off", "bf16", "fp16")
_FORCED = {"bf16": torch.bfloat16, "fp16": torch.float16}

# bf16 runs natively from compute capability 8.0 (Ampere: A100, A6000, RTX 30xx; then Ada and
# Hopper). Older cards (V100 is 7.0, T4 7.5, RTX 20xx 7.5) emulate it: there
# torch.cuda.is_bf16_supported() is still true, but bf16 convolutions have no fast kernels and
# training crawls, so they get fp16, with a gradient scaler against underflow.
BF16_FROM_CAPABILITY = (8, 0)


def autocast_dtype(device: torch.device) -> torch.dtype:
    """Return the mixed precision "auto" means: bf16 on the CPU and on GPUs of compute capability 8.0
    and newer, fp16 on older GPUs."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device) < BF16_FROM_CAPABILITY:
        return torch.float16
    return torch.bfloat16


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    amp: bool = False
    amp_dtype: torch.dtype = torch.bfloat16
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def resolve(
        cls,
        device: str | torch.device = "auto",
        amp: str | bool = "auto",
        channels_last: str | bool = "auto",
        compile: str | bool = "off",
        source: str = "device",
    ) -> Runtime:
        dev = resolve_device(device, source)
        if amp in _FORCED:
            amp_on, dtype = True, _FORCED[amp]
        else:
            amp_on, dtype = switch(amp, dev), autocast_dtype(dev)
        return cls(dev, amp_on, dtype, switch(channels_last, dev), switch(compile, dev))

    @classmethod
    def from_config(cls, cfg, device: str | None = None) -> Runtime:
        """Resolve a TrainConfig's choices; ``device`` overrides its ``device`` (e.g. evaluate --device)."""
        source = "train.device" if device is None else "--device"
        return cls.resolve(cfg.device if device is None else device, cfg.amp, cfg.channels_last, cfg.compile, source)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def precision(self) -> str:
        """Return what the forward passes run in: "bfloat16", "float16" or "float32"."""
        return str(self.amp_dtype).replace("torch.", "") if self.amp else "float32"

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Return the gradient scaler training needs. It is on for fp16, whose small gradients
        underflow without it, and off (a pass-through) otherwise."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp and self.amp_dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp)

    def place(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move the model to the device, in the memory format of its inputs."""
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """Put an input batch in the memory format the model expects."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def sync(self) -> None:
        """Wait for the device, so that the clock is read after its work is done."""
        if self.cuda:
            torch.cuda.synchronize(self.device)
