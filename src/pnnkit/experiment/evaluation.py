"""Measuring a network apart from training: accuracy, the information plane, representations
and their scores.

**Apart from training.** Inside :func:`evaluation_apart` the costs of the measurements go to an
evaluation tally instead of the training counters, and every substrate's random stream is
restored afterwards, so how often and on how much one evaluates never changes the training
trajectory.

**Bad measurements.** An evaluation pass (one chunk of predictions, the information-plane
batch, one chunk of a representation) whose measurement is bad (a
:class:`~pnnkit.errors.BadMeasurementError`) is measured again (:meth:`Evaluator.retried`), with
fresh draws of the hardware's noise: inside :func:`evaluation_apart` the generators move on
between attempts and are restored only afterwards, so a retry never replays the same bad draw.
After ``max_attempts`` bad attempts of one pass:
:class:`~pnnkit.errors.TooManyBadMeasurementsError`.

**Representation scores** (for the unsupervised task), both with scikit-learn:

* **linear probe** (as in self-supervised learning, e.g. Chen, Kornblith, Norouzi & Hinton,
  "A simple framework for contrastive learning of visual representations", ICML 2020):
  features standardised with the training split's statistics, multinomial logistic
  regression (L2, ``C = 1``, lbfgs, up to 2000 iterations) fitted on the training split's
  representation, accuracy on the test split's. How much class information is *linearly*
  available.
* **k-means NMI** (as in deep-clustering work, e.g. Caron, Bojanowski, Joulin & Douze, "Deep
  clustering for unsupervised learning of visual features", ECCV 2018): k-means with as many
  clusters as classes (10 restarts, seeded) on the representation as it is, of all samples
  (training and test split: no label enters training, and more samples make the clustering
  score less noisy), then the normalised mutual information (arithmetic normalisation)
  between clusters and labels. Whether the classes are the representation's own clusters.

The network's representation is the last unit's measured output normalised to unit length:
the geometry the bottleneck kernels compare (see :class:`~pnnkit.info.BottleneckEstimator`)
and what the readout sees (:meth:`pnnkit.network.PhysicalNetwork.logits`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

from pnnkit.errors import BadMeasurementError, TooManyBadMeasurementsError
from pnnkit.info import BottleneckEstimator, unit_normalize
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import Counters

T = TypeVar("T")

#: evaluation passes measure this many samples at a time (as ``PhysicalNetwork.predict``
#: does), and a bad pass is measured again on its own
EVAL_CHUNK = 1024


@contextmanager
def evaluation_apart(network: PhysicalNetwork, tally: Counters) -> Iterator[None]:
    """Evaluate without touching training: the costs go to ``tally`` instead of the training
    counters, and every substrate's random stream is restored afterwards, so how often and on
    how much one evaluates never changes the training trajectory."""
    hardware = network.substrates()
    saved = [(dataclasses.replace(s.counters), s.generator.get_state()) for s in hardware]
    try:
        yield
    finally:
        for substrate, (before, rng) in zip(hardware, saved, strict=True):
            spent = substrate.counters - before
            for name, value in spent.as_dict().items():
                setattr(tally, name, getattr(tally, name) + value)
            substrate.counters = before
            substrate.generator.set_state(rng)


def information_plane(
    network: PhysicalNetwork, estimator: BottleneckEstimator, x: Tensor, y: Tensor
) -> tuple[list[float], list[float]]:
    """``I(X;T_k)`` and ``I(T_k;Y)`` of every unit on one batch, measured through the hardware."""
    x_gram = estimator.input_gram(x)
    y_gram = estimator.label_gram(y, network.readout.out_features)
    with torch.no_grad():
        terms = [estimator.terms(x_gram, t, y_gram) for t in network.forward(x)]
    return [float(a) for a, _ in terms], [float(b) for _, b in terms]


@dataclass
class Representation:
    """A representation of the training and test splits (numpy arrays ``(n, width)``)."""

    train: np.ndarray
    test: np.ndarray


class Evaluator:
    """Evaluation passes of one network, each measured again while it is bad (module
    docstring). ``on_bad(line)`` is told of every bad attempt (the caller counts and logs it);
    ``where()`` names the point of the run for the messages (``epoch 3:``)."""

    def __init__(
        self,
        network: PhysicalNetwork,
        *,
        max_attempts: int,
        on_bad: Callable[[str], None],
        where: Callable[[], str],
    ) -> None:
        self.network = network
        self.max_attempts = max_attempts
        self.on_bad = on_bad
        self.where = where

    def retried(self, what: str, measure: Callable[[], T]) -> T:
        """``measure()``, one evaluation pass, measured again while its measurement is bad (at
        most ``max_attempts`` attempts; inside :func:`evaluation_apart` each attempt draws
        fresh noise)."""
        attempts = self.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return measure()
            except BadMeasurementError as error:
                last = error
                self.on_bad(
                    f"{self.where()} {what}, attempt {attempt}/{attempts}: measuring again: {error}"
                )
        raise TooManyBadMeasurementsError(
            f"evaluation stopped: {what} ({self.where()}) gave bad measurements "
            f"{attempts} times in a row (last: {last})"
        )

    def accuracy(
        self, predict: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, what: str
    ) -> float:
        """The accuracy of ``predict`` on ``(x, y)``, measured chunk by chunk (each chunk
        retried)."""
        predictions = [self.retried(what, partial(predict, chunk)) for chunk in x.split(EVAL_CHUNK)]
        return float((torch.cat(predictions) == y).float().mean())

    def representation(self, x_train: Tensor, x_test: Tensor, what: str) -> Representation:
        """The last unit's measured output, unit-normalised, for both splits (each chunk
        retried)."""

        def last_unit(chunk: Tensor) -> Tensor:
            return unit_normalize(self.network.forward(chunk)[-1])

        def measure(x: Tensor) -> np.ndarray:
            with torch.no_grad():
                parts = [
                    self.retried(what, partial(last_unit, chunk)) for chunk in x.split(EVAL_CHUNK)
                ]
            return torch.cat(parts).double().numpy()

        return Representation(measure(x_train), measure(x_test))


def linear_probe(rep: Representation, y_train: Tensor, y_test: Tensor, *, seed: int = 0) -> float:
    """Test accuracy of a logistic regression fitted on the standardised training representation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    # one BLAS thread: the problem is small, and on a shared machine threads only contend
    with threadpool_limits(1):
        scaler = StandardScaler().fit(rep.train)
        probe = LogisticRegression(max_iter=2000, random_state=seed)
        probe.fit(scaler.transform(rep.train), y_train.numpy())
        return float(probe.score(scaler.transform(rep.test), y_test.numpy()))


