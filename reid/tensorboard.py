"""Write a training's TensorBoard scalars, one point per epoch (``train.tensorboard: true``).

This is optional, because it needs the ``tensorboard`` extra (``pip install -e ".[tensorboard]"``), which
torch's SummaryWriter writes with. The event files go under the run's folder
(``<run>/tensorboard/``), so that ``tensorboard --logdir results`` shows every run of a config
side by side, named by its path. log.csv stays the record the report reads; these are the same
numbers for watching a long run.
"""

from __future__ import annotations

from pathlib import Path

from reid.config import ConfigError

FOLDER = "tensorboard"
# log.csv's columns map to TensorBoard tags, grouped as TensorBoard shows them.
TAGS = {
    "loss": "train/loss",
    "triplet": "train/triplet",
    "ce": "train/ce",
    "train_acc": "train/accuracy",
    "lr": "train/learning_rate",
    "images_per_s": "speed/images_per_s",
    "epoch_seconds": "speed/epoch_seconds",
    "rank1": "test/rank1",
    "mAP": "test/mAP",
}


class EpochScalars:
    """Write each epoch's row of log.csv as scalars, with the epoch's number as the step."""

    def __init__(self, run_folder: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        # torch's writer imports the tensorboard package, so its absence shows up here.
        except ImportError as err:
            raise ConfigError(
                "config key 'train.tensorboard' is true, but the tensorboard package is not installed: "
                'pip install -e ".[tensorboard]", or set it to false'
            ) from err
        self.writer = SummaryWriter(log_dir=str(Path(run_folder) / FOLDER))

    def write(self, row: dict) -> None:
        for column, tag in TAGS.items():
            if row.get(column) not in (None, ""):
                self.writer.add_scalar(tag, float(row[column]), global_step=int(row["epoch"]))
        # The writer is flushed every epoch because a long run is watched while it trains.
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
