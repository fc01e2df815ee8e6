"""``pnnkit device fit`` (a crossbar device model fitted to pulse measurements) and
``pnnkit device show`` (the pulse response of a preset or a fitted model, plotted)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pnnkit.physics.crossbar_config import CrossbarConfig


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add ``device`` with its sub-commands ``fit`` and ``show``."""
    device = verbs.add_parser("device", help="fit, inspect and compare crossbar device models")
    actions = device.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = actions.add_parser(
        "fit", help="fit the crossbar's device model to a pulse-response CSV (docs/devices.md)"
    )
    fit.add_argument("pulses", metavar="PULSES.csv", help="up/down pulse trains of devices")
    fit.add_argument("--out", default="device.toml", help="config file to write (device.toml)")
    fit.set_defaults(func=run_fit)
    show = actions.add_parser(
        "show", help="plot the up/down pulse response of a preset or a fitted config file"
    )
    show.add_argument("device", metavar="NAME|FILE.toml", help="preset name or config file")
    show.add_argument("--out", default=None, help="PNG to write (default: NAME_pulses.png)")
    show.add_argument("--devices", type=int, default=64, help="devices simulated (64)")
    show.set_defaults(func=run_show)


def run_fit(args: argparse.Namespace) -> int:
    """Fit, print each setting with its standard error and the trajectories' rms errors,
    write the ``[substrate]`` table."""
    from pnnkit.data.pulses import read_pulses
    from pnnkit.physics.device_fit import FITTED, fit_device

    trains = read_pulses(args.pulses)
    fit = fit_device(trains)
    fit.config()  # refuses an impossible fit, naming the field
    print(f"{len(trains.devices)} devices, {trains.g.shape[1]} cycle(s), {trains.pulses} pulses")
    print(f"{'setting':<16}{'fitted':>12}{'std error':>12}")
    for name in FITTED:
        print(f"{name:<16}{fit.values[name]:>12.4g}{fit.errors[name]:>12.3g}")
    print(f"rms of the reads about each device's fitted curve: {fit.rms_device:.4g} uS")
    print(f"rms of the reads about the fitted model's mean curve: {fit.rms_model:.4g} uS")
    Path(args.out).write_text(fit.toml(args.pulses), encoding="utf-8")
    print(f"wrote {args.out} (use: pnnkit train --config {args.out})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Simulate the device's pulse trains, print its settings, plot them."""
    from pnnkit.errors import ConfigError
    from pnnkit.physics.crossbar_config import CrossbarConfig
    from pnnkit.physics.crossbar_presets import PRESETS, preset_names
    from pnnkit.physics.device_fit import generate_pulses
    from pnnkit.results.pulse_plot import plot_pulse_trains

    if args.device in PRESETS:
        config, label = CrossbarConfig.from_dict({"preset": args.device}), args.device
    elif Path(args.device).suffix.lower() in (".toml", ".json"):
        config, label = _file_config(args.device), Path(args.device).stem
    else:
        raise ConfigError(
            f"device {args.device!r} is neither a preset ({preset_names()}) nor a .toml file"
        )
    if args.devices < 3:
        raise ConfigError(f"--devices {args.devices} is invalid: must be >= 3")
    pulses = min(max(2 * config.levels, 40), 2000)
    trains = generate_pulses(config, devices=args.devices, cycles=2, pulses=pulses)
    for name, value in config.to_dict().items():
        print(f"{name} = {value}")
    out = args.out or f"{label}_pulses.png"
    plot_pulse_trains(trains, out, f"crossbar device: {label}")
    print(f"wrote {out}")
    return 0


def _file_config(path: str) -> CrossbarConfig:
    """The crossbar settings of a config file's ``[substrate]`` table (refusing another
    substrate)."""
    from pnnkit.config import read_config_file
    from pnnkit.errors import ConfigError
    from pnnkit.experiment import TrainConfig
    from pnnkit.physics.crossbar_config import CrossbarConfig

    values = read_config_file(path, TrainConfig)
    if values.get("substrate", "crossbar") != "crossbar":
        raise ConfigError(f"{path}: [substrate] name is {values['substrate']!r}, not crossbar")
    return CrossbarConfig.from_dict(values.get("substrate_options", {}))
