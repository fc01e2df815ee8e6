"""MNIST-1D, generated locally: a small 1-D stand-in for MNIST that is hard for linear models.

Source: S. Greydanus and D. Kobak, "Scaling down deep learning with MNIST-1D" (arXiv:2011.14439,
2020; ICML 2024), and the authors' reference implementation (https://github.com/greydanus/mnist1d,
PyPI package ``mnist1d``). This module is an independent numpy implementation of the construction
described there; it neither imports nor downloads anything.

Construction (defaults as in the paper): each of the 10 classes has a hand-drawn template of 12
points (a 1-D "digit"), whitened and shifted to start and end at 0, then scaled by 1/6. Every sample
takes its class template and

1. pads it on the right with a random number of zeros, uniform in ``[36, 60]``;
2. stretches the padded signal to 72 points by linear interpolation (so longer padding squeezes the
   digit: a random dilation);
3. multiplies it by a random factor uniform in ``[0.8, 1.2]``;
4. rotates it circularly by a random shift uniform in ``{0, ..., 47}`` (translation);
5. fills every point that is still exactly zero (the padding) with correlated Gaussian noise: white
   noise of standard deviation 0.25 smoothed by a Gaussian filter of width 2 samples;
6. adds white Gaussian noise of standard deviation 0.02 everywhere;
7. subtracts a random linear ramp ``c * linspace(-0.5, 0.5)``, ``c`` uniform in
   ``[-0.375, 0.375]`` (shear);
8. resamples the result to 40 points by linear interpolation.

The 5000 samples (500 a class) are shuffled, the whole set is centred and scaled to unit standard
deviation (one global mean and standard deviation), and the first 80 % (4000) form the training
split, the last 20 % (1000) the test split. Random numbers come from ``numpy.random.RandomState``
drawn in the reference implementation's order, so ``seed=42`` (its default) reproduces the
reference generator's arrays up to floating-point rounding.

Reported test accuracies on the original data: logistic regression about 32 %, MLP about 68 %,
CNN about 94 %, GRU about 91 %.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MNIST1D_LENGTH", "make_mnist1d"]

MNIST1D_LENGTH = 40  # points per signal

# The ten 12-point digit templates of the paper (rows = digits 0..9), before whitening.
_TEMPLATES = np.array(
    [
        [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
        [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
        [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
        [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
        [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
        [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
        [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
        [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
        [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
        [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
    ],
    dtype=np.float64,
)

_NUM_SAMPLES = 5000
_TRAIN_FRACTION = 0.8
_PADDING = (36, 60)
_SCALE_COEFF = 0.4
_MAX_TRANSLATION = 48
_CORR_NOISE = 0.25
_IID_NOISE = 0.02
_SHEAR = 0.75
_SMOOTH_SIGMA = 2.0
_EPS = 1e-8  # lifts the template off zero so step 5 only replaces the padding


def _templates() -> np.ndarray:
    t = _TEMPLATES - _TEMPLATES.mean(axis=1, keepdims=True)
    t = t / t.std(axis=1, keepdims=True)
    t = t - t[:, :1]
    return t / 6.0


def _resample(signal: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of ``signal`` (last axis) onto ``length`` evenly spaced points."""
    old = np.linspace(0.0, 1.0, signal.shape[-1])
    new = np.linspace(0.0, 1.0, length)
    return np.interp(new, old, signal)


def _smooth(noise: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along the last axis (kernel radius 4 sigma, mirrored edges)."""
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(noise, [(0, 0), (radius, radius)], mode="symmetric")
    n = noise.shape[-1]
    out = np.zeros_like(noise)
    for k, weight in enumerate(kernel):
        out += weight * padded[:, k : k + n]
    return out


def make_mnist1d(seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generate MNIST-1D deterministically from ``seed`` (see the module docstring).

    Returns:
        ``(x_train, y_train, x_test, y_test)``: float64 signals ``(4000, 40)`` and ``(1000, 40)``
        and int64 digit labels ``0..9``.
    """
    rng = np.random.RandomState(seed)
    templates = _templates()
    num_classes, template_len = templates.shape
    width = template_len + _PADDING[1]  # 72 points after dilation
    per_class = _NUM_SAMPLES // num_classes
    n = per_class * num_classes
    labels = np.repeat(np.arange(num_classes, dtype=np.int64), per_class)

    signals = np.empty((n, width))
    corr = np.empty((n, width))
    iid = np.empty((n, width))
    shear = np.empty(n)
    low, high = _PADDING
    for i, label in enumerate(labels):
        pad = low + int(rng.rand() * (high - low + 1))
        padded = np.concatenate([templates[label] + _EPS, np.zeros(pad)])
        stretched = _resample(padded, width)
        stretched *= 1.0 + _SCALE_COEFF * (rng.rand() - 0.5)
        signals[i] = np.roll(stretched, int(rng.randint(0, _MAX_TRANSLATION)))
        corr[i] = rng.randn(width)
        iid[i] = rng.randn(width)
        shear[i] = _SHEAR * (rng.rand() - 0.5)

    noise = _smooth(_CORR_NOISE * corr, _SMOOTH_SIGMA)
    signals = np.where(signals != 0, signals, noise)
    signals = signals + _IID_NOISE * iid
    signals = signals - shear[:, None] * np.linspace(-0.5, 0.5, width)
    x = np.stack([_resample(row, MNIST1D_LENGTH) for row in signals])

    order = rng.permutation(n)
    x, y = x[order], labels[order]
    x = (x - x.mean()) / x.std()
    cut = int(n * _TRAIN_FRACTION)
    return x[:cut], y[:cut], x[cut:], y[cut:]
