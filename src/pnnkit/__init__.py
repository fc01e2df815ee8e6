"""pnnkit: train deep physical neural networks in situ.

The library keeps two axes independent: *physics* (:mod:`pnnkit.physics`, what a substrate
does to its input, with its noise, device behaviour and faults) and *learning rules*
(:mod:`pnnkit.learning`, how parameters change). Information estimators live in
:mod:`pnnkit.info`; datasets in :mod:`pnnkit.data`; runs, configs and the run folder in
:mod:`pnnkit.experiment`.
"""

from pnnkit.errors import (
    BadMeasurementError,
    CheckpointError,
    ConfigError,
    DataError,
    MeasurementError,
    PnnkitError,
    ShapeError,
    TooManyBadMeasurementsError,
    TrainingInterrupted,
)

__version__ = "0.1.0"

__all__ = [
    "BadMeasurementError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "MeasurementError",
    "PnnkitError",
    "ShapeError",
    "TooManyBadMeasurementsError",
    "TrainingInterrupted",
    "__version__",
]
