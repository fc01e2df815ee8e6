"""The one way every verb builds its config from the command line: the defaults < a
``--config`` file < the flags given < ``--set``, through :func:`pnnkit.config.resolve_config`
(so every setting is validated once, when the config is built, with the same messages)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any, TypeVar

from pnnkit.config import resolve_config
from pnnkit.errors import ConfigError

T = TypeVar("T")


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The config fields of ``cls`` set by flags (those whose value is not None)."""
    fields = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in fields and v is not None}


def resolve_args(cls: type[T], args: argparse.Namespace, assignments: Sequence[str] = ()) -> T:
    """The validated ``cls`` config of the command line ``args``: its ``--config`` file (if the
    verb has one), the flags given and the ``assignments``."""
    path = getattr(args, "config", None)
    return resolve_config(cls, path=path, flags=given(args, cls), assignments=assignments)


def folder_datasets() -> list[str]:
    """The datasets read from a folder of raw files (``mnist:DIR``): given by ``--data-dir``."""
    from pnnkit.data import available_datasets

    return [s.removesuffix(":DIR") for s in available_datasets() if s.endswith(":DIR")]


def train_config(args: argparse.Namespace) -> Any:
    """The :class:`~pnnkit.experiment.TrainConfig` of a ``train`` or ``config`` command line,
    its dataset folder resolved (``mnist`` with ``--data-dir DIR [--download]`` ->
    ``mnist:DIR``, downloading first)."""
    from pnnkit.experiment import TrainConfig

    config = resolve_args(TrainConfig, args, args.set)
    dataset, data_dir, download = config.dataset, args.data_dir, getattr(args, "download", False)
    folders = folder_datasets()
    if dataset not in folders:
        if data_dir or download:
            raise ConfigError(
                f"--data-dir and --download apply to {', '.join(folders)}, "
                f"not to --dataset {dataset}"
            )
        return config
    if not data_dir:
        raise ConfigError(
            f"--dataset {dataset} reads its raw files from a folder: add --data-dir DIR "
            f"(and --download to fetch them there, which needs internet)"
        )
    if download:
        from pnnkit.data import download_dataset

        download_dataset(dataset, data_dir)
    return dataclasses.replace(config, dataset=f"{dataset}:{data_dir}")


#: the settings a resumed run may change (the checkpoint fixes the rest)
RESUMABLE = ("epochs", "max_bad_batches", "tensorboard")


def resume_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` plus the flags a resumed run may change; any other setting is refused."""
    from pnnkit.experiment import TrainConfig

    flags = given(args, TrainConfig)
    refused = sorted(set(flags) - set(RESUMABLE))
    for flag, used in (
        ("--config", args.config is not None),
        ("--data-dir", args.data_dir is not None),
        ("--download", getattr(args, "download", False)),
    ):
        if used:
            refused.insert(0, flag)
    if refused or args.overwrite:
        names = refused + (["--overwrite"] if args.overwrite else [])
        raise ConfigError(
            f"--resume continues a run with the config saved in its checkpoint; drop "
            f"{', '.join(names)} (only --epochs, --max-bad-batches and --tensorboard may change)"
        )
    return [f"{key}={str(value).lower()}" for key, value in flags.items()] + list(args.set)
