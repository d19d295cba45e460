"""Learning curves (matplotlib, headless unless ``show``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Sequence

# matplotlib refuses to import at all when MPLBACKEND names no backend: take it out of the way,
# then use it if it is one, else draw with Agg and say so in one line (the PNGs need no window).
_ASKED = os.environ.pop("MPLBACKEND", None)
try:
    import matplotlib
finally:
    if _ASKED is not None:
        os.environ["MPLBACKEND"] = _ASKED

if _ASKED:
    try:
        matplotlib.use(matplotlib.rcsetup.validate_backend(_ASKED))
    except (ValueError, ImportError):
        print(f"xmlp: warning: MPLBACKEND={_ASKED!r} is not a matplotlib backend (expected e.g. agg, qtagg, "
              "tkagg); drawing with Agg", file=sys.stderr)
        matplotlib.use("Agg")
elif not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from ..io.files import atomic_write  # noqa: E402
from ..training import metrics as metrics_mod  # noqa: E402


def title(metric: str) -> str:
    """The metric's plot title (its own name for a metric xmlp does not know)."""
    if metric == "lr":
        return "learning rate"
    try:
        return metrics_mod.get(metric).title
    except ValueError:
        return metric


def metric_names(history: dict[str, list[float]]) -> list[str]:
    return [k for k in history if not k.startswith("val_")]


def _save(fig: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write(path, buf.getvalue())


def plot_history(history: dict[str, list[float]], out_dir: str | os.PathLike[str], *, heading: str = "",
                 best_epoch: int | None = None, show: bool = False, first_epoch: int = 1) -> list[Path]:
    """One PNG per metric (``loss.png``, ``accuracy.png``, …): training solid, validation dashed,
    and the epoch whose weights early stopping kept, if any; epochs numbered from ``first_epoch``
    (a resumed run's first)."""
    paths = []
    for metric in metric_names(history):
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"weights kept (epoch {best_epoch})")
        _draw(ax, history, metric, label="", color="C0", first_epoch=first_epoch)
        ax.set_title(f"{heading} — {title(metric)}" if heading else title(metric))
        path = Path(out_dir) / f"{metric}.png"
        _save(fig, path)
        paths.append(path)
        if not show:
            plt.close(fig)
    if show:
        plt.show()
    return paths


def _draw(ax: Any, history: dict[str, list[float]], metric: str, label: str, color: str, first_epoch: int = 1) -> None:
    epochs = range(first_epoch, first_epoch + len(history[metric]))
    prefix = f"{label} " if label else ""
    ax.plot(epochs, history[metric], color=color, linestyle="-", label=f"{prefix}{'training' if metric != 'lr' else 'lr'}")
    if f"val_{metric}" in history:
        ax.plot(epochs, history[f"val_{metric}"], color=color, linestyle="--", label=f"{prefix}validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def comparison_figure(runs: Sequence[tuple[str, dict[str, list[float]]]],
                      metrics: Sequence[str] | None = None, first_epochs: Sequence[int] | None = None) -> Any:
    """Several runs on the same graphs: one graph per metric, one colour per run (training
    solid, validation dashed), one legend for the figure below the graphs; ``first_epochs``: the
    number of each run's first epoch (a resumed run's is after those it continued)."""
    firsts = list(first_epochs) if first_epochs is not None else [1] * len(runs)
    if metrics is None:
        metrics = [m for m in metric_names(runs[0][1]) if all(m in h for _, h in runs)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.6), squeeze=False,
                             layout="constrained")
    for ax, metric in zip(axes[0], metrics):
        for k, (label, history) in enumerate(runs):
            if metric not in history:
                continue
            epochs = range(firsts[k], firsts[k] + len(history[metric]))
            ax.plot(epochs, history[metric], color=f"C{k % 10}", linestyle="-", label=label)
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], color=f"C{k % 10}", linestyle="--",
                        label="_nolegend_")
        ax.set_title(title(metric))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles += [Line2D([], [], color="grey", linestyle="-"), Line2D([], [], color="grey", linestyle="--")]
    labels += ["training", "validation"]
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize="small",
               frameon=False)
    return fig


def plot_runs(runs: Sequence[tuple[str, dict[str, list[float]]]], path: str | os.PathLike[str],
              metrics: Sequence[str] | None = None, show: bool = False,
              first_epochs: Sequence[int] | None = None) -> Path:
    """``comparison_figure`` saved as one PNG."""
    fig = comparison_figure(runs, metrics, first_epochs)
    out = Path(path)
    _save(fig, out)
    if show:
        plt.show()
    plt.close(fig)
    return out
