"""Training curves as a PNG (matplotlib, Agg backend; extra ``chainrule[plot]``)."""

from __future__ import annotations

import io
import os

from .errors import MissingExtraError
from .io import write_atomic
from .training import History


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("plots need matplotlib: pip install 'chainrule[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: History, path: str | os.PathLike, title: str = "") -> None:
    """Loss curves (train and validation) and, when recorded, the metric curves; the
    epoch whose weights early stopping restored is marked by a dashed vertical line."""
    plt = pyplot()
    metrics = [
        k
        for k in history.history
        if k not in ("loss", "val_loss", "lr") and not k.startswith("val_")
    ]
    panels = 1 + len(metrics)
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.8), squeeze=False)
    for ax, key in zip(axes[0], ["loss", *metrics], strict=True):
        ax.plot(history.epochs, history[key], label=f"train {key}")
        if f"val_{key}" in history.history:
            ax.plot(history.epochs, history[f"val_{key}"], label=f"validation {key}")
        if history.restored_epoch is not None:
            ax.axvline(
                history.restored_epoch,
                color="grey",
                linestyle="--",
                linewidth=1,
                label=f"weights restored (epoch {history.restored_epoch})",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    write_atomic(path, buffer.getvalue())
