"""Named device presets of the crossbar (``--set substrate.preset=NAME``): published device
parameters mapped onto :class:`~pnnkit.physics.crossbar_config.CrossbarConfig`'s soft-bounds model.

The sources are IBM aihwkit's documented presets (``aihwkit.simulator.presets.devices``) and the
papers they fit. aihwkit writes a device in weight units: ``dw_min`` (the step at the symmetry
point), bounds ``w_min < 0 < w_max``, ``up_down`` (step asymmetry), ``*_dtod`` (device-to-device
spreads, relative for the step, absolute for the bounds) and ``dw_min_std`` (cycle-to-cycle
noise in units of ``dw_min``). Its soft-bounds update is ``dw_up = dw_min (1 + up_down)
(1 - w / w_max)`` and ``dw_down = dw_min (1 - up_down) (1 - w / w_min)``; ours is
``dG_up = 2 s (1 + a) (g_hi - G) / S`` and ``dG_down = 2 s (1 - a) (G - g_lo) / S`` on a window
``S``. Equating the slopes on ``S = w_max - w_min`` gives

* ``s_up = dw_min (1 + up_down) S / (2 w_max)``, ``s_down = dw_min (1 - up_down) S / (2 |w_min|)``;
* the nominal step ``s = (s_up + s_down) / 2``, so ``levels = S / s``, and the asymmetry
  ``step_asymmetry = (s_up - s_down) / (s_up + s_down)``;
* ``d2d_step = dw_min_dtod``; ``d2d_bounds`` = the mean of ``w_max_dtod`` and ``w_min_dtod``
  (absolute) over ``S`` (ours only narrows a window, by a half-normal draw);
* ``c2c_noise = dw_min_std`` where it is at most 1. Ours is multiplicative and clamped so a
  pulse never moves backwards, which biases the mean step beyond about 1; a noisier source
  keeps its update variance per unit of requested change, ``c2c^2 s = (dw_min_std dw_min)^2
  / s_source``, at ``c2c_noise = 1`` with a coarser step (fewer ``levels``).

What the model cannot express is stated per preset: aihwkit's write noise (a programming error
redrawn on every write), exponential or linear step models, uni-directional PCM with refresh.
Read noise is not part of these device fits; every preset keeps pnnkit's 2% (see
``CrossbarConfig.read_noise``), and absolute conductances stay at 1-20 uS (only ratios enter
the computation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    """A named set of crossbar settings, its source and what the mapping leaves out."""

    values: dict[str, Any]
    source: str
    notes: str


def soft_bounds(
    dw_min: float, w_min: float, w_max: float, up_down: float = 0.0, dw_min_std: float = 0.3
) -> dict[str, Any]:
    """``levels``, ``step_asymmetry`` and ``c2c_noise`` of an aihwkit soft-bounds device (the
    mapping of the module docstring)."""
    span = w_max - w_min
    s_up = dw_min * (1 + up_down) * span / (2 * w_max)
    s_down = dw_min * (1 - up_down) * span / (2 * abs(w_min))
    step = (s_up + s_down) / 2
    c2c = dw_min_std
    if c2c > 1:  # same update variance per unit change at c2c = 1, coarser steps
        step, c2c = (dw_min_std * dw_min) ** 2 / step, 1.0
    return {
        "levels": max(2, round(span / step)),
        "step_asymmetry": round((s_up - s_down) / (s_up + s_down), 4),
        "c2c_noise": c2c,
    }


_GONG_2018 = "Gong et al., Nat. Commun. 9:2102 (2018), as aihwkit's ReRamSBPresetDevice"
_GONG_2022 = "Gong, Rasch et al., IEDM 2022, as aihwkit's ReRamArray{}PresetDevice"

PRESETS: dict[str, Preset] = {
    "default": Preset(
        {},
        "pnnkit's defaults: typical HfOx/TaOx 1T1R arrays (Yao et al. 2020, Wan et al. 2022; "
        "variability of Gokmen & Vlasov 2016)",
        "the settings documented on CrossbarConfig",
    ),
    "reram_gong2018": Preset(
        {
            **soft_bounds(0.002, -0.75, 1.25, dw_min_std=3.75),
            "d2d_step": 0.3,
            "d2d_bounds": round((0.3 + 0.3) / 2 / 2.0, 4),
        },
        _GONG_2018,
        "dw_min_std 3.75 mapped at c2c_noise 1 with coarser steps; write noise (56 dw_min) "
        "not modelled; symmetry point assumed not subtracted (asymmetric bounds kept)",
    ),
    "hfo2_gong2022": Preset(
        {
            **soft_bounds(0.4622, -1.0, 1.0, dw_min_std=0.2174),
            "d2d_step": 0.7125,
            "d2d_bounds": round((0.4295 + 0.5990) / 2 / 2.0, 4),
        },
        _GONG_2022.format("HfO2") + " (baseline HfO2 array)",
        "about 4 states; log-normal step spread taken as normal (clamped at 5% of nominal); "
        "write noise (0.58 dw_min) and corrupt devices not modelled",
    ),
    "reram_om_gong2022": Preset(
        {
            **soft_bounds(0.0949, -1.0, 1.0, dw_min_std=0.4158),
            "d2d_step": 0.7829,
            "d2d_bounds": round((0.3499 + 0.5695) / 2 / 2.0, 4),
        },
        _GONG_2022.format("OM") + " (optimised-material array)",
        "log-normal step spread taken as normal; write noise (1.41 dw_min) not modelled",
    ),
    "pcm_nandakumar2020": Preset(
        {
            "levels": 50,
            "step_asymmetry": 0.9,
            "c2c_noise": 0.6,
            "d2d_step": 0.2,
            "d2d_bounds": round(0.1 / 2 / 2.0, 4),
        },
        "Nandakumar et al., Front. Neurosci. 14:406 (2020), as aihwkit's PCMPresetDevice",
        "uni-directional (SET only, RESET with refresh) in the source; here depression steps "
        "are 19 times smaller than potentiation (step_asymmetry 0.9). Its exponential step "
        "(dw_min 0.01 on [0, 2], A_up -27.2, gamma 2.5) makes early steps far larger than "
        "dw_min, so the nominal 200 states overstate its resolution: levels 50 is a coarse "
        "reading of that curve, not a fit; no refresh is modelled",
    ),
    "ecram_tang2018": Preset(
        {
            "levels": round(2.0 / 0.002),
            "step_asymmetry": 0.0,
            "c2c_noise": 0.3,
            "d2d_step": 0.1,
            "d2d_bounds": round(0.05 / 2.0, 4),
            "max_pulses": 255,
        },
        "Tang et al., IEDM 2018 (Li-ion ECRAM), as aihwkit's EcRamPresetDevice",
        "symmetric, 1000 states; the source's near-linear step (gamma 0.12 up, 0.51 down) "
        "is soft-bounded here; max_pulses 255 (an 8-bit pulse counter) so an update can move "
        "a quarter of the window",
    ),
}


def preset_names() -> list[str]:
    """The presets' names, sorted."""
    return sorted(PRESETS)


def with_preset(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` over the settings of the preset they name (``preset``, default ``default``):
    explicit settings win. An unknown name is left for ``CrossbarConfig.validate`` to refuse."""
    preset = PRESETS.get(str(values.get("preset", "default")))
    return {**preset.values, **values} if preset is not None else values
