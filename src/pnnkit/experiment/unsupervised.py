"""Judging an unsupervised representation with the held-back labels.

Two standard read-outs of representation quality, both with scikit-learn:

* **linear probe** (as in self-supervised learning, e.g. Chen, Kornblith, Norouzi & Hinton,
  "A simple framework for contrastive learning of visual representations", ICML 2020):
  features standardised with the training split's statistics, multinomial logistic
  regression (L2, ``C = 1``, lbfgs, up to 2000 iterations) fitted on the training split's
  representation, accuracy on the test split's. How much class information is *linearly*
  available.
* **k-means NMI** (as in deep-clustering work, e.g. Caron, Bojanowski, Joulin & Douze, "Deep
  clustering for unsupervised learning of visual features", ECCV 2018): k-means with as many
  clusters as classes (10 restarts, seeded) on the representation as it is, of all samples
  (training and test split: no label enters training, and on digits' 450 test samples alone
  the NMI moved by about 0.03 between two measurements of the same hardware), then the
  normalised mutual information (arithmetic normalisation) between clusters and labels.
  Whether the classes are the representation's own clusters.

The network's representation is the last unit's measured output normalised to unit length:
the geometry the bottleneck kernels compare (see :class:`~pnnkit.info.BottleneckEstimator`)
and what the readout sees (:meth:`pnnkit.network.PhysicalNetwork.logits`). Only the last unit
is used, so that every baseline has the width of the representation a user of the trained
hardware gets. Baselines: the raw (standardised) input, PCA of the input to the
representation's width (at most the input dimension; fitted on the training split), and the
same physical network before training. The labels are used here only, never in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

from pnnkit.info import unit_normalize
from pnnkit.network import PhysicalNetwork

#: the representations every unsupervised run compares
REPRESENTATIONS = ("learned", "untrained", "raw", "pca")


@dataclass
class Representation:
    """A representation of the training and test splits (numpy arrays ``(n, width)``)."""

    train: np.ndarray
    test: np.ndarray


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


def network_representation(
    network: PhysicalNetwork, x_train: Tensor, x_test: Tensor, batch_size: int = 1024
) -> Representation:
    """The last unit's measured output, unit-normalised, for both splits (one physical query
    per sample and substrate)."""

    def measure(x: Tensor) -> np.ndarray:
        with torch.no_grad():
            parts = [
                unit_normalize(network.forward(x[i : i + batch_size])[-1])
                for i in range(0, x.shape[0], batch_size)
            ]
        return torch.cat(parts).double().numpy()

    return Representation(measure(x_train), measure(x_test))


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


def standardisation(x_raw_train: Tensor) -> tuple[Tensor, Tensor]:
    """``(mean, scale)`` per feature as the data loader standardises (training split,
    population std; a constant feature is only centred, scale 1), so that
    ``x = (raw - mean) / scale`` can be undone."""
    x = x_raw_train.double()
    constant = (x == x[:1]).all(dim=0)
    mean = torch.where(constant, x[0], x.mean(dim=0))
    scale = torch.where(constant, torch.ones_like(mean), x.std(dim=0, unbiased=False))
    return mean.float(), scale.float()
