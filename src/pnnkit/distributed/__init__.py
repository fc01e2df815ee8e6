"""Distributed PIB training: each unit in a Ray actor that owns its hardware, batches pipelined
through the chain, units checkpointed and restarted when they die (docs/distributed.md)."""

from pnnkit.distributed.config import DistributedConfig
from pnnkit.distributed.pipeline import train_distributed
from pnnkit.distributed.unit import DistributedError, UnitWorker

__all__ = ["DistributedConfig", "DistributedError", "UnitWorker", "train_distributed"]
