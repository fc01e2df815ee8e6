"""Backpropagation through an exact digital model: the reference every physical rule is judged by.

In-silico training (:class:`~pnnkit.learning.insilico.InSilico`) with a twin that has no
mismatch: the cross-entropy of the readout is backpropagated end to end (Rumelhart, Hinton &
Williams, Nature 323:533, 1986) through every substrate's differentiable twin into every
programmable parameter (weights, phases, drives), and the result is deployed to the hardware by
write-and-verify before each evaluation. This is only the true gradient when the twin is exact,
so the rule refuses substrates whose twin is not (training on an approximate model and
deploying is ``--method insilico``).
"""

from __future__ import annotations

from pnnkit.learning.base import RuleConfig
from pnnkit.learning.insilico import InSilico
from pnnkit.learning.registry import Needs, register
from pnnkit.learning.twins import TwinMismatch


@register(RuleConfig)
class Backprop(InSilico):
    """End-to-end backpropagation on exact twins; spends no physical queries while training."""

    name = "backprop"
    needs = Needs(twin="exact", pre_stages=True)

    def mismatch(self) -> TwinMismatch:
        return TwinMismatch(parameter_error=0.0, nonlinearity=0.0)
