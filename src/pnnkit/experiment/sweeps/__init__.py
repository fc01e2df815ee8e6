"""Grids of runs: :mod:`~pnnkit.experiment.sweeps.bench` (methods x substrates x datasets x
seeds, ``pnnkit bench``) and :mod:`~pnnkit.experiment.sweeps.fault_sweep` (a fault kind over
its rates, ``pnnkit faults``)."""
