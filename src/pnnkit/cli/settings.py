"""The flags of the settings of a training run (:class:`~pnnkit.experiment.TrainConfig`), shared
by ``pnnkit train`` and ``pnnkit config``. Each ``dest`` that is a config field defaults to None
(a switch: ``action="store_true", default=None``): only the flags given override a ``--config``
file. Lists of methods, substrates, tasks and datasets come from their registries."""

from __future__ import annotations

import argparse

from pnnkit.cli.flags import add_hidden, add_out, add_seed, add_set, add_validation, one_of


def add_train_settings(parser: argparse.ArgumentParser, *, download: bool) -> None:
    """The ``--config`` file and a flag per common :class:`TrainConfig` field, then ``--set``;
    ``download``: also ``--download`` (a run fetches its dataset; ``config`` only reads)."""
    from pnnkit.cli.resolve import folder_datasets
    from pnnkit.data import available_datasets
    from pnnkit.experiment import TrainConfig
    from pnnkit.learning import RULES
    from pnnkit.physics import SUBSTRATES
    from pnnkit.tasks import TASKS

    d = TrainConfig()
    linear = sorted(n for n, c in SUBSTRATES.items() if c.linear)
    physics = sorted(n for n, c in SUBSTRATES.items() if not c.linear)
    files = [s for s in available_datasets() if not s.endswith(":DIR")]
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read the settings from a TOML file, or the config.json of a run; the flags "
        "below and --set override it (see docs/configuration.md)",
    )
    parser.add_argument(
        "--task",
        help=f"{one_of(list(TASKS))} (default {d.task}); unsupervised is multi-view PIB: no "
        "labels in training; judged by a linear probe and k-means NMI against the raw input, "
        "PCA and the untrained network; method pib only",
    )
    parser.add_argument(
        "--method", help=f"learning rule: {', '.join(sorted(RULES))} (default {d.method})"
    )
    parser.add_argument(
        "--substrate",
        help=f"physics of the units (default {d.substrate}); a non-linear one "
        f"({', '.join(physics)}) is followed in each unit by a trainable --stage",
    )
    parser.add_argument(
        "--stage",
        help=f"linear stage after non-linear physics: {one_of(linear)} (default {d.stage})",
    )
    parser.add_argument(
        "--pre-stage",
        help=f"trainable linear stage before the physics: {one_of(linear)} (default none); maps "
        "each unit's input onto the physics' input ports, so a recording of any port count "
        "takes data of any width",
    )
    parser.add_argument(
        "--dataset",
        help=", ".join(f"{s} (default)" if s == d.dataset else s for s in files)
        + f", or {', '.join(folder_datasets())} with --data-dir",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"folder holding the raw files of {one_of(folder_datasets())}",
    )
    if download:
        parser.add_argument(
            "--download",
            action="store_true",
            help=f"download the raw files of {one_of(folder_datasets())} into --data-dir first "
            "(needs internet; never done otherwise)",
        )
    parser.add_argument("--label-column", help="label column of a CSV dataset")
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        help="hardware faults to inject, e.g. 'stuck:0.2@epoch=30' or "
        "'dead_camera:0.1;phase_drift:0.02/epoch' (see pnnkit.faults.spec)",
    )
    add_validation(parser, val_fraction=None, select=None)
    parser.add_argument("--epochs", type=int, help=f"(default {d.epochs})")
    parser.add_argument("--batch-size", type=int, help=f"(default {d.batch_size})")
    add_seed(parser, None, d.seed)
    widths = ",".join(str(w) for w in d.hidden)
    add_hidden(parser, None, f"widths of the physical units, comma-separated (default {widths})")
    add_out(parser, None, f"run folder (default {d.out})")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        default=None,
        help="also log the per-epoch scalars to RUN/tensorboard/ (needs pnnkit[tensorboard])",
    )
    parser.add_argument(
        "--max-bad-batches",
        type=int,
        help=f"consecutive bad measurements (NaN, Inf, out of range) before the run stops "
        f"(default {d.max_bad_batches})",
    )
    add_set(
        parser,
        "override any setting: epochs=10, rule.beta=20, rule.estimator.sigma2=0.5, "
        "substrate.levels=128, substrate.name=mzi (repeatable; applied last)",
    )
