"""The summary of a training run as a few aligned lines (``pnnkit train`` without ``--json``)."""

from __future__ import annotations

from typing import Any


def format_summary(s: dict[str, Any]) -> str:
    """A supervised run's summary: test (and validation) accuracy, costs, run folder; an
    unsupervised run's through :func:`format_unsupervised`."""
    if s.get("task") == "unsupervised":
        return format_unsupervised(s)
    test = f"{s['test_accuracy']:.4f}"
    if s.get("select") == "best-val":
        test += (
            f" (epoch {s['selected_epoch']}, best validation; last epoch "
            f"{s['last_test_accuracy']:.4f})"
        )
    val = []
    if s.get("val_accuracy") is not None:
        val = [
            f"  val accuracy       {s['val_accuracy']:.4f} (best {s['best_val_accuracy']:.4f}, "
            f"epoch {s['best_val_epoch']})"
        ]
    return "\n".join(
        [
            f"{s['method']} on {s['substrate']}, {s['dataset']}, seed {s['seed']}",
            f"  test accuracy      {test}",
            *val,
            f"  train accuracy     {s['train_accuracy']:.4f}",
            *_costs(s),
        ]
    )


def format_unsupervised(s: dict[str, Any]) -> str:
    """An unsupervised run's summary: probe accuracy and NMI of each representation, costs."""
    u = s["unsupervised"]
    names = {
        "learned": "trained network",
        "untrained": "untrained network",
        "raw": "raw input",
        "pca": f"PCA to {u['pca_width']}",
    }
    rows = [
        f"  {names[k]:<20}{u['probe'][k]:>8.4f}{u['nmi'][k]:>8.3f}"
        for k in ("learned", "untrained", "raw", "pca")
    ]
    return "\n".join(
        [
            f"unsupervised {s['method']} on {s['substrate']}, {s['dataset']}, seed {s['seed']}",
            f"  {'representation':<20}{'probe':>8}{'NMI':>8}   (probe: test split; "
            f"NMI: all samples)",
            *rows,
            *_costs(s, f" (evaluation: {s['evaluation_queries']:,})"),
        ]
    )


def _costs(s: dict[str, Any], queries_note: str = "") -> list[str]:
    return [
        f"  physical queries   {s['physical_queries']:,}{queries_note}",
        f"  device writes      {s['device_writes']:,}",
        f"  wall time          {s['wall_seconds']:.1f} s",
        f"  run folder         {s['run_dir']}",
    ]
