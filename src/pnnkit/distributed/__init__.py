"""Distributed PIB training: each unit in a Ray actor that owns its hardware, batches pipelined
through the chain, units checkpointed and restarted when they die (docs/distributed.md).

Modules by job: :mod:`~pnnkit.distributed.driver` (the pipelined loop and the run's records),
:mod:`~pnnkit.distributed.messages` (what flows between driver and units),
:mod:`~pnnkit.distributed.unit` (the actor: one unit trained in place),
:mod:`~pnnkit.distributed.cluster` (starting or joining Ray, placing the actors),
:mod:`~pnnkit.distributed.recovery` (restarting a lost unit and replaying its messages).
"""

from pnnkit.distributed.config import DistributedConfig
from pnnkit.distributed.driver import train_distributed
from pnnkit.distributed.messages import DistributedError
from pnnkit.distributed.unit import UnitWorker

__all__ = ["DistributedConfig", "DistributedError", "UnitWorker", "train_distributed"]
