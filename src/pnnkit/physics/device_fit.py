"""Fitting the crossbar's device model to pulse-response recordings, and making such recordings
from pnnkit's own crossbar (:mod:`pnnkit.data.pulses` holds the file format).

The model is :class:`~pnnkit.physics.crossbar.Crossbar`'s soft-bounds pulse response: device
``i`` with window ``[g_lo_i, g_hi_i]`` (``S_i = g_hi_i - g_lo_i``) and step ``s_i`` moves by
``dG = 2 s_i (1 + a) (g_hi_i - G) / S_i * J`` per up pulse and ``dG = -2 s_i (1 - a) (G - g_lo_i)
/ S_i * J`` per down pulse, ``J = max(0, 1 + c2c eps)``; every read returns ``G (1 + r eps')``.
The estimators:

* **Per device** (``alpha``, ``g_inf``): the mean of a train is geometric,
  ``E[G_k] = g_inf + (G_0 - g_inf) (1 - alpha)^k`` (``g_inf = g_hi``, ``alpha_up = 2 s (1 + a)
  / S`` for up trains; ``g_lo`` and ``alpha_down = 2 s (1 - a) / S`` for down trains). All
  trains of one device and direction share ``alpha`` and ``g_inf``, each has its own start;
  for a given ``alpha`` the rest is linear least squares in closed form, and ``alpha`` is the
  minimum of the squared error on a log grid, refined once. Fitting whole trajectories (not
  increments) keeps read noise out of the regressor.
* **Steps**: ``s_up = alpha_up S / 2`` and ``s_down = alpha_down S / 2`` per device; ``s_i``
  their mean, ``a_i = (s_up - s_down) / (s_up + s_down)``; ``levels = W / mean(s_i)`` on the
  nominal window ``W``, ``d2d_step = std(s_i) / mean(s_i)``, ``step_asymmetry = mean(a_i)``.
* **Bounds** (method of moments for the model's half-normal narrowing, ``g_hi = g_max -
  sigma |N|``): ``sigma^2 = var(g_hi) / (1 - 2/pi)``, ``g_max = mean(g_hi) + sigma sqrt(2/pi)``;
  likewise ``g_min`` from the ``g_lo``; ``d2d_bounds`` is the two sigmas' mean over ``W``.
* **Read noise**, from the residual increments ``e_k = (y_k - y_{k-1}) - alpha (g_inf -
  y_{k-1})`` (``y`` the reads): ``e_k = mu_k (J_k - 1) + n_k - (1 - alpha) n_{k-1}``, so
  consecutive residuals share one read and ``E[e_k e_{k+1}] = -(1 - alpha) r^2 G_k^2``.
* **Cycle-to-cycle noise**: the jitter accumulates as a random walk while read noise does not,
  so over ``m`` pulses the residual ``e = y_{k+m} - g_inf - (y_k - g_inf) (1 - alpha)^m`` has
  ``E[e^2] = c2c^2 m alpha^2 (g_inf - G_k)^2 (1 - alpha)^(2m - 2) + r^2 (G_{k+m}^2 +
  (1 - alpha)^(2m) G_k^2)``; with ``r`` known, ``c2c^2`` is the least-squares slope over
  ``m = 1, 2, 4`` and all pulses (short spans: each device's fitted curve absorbs part of
  the walk over longer ones, and the estimate comes out low, more so with few pulses per train
  before the bound). The clamp ``J >= 0`` is ignored: it biases ``c2c`` and the steps by under
  1% up to ``c2c = 0.5`` and by about 8% at 1.

Standard errors are bootstrap standard deviations over devices. Trains should come near both
bounds (a few times ``levels`` pulses) for ``alpha`` and the bounds to separate.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pnnkit.config import dump_toml
from pnnkit.data.pulses import PulseTrains
from pnnkit.errors import DataError
from pnnkit.physics.crossbar import Crossbar
from pnnkit.physics.crossbar_config import CrossbarConfig

#: the CrossbarConfig fields a fit sets
FITTED = (
    "g_min",
    "g_max",
    "levels",
    "d2d_bounds",
    "d2d_step",
    "c2c_noise",
    "step_asymmetry",
    "read_noise",
)
_HALF_NORMAL = math.sqrt(2 / math.pi)


def generate_pulses(
    config: CrossbarConfig, *, devices: int = 32, cycles: int = 2, pulses: int = 200, seed: int = 0
) -> PulseTrains:
    """Up and down pulse trains of ``devices`` devices of a crossbar built with ``config``:
    every cycle, one pulse at a time, the array's pairs are potentiated ``pulses`` times on
    ``G+`` (depressing ``G-``) and then the other way; every state is read with the config's
    read noise (relative, per device and read)."""
    pairs = math.ceil(devices / 4)
    bar = Crossbar(1, pairs, seed=seed, config=config)
    rng = np.random.default_rng(seed)
    one_pulse = 2 * bar.window / config.levels * bar.gain * (1 + 1e-9)
    g = np.empty((devices, cycles, 2, pulses + 1))

    def read() -> np.ndarray:
        state = bar.conductance.double().numpy().reshape(-1)[:devices]
        return state * (1 + config.read_noise * rng.standard_normal(devices))

    sign = np.repeat([1, -1], 2 * pairs)[:devices]  # G+ devices go up first, G- down
    for cycle in range(cycles):
        for phase, direction in enumerate((1.0, -1.0)):
            trace = [read()]
            for _ in range(pulses):
                bar.program(torch.full((pairs, 2), direction * one_pulse))
                trace.append(read())
            stacked = np.stack(trace, axis=1)
            up = (sign > 0) == (phase == 0)
            g[up, cycle, 0] = stacked[up]
            g[~up, cycle, 1] = stacked[~up]
    return PulseTrains(g, tuple(f"d{i}" for i in range(devices)))


def _shared_fit(y: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For trains ``y`` (devices, cycles, k) and one ``alpha`` per device: the least-squares
    ``g_inf`` (devices,), each train's start (devices, cycles) and the squared error."""
    k = np.arange(y.shape[2])
    b = (1 - alpha[:, None]) ** k[None, :]  # (D, K)
    a = 1 - b
    bb = (b * b).sum(1)
    y_t = y - (y * b[:, None]).sum(2, keepdims=True) / bb[:, None, None] * b[:, None]
    a_t = a - (a * b).sum(1, keepdims=True) / bb[:, None] * b
    g_inf = (y_t * a_t[:, None]).sum((1, 2)) / (y.shape[1] * (a_t * a_t).sum(1))
    start = ((y - g_inf[:, None, None] * a[:, None]) * b[:, None]).sum(2) / bb[:, None]
    resid = y - g_inf[:, None, None] * a[:, None] - start[..., None] * b[:, None]
    return g_inf, start, (resid * resid).sum((1, 2))


