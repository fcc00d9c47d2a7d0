"""Draw Figure 5 ("Accuracy and loss values comparison among different methods"): R1, mAP and
loss per epoch of avg, max and residual, from the training logs. The report inlines it."""

from __future__ import annotations

import io
from collections.abc import Mapping

from reid.figures.canvas import new_figure


def learning_curves(logs: Mapping[str, Mapping[int, list[dict]]], title: str) -> bytes | None:
    """Return Figure 5 as PNG bytes: R1, mAP and loss per epoch for each variant of ``logs``
    ({variant: {seed: log.csv rows}}), as the mean over seeds with a min-max band. It returns None
    without logs."""

    if not any(logs.values()):
        return None
    fig = new_figure(13, 3.8)
    axes = fig.subplots(1, 3)
    for variant, per_seed in logs.items():
        if not per_seed:
            continue
        for ax, column, label in ((axes[0], "rank1", "R1 (%)"), (axes[1], "mAP", "mAP (%)"), (axes[2], "loss", "loss")):
            points: dict[int, list[float]] = {}
            for rows in per_seed.values():
                for row in rows:
                    if row.get(column) not in (None, ""):
                        value = float(row[column]) * (100 if column != "loss" else 1)
                        points.setdefault(int(row["epoch"]), []).append(value)
            if not points:
                continue
            epochs = sorted(points)
            mean = [sum(points[e]) / len(points[e]) for e in epochs]
            ax.plot(epochs, mean, marker="o" if len(epochs) < 30 else None, ms=3, label=variant)
            ax.fill_between(epochs, [min(points[e]) for e in epochs], [max(points[e]) for e in epochs], alpha=0.2)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
