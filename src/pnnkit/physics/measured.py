"""A substrate emulated from recorded input/output pairs of a real physical system.

A lab that has recorded how its set-up responds (inputs it applied, outputs it measured) can
train on a faithful stand-in before, or instead of, booking time on the hardware. The recording
is a CSV or NPZ file, read by :mod:`pnnkit.data.recordings`.

**The emulator: kernel ridge regression with a Gaussian kernel** on standardised inputs and
outputs. Chosen over a small MLP because

* it is exact and deterministic: one Cholesky solve, no optimiser, learning rate, epochs or
  initialisation to tune, so the same file always gives the same emulator;
* it has two hyper-parameters (kernel width and ridge), chosen here by K-fold cross-validation
  over a small grid, which makes the fit automatic and its quality easy to report;
* the smooth responses of physical systems (intensities, transmissions, saturating detectors)
  are what a Gaussian kernel models well, and recordings of a few thousand samples are where
  kernel methods are at their best (the cost is cubic in the number of training points, so at
  most ``max_train`` points are used, a random subset if the recording is larger).

**Noise.** A fraction ``holdout`` of the rows is kept out of the fit. The emulator's error on
them gives :attr:`MeasuredSubstrate.fit_report` and the per-output residual standard deviation
:attr:`MeasuredSubstrate.residual_std`; :meth:`MeasuredSubstrate.measure` adds Gaussian noise
of that standard deviation (times ``noise_scale``) to the emulator's prediction, so the
simulated system is as noisy as the recording suggests. The held-out residual includes the
emulator's own error, so on a well-fitted recording it slightly overestimates the noise.

**Outside the recorded range** the Gaussian kernel vanishes and the prediction decays smoothly
to the mean of the recorded outputs: the emulator knows nothing there. Keep the inputs a
network sends to this substrate inside the range the recording covered.

:meth:`MeasuredSubstrate.twin` is the noise-free emulator, differentiable in ``x``. Nothing is
programmable (``parameter_shape() == (0,)``): the recorded system is a fixed black box.
The fitted emulator lives in tensors saved with
:meth:`~pnnkit.physics.protocol.Substrate.state_dict`; :meth:`MeasuredSubstrate.from_state_dict`
rebuilds it without the recording.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pnnkit.data.recordings import MIN_ROWS, load_recording
from pnnkit.errors import ConfigError, DataError
from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import register

#: kernel widths tried, as multiples of the median pairwise distance of standardised inputs
WIDTH_FACTORS = (0.125, 0.25, 0.5, 1.0, 2.0)
#: ridge values tried (the kernel's diagonal is 1 and the outputs are standardised)
RIDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class MeasuredConfig(SubstrateConfig):
    """Settings of :class:`MeasuredSubstrate`.

    Attributes:
        path: the recording, a ``.csv`` or ``.npz`` file (required to build the substrate; a
            config without one is a template).
        x_prefix: CSV column prefix of the inputs (columns ``x0, x1, ...``).
        y_prefix: CSV column prefix of the outputs (columns ``y0, y1, ...``).
        holdout: fraction of rows kept out of the fit to measure its error and the noise.
        folds: number of cross-validation folds used to choose the kernel width and ridge.
        max_train: most rows the emulator is fitted on (a random subset beyond that: the fit
            costs ``max_train^3`` operations and ``max_train^2`` memory).
        cv_points: most training rows used for the cross-validation (the final fit uses up
            to ``max_train``).
        noise_scale: the measurement noise is ``noise_scale`` times the held-out residual
            standard deviation (1: as noisy as the recording; 0: the noise-free emulator).
    """

    path: str = ""
    x_prefix: str = "x"
    y_prefix: str = "y"
    holdout: float = 0.2
    folds: int = 5
    max_train: int = 4000
    cv_points: int = 1000
    noise_scale: float = 1.0

    def validate(self) -> None:
        super().validate()
        self._require("x_prefix", bool(self.x_prefix), "a non-empty column prefix")
        self._require("y_prefix", bool(self.y_prefix), "a non-empty column prefix")
        self._require("y_prefix", self.y_prefix != self.x_prefix, "different from x_prefix")
        self._require("holdout", 0 < self.holdout < 1, "in (0, 1)")
        self._require("folds", self.folds >= 2, "an integer >= 2")
        self._require("max_train", self.max_train >= MIN_ROWS, f"an integer >= {MIN_ROWS}")
        self._require("cv_points", self.cv_points >= MIN_ROWS, f"an integer >= {MIN_ROWS}")
        self._require("noise_scale", self.noise_scale >= 0, ">= 0")


# --- the emulator -------------------------------------------------------------------------------


def _sq_dist(a: Tensor, b: Tensor) -> Tensor:
    d = (a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)
    return d.clamp_min(0)


def _kernel(a: Tensor, b: Tensor, width: float | Tensor) -> Tensor:
    return torch.exp(-_sq_dist(a, b) / (2 * width * width))


def _ridge_solve(K: Tensor, y: Tensor, ridge: float) -> Tensor | None:
    """``(K + ridge I)^-1 y`` by Cholesky; ``None`` if the system is numerically singular."""
    eye = torch.eye(K.shape[0], dtype=K.dtype)
    L, info = torch.linalg.cholesky_ex(K + ridge * eye)
    if int(info) != 0:
        return None
    return torch.cholesky_solve(y, L)


def _cross_validate(
    x: Tensor, y: Tensor, folds: int, generator: torch.Generator
) -> tuple[float, float, float]:
    """Choose ``(width, ridge)`` by K-fold CV on standardised ``x``, ``y``; returns them and
    the CV mean squared error (in standardised output units)."""
    n = x.shape[0]
    folds = min(folds, n)
    distances = _sq_dist(x, x).sqrt()
    median = float(distances[torch.triu(torch.ones(n, n, dtype=torch.bool), 1)].median())
    median = median if median > 0 else 1.0
    assignment = torch.randperm(n, generator=generator) % folds
    best = (math.inf, median, RIDGES[-1])
    for factor in WIDTH_FACTORS:
        width = factor * median
        K = _kernel(x, x, width)
        errors = dict.fromkeys(RIDGES, 0.0)
        for k in range(folds):
            val, tr = assignment == k, assignment != k
            K_tr, K_val = K[tr][:, tr], K[val][:, tr]
            for ridge in RIDGES:
                alpha = _ridge_solve(K_tr, y[tr], ridge)
                if alpha is None:
                    errors[ridge] = math.inf
                    continue
                errors[ridge] += float(((K_val @ alpha - y[val]) ** 2).sum())
        for ridge, error in errors.items():
            mse = error / (n * y.shape[1])
            if mse < best[0]:
                best = (mse, width, ridge)
    return best[1], best[2], best[0]


@register
class MeasuredSubstrate(Substrate[MeasuredConfig]):
    """A recorded physical system, emulated by kernel ridge regression; see the module
    docstring."""

    name = "measured"
    linear = False
    exact_twin = True
    config_class = MeasuredConfig

    #: tensors that hold the fitted emulator (saved in the state dict)
    _STATE = (
        "x_train",
        "alpha",
        "x_mean",
        "x_std",
        "y_mean",
        "y_std",
        "width",
        "residual_std",
        "_report_tensor",
    )

    def _build(self) -> None:
        cfg = self._config
        x, y = _read(cfg)
        if (x.shape[1], y.shape[1]) != (self.in_features, self.out_features):
            raise ConfigError(
                f"recording {cfg.path} has {x.shape[1]} inputs and {y.shape[1]} outputs, but "
                f"the substrate was asked for in_features = {self.in_features} and "
                f"out_features = {self.out_features}"
            )
        self._fit(torch.from_numpy(x), torch.from_numpy(y))

    @classmethod
    def fixed_ports(cls, config: SubstrateConfig) -> tuple[int, int]:
        """The recording's ``(input ports, output ports)``: a measured system has the size it
        was recorded at."""
        assert isinstance(config, MeasuredConfig)
        x, y = _read(config)
        return x.shape[1], y.shape[1]

    @classmethod
    def from_file(cls, path: str | Path, *, seed: int = 0, **options: Any) -> MeasuredSubstrate:
        """Build from a recording, reading ``in_features`` and ``out_features`` from the file.
        ``options`` are further :class:`MeasuredConfig` fields."""
        config = MeasuredConfig.from_dict({**options, "path": str(path)})
        x, y = _read(config)
        return cls(x.shape[1], y.shape[1], seed=seed, config=config)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> MeasuredSubstrate:
        """Rebuild a substrate from its :meth:`state_dict` alone (the recording is not read)."""
        saved = state["describe"]
        if saved["name"] != cls.name:
            raise ConfigError(f"state is of a {saved['name']!r} substrate, not {cls.name!r}")
        config = MeasuredConfig.from_dict(saved["config"])
        self = cls.__new__(cls)
        self._setup(saved["in_features"], saved["out_features"], saved["seed"], config)
        self.load_state_dict(state)
        return self

    # --- fitting --------------------------------------------------------------------------------

    def _fit(self, x: Tensor, y: Tensor) -> None:
        cfg, g = self._config, self.generator
        n = x.shape[0]
        n_holdout = max(2, round(cfg.holdout * n))
        if n - n_holdout < 5:
            raise DataError(
                f"recording {cfg.path}: {n} rows leave {n - n_holdout} for the fit after "
                f"holding out {n_holdout} (holdout = {cfg.holdout}); record more rows"
            )
        order = torch.randperm(n, generator=g)
        held, train = order[:n_holdout], order[n_holdout:]
        train = train[: cfg.max_train]
        x_tr, y_tr = x[train], y[train]
        self.x_mean, self.x_std = x_tr.mean(0), _safe_std(x_tr)
        self.y_mean, self.y_std = y_tr.mean(0), _safe_std(y_tr)
        xs = (x_tr - self.x_mean) / self.x_std
        ys = (y_tr - self.y_mean) / self.y_std
        cv = torch.randperm(xs.shape[0], generator=g)[: cfg.cv_points]
        width, ridge, cv_mse = _cross_validate(xs[cv], ys[cv], cfg.folds, g)
        alpha = _ridge_solve(_kernel(xs, xs, width), ys, ridge)
        if alpha is None:  # only possible with duplicated rows at the smallest ridge
            raise DataError(f"recording {cfg.path}: the kernel system is singular")
        self.x_train, self.alpha = xs, alpha
        self.width = torch.tensor(width, dtype=torch.float64)
        # Error on the held-out rows.
        y_ho = y[held]
        residual = self._predict(x[held]) - y_ho
        mse = (residual**2).mean(0)
        var = y_ho.var(0, unbiased=False).clamp_min(1e-300)
        self.residual_std = residual.std(0, unbiased=True)
        self._report_tensor = torch.stack(
            [
                (mse / var).sqrt(),
                1 - mse / var,
                torch.full_like(mse, (mse.sum() / var.sum()).sqrt().item()),
                torch.full_like(mse, (1 - mse.sum() / var.sum()).item()),
                torch.full_like(mse, float(xs.shape[0])),
                torch.full_like(mse, float(n_holdout)),
                torch.full_like(mse, ridge),
                torch.full_like(mse, cv_mse),
            ]
        )

    @property
    def fit_report(self) -> dict[str, Any]:
        """How well the emulator fits the held-out rows.

        Keys: ``rel_rmse`` (per output: RMSE / standard deviation of the held-out outputs),
        ``rel_rmse_overall``, ``r2`` (per output), ``r2_overall``, ``residual_std`` (per
        output, the measurement noise used), ``n_train``, ``n_holdout``, ``width`` (kernel
        width on standardised inputs), ``ridge``, ``cv_mse`` (cross-validated MSE in
        standardised output units).
        """
        r = self._report_tensor
        return {
            "rel_rmse": r[0].tolist(),
            "rel_rmse_overall": float(r[2, 0]),
            "r2": r[1].tolist(),
            "r2_overall": float(r[3, 0]),
            "residual_std": self.residual_std.tolist(),
            "n_train": int(r[4, 0]),
            "n_holdout": int(r[5, 0]),
            "width": float(self.width),
            "ridge": float(r[6, 0]),
            "cv_mse": float(r[7, 0]),
        }

    def _predict(self, x: Tensor) -> Tensor:
        """The noise-free emulator, differentiable in ``x``, in ``x``'s dtype."""
        x64 = x.to(device=self.alpha.device, dtype=torch.float64)
        xs = (x64 - self.x_mean) / self.x_std
        ys = _kernel(xs, self.x_train, self.width) @ self.alpha
        return (ys * self.y_std + self.y_mean).to(device=x.device, dtype=x.dtype)

    # --- the protocol ---------------------------------------------------------------------------

    def parameter_shape(self) -> tuple[int, ...]:
        return (0,)

    def _measure(self, x: Tensor) -> Tensor:
        out = self._predict(x)
        scale = self._config.noise_scale
        if scale > 0:
            noise = torch.randn(out.shape, generator=self.generator, dtype=torch.float64)
            out = out + (scale * self.residual_std * noise).to(device=out.device, dtype=out.dtype)
        return out

    def _program(self, delta: Tensor) -> None:
        """Nothing is programmable: an (empty) delta is a no-op."""

    def _read_parameters(self) -> Tensor:
        return torch.empty(0)

    def twin(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The noise-free emulator ``z = twin(x, params)`` (``params`` is empty, ignored)."""
        return lambda x, params: self._predict(x)

    # --- state ----------------------------------------------------------------------------------

    def _physical_state(self) -> dict[str, Tensor]:
        return {name: getattr(self, name).clone() for name in self._STATE}

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        for name in self._STATE:
            setattr(self, name, state[name].clone())


def _read(config: MeasuredConfig) -> tuple[np.ndarray, np.ndarray]:
    """The recording a config names (``ConfigError`` when it names none)."""
    if not config.path:
        raise ConfigError(
            "MeasuredConfig.path is empty: a measured substrate needs the path of a .csv or "
            ".npz recording"
        )
    return load_recording(config.path, x_prefix=config.x_prefix, y_prefix=config.y_prefix)


def _safe_std(a: Tensor) -> Tensor:
    std = a.std(0, unbiased=False)
    return torch.where(std > 0, std, torch.ones_like(std))