def fit_trains(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per device, the shared ``alpha`` and ``g_inf`` of its trains ``y`` (devices, cycles, k)."""
    grid = np.geomspace(1e-4, 0.9, 240)
    errors = np.stack([_shared_fit(y, np.full(len(y), a))[2] for a in grid])
    coarse = grid[errors.argmin(0)]
    ratio = grid[1] / grid[0]
    fine = np.stack([coarse * ratio**t for t in np.linspace(-1, 1, 41)])
    errors = np.stack([_shared_fit(y, np.clip(f, 1e-6, 0.99))[2] for f in fine])
    alpha = np.clip(fine[errors.argmin(0), np.arange(len(y))], 1e-6, 0.99)
    return alpha, _shared_fit(y, alpha)[0]


@dataclass(frozen=True)
class DeviceFit:
    """A fit's settings (``values``: the :data:`FITTED` fields), their bootstrap standard
    errors, and the rms error (uS) of the reads about each device's fitted mean trajectory and
    about the fitted nominal model's."""

    values: dict[str, Any]
    errors: dict[str, float]
    rms_device: float
    rms_model: float

    def config(self) -> CrossbarConfig:
        """The fitted crossbar settings (validated: an impossible fit names its field)."""
        return CrossbarConfig.from_dict(self.values)

    def toml(self, source: str) -> str:
        """A config file with the fitted ``[substrate]`` table (``pnnkit train --config``)."""
        header = f"crossbar device model fitted by pnnkit device fit to {source}"
        return dump_toml({"substrate": {"name": "crossbar", **self.values}}, header=header)


def _noise_moments(y: np.ndarray, alpha: np.ndarray, g_inf: np.ndarray) -> list[np.ndarray]:
    """Per device, the sums the read-noise and cycle-to-cycle estimators pool (trains ``y``
    (devices, cycles, k) about the curves ``alpha``, ``g_inf``)."""
    a, g = alpha[:, None, None], g_inf[:, None, None]
    e = np.diff(y, axis=2) - a * (g - y[..., :-1])
    lag = -(e[..., :-1] * e[..., 1:]).sum((1, 2)) / (1 - alpha)
    read = (y[..., 1:-1] ** 2).sum((1, 2))
    x1e = x1x2 = x1x1 = np.zeros(len(y))
    for m in (m for m in (1, 2, 4) if m < y.shape[2] - 1):
        keep = (1 - a) ** m
        start, end = y[..., :-m], y[..., m:]
        resid = end - g - (start - g) * keep
        walk = m * (a * (g - start)) ** 2 * (1 - a) ** (2 * (m - 1))
        x1e = x1e + (walk * resid**2).sum((1, 2))
        x1x2 = x1x2 + (walk * (end**2 + keep**2 * start**2)).sum((1, 2))
        x1x1 = x1x1 + (walk * walk).sum((1, 2))
    return [lag, read, x1e, x1x2, x1x1]


def _per_device(trains: PulseTrains) -> dict[str, np.ndarray]:
    """The per-device estimates and noise moments the aggregate settings are made from."""
    out: dict[str, np.ndarray] = {}
    moments = [np.zeros(len(trains.devices)) for _ in range(5)]
    for direction, name in enumerate(("up", "down")):
        y = trains.g[:, :, direction]
        alpha, g_inf = fit_trains(y)
        out[f"alpha_{name}"], out[f"g_{name}"] = alpha, g_inf
        more = _noise_moments(y, alpha, g_inf)
        moments = [t + m for t, m in zip(moments, more, strict=True)]
    for key, value in zip(("lag", "read", "x1e", "x1x2", "x1x1"), moments, strict=True):
        out[key] = value
    return out


def _aggregate(p: dict[str, np.ndarray]) -> dict[str, Any]:
    g_hi, g_lo = p["g_up"], p["g_down"]
    sigma_hi = math.sqrt(max(float(np.var(g_hi)), 0.0) / (1 - 2 / math.pi))
    sigma_lo = math.sqrt(max(float(np.var(g_lo)), 0.0) / (1 - 2 / math.pi))
    g_max = float(np.mean(g_hi)) + sigma_hi * _HALF_NORMAL
    g_min = float(np.mean(g_lo)) - sigma_lo * _HALF_NORMAL
    window = g_max - g_min
    span = g_hi - g_lo
    s_up, s_down = p["alpha_up"] * span / 2, p["alpha_down"] * span / 2
    s = (s_up + s_down) / 2
    r2 = max(float(p["lag"].sum() / p["read"].sum()), 0.0)
    c2 = float((p["x1e"].sum() - r2 * p["x1x2"].sum()) / p["x1x1"].sum())
    return {
        "g_min": g_min,
        "g_max": g_max,
        "levels": window / float(np.mean(s)),
        "d2d_bounds": (sigma_hi + sigma_lo) / 2 / window,
        "d2d_step": float(np.std(s) / np.mean(s)),
        "c2c_noise": math.sqrt(max(c2, 0.0)),
        "step_asymmetry": float(np.mean((s_up - s_down) / (s_up + s_down))),
        "read_noise": math.sqrt(r2),
    }


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    out = {name: round(float(v), 4) for name, v in values.items()}
    out["g_min"] = max(out["g_min"], 0.0)
    out["levels"] = max(2, round(values["levels"]))
    return out


def fit_device(trains: PulseTrains, *, bootstrap: int = 200, seed: int = 0) -> DeviceFit:
    """Fit the crossbar's device settings to ``trains`` (the estimators of the module
    docstring). Raises :class:`DataError` with fewer than 3 devices (spreads need several)."""
    count = len(trains.devices)
    if count < 3:
        raise DataError(f"a device fit needs at least 3 devices; the recording has {count}")
    per = _per_device(trains)
    values = _rounded(_aggregate(per))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(bootstrap):
        pick = rng.integers(0, count, count)
        draws.append(_aggregate({k: v[pick] for k, v in per.items()}))
    errors = {name: float(np.std([d[name] for d in draws])) for name in FITTED}
    fitted = CrossbarConfig.from_dict(values)
    rms_model = trajectory_rms(fitted, trains)
    return DeviceFit(values, errors, _device_rms(trains, per), rms_model)


def _device_rms(trains: PulseTrains, per: dict[str, np.ndarray]) -> float:
    squares = []
    for direction, name in enumerate(("up", "down")):
        y = trains.g[:, :, direction]
        resid = _shared_fit(y, per[f"alpha_{name}"])[2]
        squares.append(resid.sum() / y.size)
    return math.sqrt(float(np.mean(squares)))


def mean_trajectory(config: CrossbarConfig, start: np.ndarray, up: bool, pulses: int) -> np.ndarray:
    """The model's mean train from each ``start`` (uS): a device with the expected bounds of
    ``config`` (``g_max - d2d_bounds W sqrt(2/pi)`` and the mirror) and its nominal step."""
    window = config.g_max - config.g_min
    shrink = config.d2d_bounds * window * _HALF_NORMAL
    g_lo, g_hi = config.g_min + shrink, config.g_max - shrink
    step = window / config.levels
    sign = 1 if up else -1
    alpha = 2 * step * (1 + sign * config.step_asymmetry) / (g_hi - g_lo)
    target = g_hi if up else g_lo
    k = np.arange(pulses + 1)
    return target + (start[..., None] - target) * (1 - min(alpha, 1.0)) ** k


def trajectory_rms(config: CrossbarConfig, trains: PulseTrains) -> float:
    """Rms error (uS) of ``config``'s mean trajectories, each from its train's first read,
    against every read of ``trains``."""
    errors = [
        trains.g[:, :, d] - mean_trajectory(config, trains.g[:, :, d, 0], d == 0, trains.pulses)
        for d in (0, 1)
    ]
    return math.sqrt(float(np.mean(np.stack(errors) ** 2)))


def select_cycles(trains: PulseTrains, cycles: slice) -> PulseTrains:
    """The trains of some cycles (e.g. the earlier ones to fit, the last to test on)."""
    return dataclasses.replace(trains, g=trains.g[:, cycles])
