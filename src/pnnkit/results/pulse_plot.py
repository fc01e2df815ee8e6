"""The pulse-response plot of ``pnnkit device show``: up and down trains of several devices
and the spread over all of them (matplotlib, non-interactive backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from pnnkit.data.pulses import DIRECTIONS, PulseTrains

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_pulse_trains(trains: PulseTrains, path: str | Path, title: str, *, shown: int = 8) -> None:
    """One panel per direction: the last cycle's trains of ``shown`` devices (thin lines), the
    median over all devices (thick) and the band between their 10th and 90th percentiles."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained", sharey=True)
    pulses = np.arange(trains.pulses + 1)
    for direction, (ax, name) in enumerate(zip(axes, DIRECTIONS, strict=True)):
        g = trains.g[:, -1, direction]
        low, mid, high = np.percentile(g, [10, 50, 90], axis=0)
        ax.fill_between(pulses, low, high, color="C0", alpha=0.2, label="10-90% of devices")
        for trace in g[:shown]:
            ax.plot(pulses, trace, color="C1", linewidth=0.6, alpha=0.7)
        ax.plot(pulses, mid, color="C0", linewidth=2, label=f"median of {len(g)} devices")
        ax.set_xlabel(f"{name} pulse")
        ax.set_title(f"{name} train")
    axes[0].set_ylabel("conductance (uS)")
    axes[0].legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