def kmeans_nmi(features: np.ndarray, labels: Tensor, num_classes: int, *, seed: int = 0) -> float:
    """NMI between ``labels`` and the k-means clusters of ``features`` (``num_classes``
    clusters, 10 restarts, seeded)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    with threadpool_limits(1):
        kmeans = KMeans(n_clusters=num_classes, n_init=10, random_state=seed)
        clusters = kmeans.fit_predict(features)
    return float(normalized_mutual_info_score(labels.numpy(), clusters))


def scores(
    rep: Representation, y_train: Tensor, y_test: Tensor, num_classes: int, *, seed: int = 0
) -> dict[str, float]:
    """``{"probe": linear-probe accuracy on the test split, "nmi": k-means NMI on both
    splits}`` of one representation."""
    everything = np.concatenate([rep.train, rep.test])
    labels = torch.cat([y_train, y_test])
    return {
        "probe": linear_probe(rep, y_train, y_test, seed=seed),
        "nmi": kmeans_nmi(everything, labels, num_classes, seed=seed),
    }


def raw_representation(x_train: Tensor, x_test: Tensor) -> Representation:
    """The input itself (standardised by the data loader)."""
    return Representation(x_train.double().numpy(), x_test.double().numpy())


def pca_representation(
    x_train: Tensor, x_test: Tensor, width: int, *, seed: int = 0
) -> Representation:
    """PCA of the input to ``min(width, features, training samples)`` components, fitted on
    the training split."""
    from sklearn.decomposition import PCA

    width = min(width, x_train.shape[1], x_train.shape[0])
    with threadpool_limits(1):
        pca = PCA(n_components=width, random_state=seed).fit(x_train.double().numpy())
        return Representation(
            pca.transform(x_train.double().numpy()), pca.transform(x_test.double().numpy())
        )


def embedding_2d(features: np.ndarray) -> np.ndarray:
    """The first two principal components of ``features`` (for plots)."""
    from sklearn.decomposition import PCA

    with threadpool_limits(1):
        return PCA(n_components=2).fit_transform(features)
