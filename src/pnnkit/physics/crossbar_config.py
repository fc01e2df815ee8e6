"""The settings of the simulated crossbar (:mod:`pnnkit.physics.crossbar`): device and periphery
parameters, with the published sources of their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pnnkit.physics.crossbar_presets import PRESETS, preset_names, with_preset
from pnnkit.physics.protocol import SubstrateConfig


@dataclass
class CrossbarConfig(SubstrateConfig):
    """Device and periphery parameters of :class:`Crossbar` (defaults: typical published RRAM).

    Attributes:
        preset: a named device (:mod:`pnnkit.physics.crossbar_presets`, docs/devices.md) whose
            settings fill every field not given explicitly when the config is built from
            values (a file, ``--set``, ``from_dict``); ``default`` is the settings below.
            Built directly in Python, the fields are taken as given.
        g_min: nominal low conductance, uS. Analog RRAM arrays are programmed in a window of
            about 1-20 uS or a few tens of uS (HfOx/TaOx 1T1R; e.g. Yao et al., Nature
            577:641, 2020; Wan et al., Nature 608:504, 2022).
        g_max: nominal high conductance, uS (see ``g_min``).
        levels: distinguishable conductance levels per device: the nominal pulse step is
            ``(g_max - g_min) / levels``. 32-64 levels are routinely reported for analog RRAM
            in arrays; thousands have been shown with careful tuning (Rao et al., Nature
            615:823, 2023). Default 64 (6 bits).
        d2d_bounds: device-to-device spread of each device's own window: ``g_lo`` is raised
            and ``g_hi`` lowered by ``|N(0, d2d_bounds)|`` times the nominal window (so
            windows only shrink, by about 16% on average at the default 10%; variability of
            that order is common in HfOx arrays, and aihwkit's ReRAM presets fitted to Gong
            et al. 2018 use more).
        d2d_step: device-to-device relative std of the pulse step (30%: the resistive
            processing unit specification of Gokmen & Vlasov, Front. Neurosci. 10:333, 2016,
            and the fitted ReRAM variability of Gong et al., Nat. Commun. 9:2102, 2018).
        c2c_noise: cycle-to-cycle relative std of every single pulse's step (30%, Gokmen &
            Vlasov 2016; measured RRAM is often noisier).
        step_asymmetry: potentiation steps are ``(1 + a)`` and depression steps ``(1 - a)``
            times nominal (0: symmetric at mid-window; soft bounds already make steps depend
            on the state).
        read_noise: relative std of every device's conductance on every read (2%: read
            fluctuations of analog RRAM cells are typically 1-5%).
        dac_bits: input DAC resolution (8 bits, typical of analog in-memory accelerators).
        adc_bits: output ADC resolution (8 bits, as above).
        adc_range: ADC clipping range in normalised current units, times ``sqrt(in + 1)``
            (1.0 covers about 6 standard deviations of a randomly programmed array).
        max_pulses: longest pulse train per device per update (31, a 5-bit pulse counter as
            in stochastic-pulse update schemes; larger requests saturate).
        weight_scale: weight of a fully-set pair, in units of ``1 / sqrt(in_features)``
            (2.0: random initial states then have about the spread of a fan-in initialised
            layer, with room on both sides).
        init_spread: devices start at conductances uniform in the central ``init_spread``
            fraction of their window (1.0: the whole window), as left by forming; no
            weight is written at initialisation.
        stuck_at_min_fraction: fraction of devices stuck at their low bound (default 0).
        stuck_at_max_fraction: fraction of devices stuck at their high bound (default 0).
    """

    preset: str = "default"
    g_min: float = 1.0
    g_max: float = 20.0
    levels: int = 64
    d2d_bounds: float = 0.10
    d2d_step: float = 0.30
    c2c_noise: float = 0.30
    step_asymmetry: float = 0.0
    read_noise: float = 0.02
    dac_bits: int = 8
    adc_bits: int = 8
    adc_range: float = 1.0
    max_pulses: int = 31
    weight_scale: float = 2.0
    init_spread: float = 1.0
    stuck_at_min_fraction: float = 0.0
    stuck_at_max_fraction: float = 0.0

    @staticmethod
    def upgrade(values: dict[str, Any]) -> dict[str, Any]:
        """The named preset's settings under the explicit ones (applied once, as the config is
        built from values; the result is validated once, by construction)."""
        return with_preset(values)

    def validate(self) -> None:
        super().validate()
        self._require("preset", self.preset in PRESETS, f"one of {preset_names()}")
        self._require("g_min", self.g_min >= 0, ">= 0 (uS)")
        self._require("g_max", self.g_max > self.g_min, f"> g_min = {self.g_min} (uS)")
        self._require("levels", self.levels >= 2, "an integer >= 2")
        self._require("d2d_bounds", 0 <= self.d2d_bounds < 0.5, "in [0, 0.5)")
        self._require("d2d_step", 0 <= self.d2d_step < 1, "in [0, 1)")
        self._require("c2c_noise", 0 <= self.c2c_noise <= 2, "in [0, 2]")
        self._require("step_asymmetry", -1 < self.step_asymmetry < 1, "in (-1, 1)")
        self._require("read_noise", 0 <= self.read_noise <= 1, "in [0, 1]")
        self._require("dac_bits", 1 <= self.dac_bits <= 24, "an integer in [1, 24]")
        self._require("adc_bits", 1 <= self.adc_bits <= 24, "an integer in [1, 24]")
        self._require("adc_range", self.adc_range > 0, "> 0")
        self._require("max_pulses", self.max_pulses >= 1, "an integer >= 1")
        self._require("weight_scale", self.weight_scale > 0, "> 0")
        self._require("init_spread", 0 <= self.init_spread <= 1, "in [0, 1]")
        for name in ("stuck_at_min_fraction", "stuck_at_max_fraction"):
            self._require(name, 0 <= getattr(self, name) <= 1, "in [0, 1]")
        self._require(
            "stuck_at_max_fraction",
            self.stuck_at_min_fraction + self.stuck_at_max_fraction <= 1,
            "such that stuck_at_min_fraction + stuck_at_max_fraction <= 1",
        )
