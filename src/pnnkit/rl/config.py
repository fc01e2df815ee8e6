"""The typed configuration of a reinforcement-learning run, validated on load, saved with it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pnnkit.config import Config, Layout, build, check_types
from pnnkit.errors import ConfigError
from pnnkit.experiment.config import SECTIONS, RunSettings
from pnnkit.learning.pib import PIBConfig
from pnnkit.physics import SUBSTRATES
from pnnkit.rl.envs import env_info
from pnnkit.rl.pib_rl import SIGNALS
from pnnkit.rl.reinforce import ReinforceConfig

METHODS = ("pib", "reinforce")

#: PIB settings that differ in RL from supervised PIB (``PIBConfig``'s own defaults): no
#: compression term (the policy needs the fine state information that compression removes;
#: gamma 1 took 379 episodes to solve CartPole on average against 288, seeds 0-2, and in
#: exploratory runs with 8 unit steps per iteration it failed where gamma 0 solved,
#: docs/BENCHMARKS.md) and a constant learning rate (the data keep changing with the policy,
#: and a rate decaying over the budget would freeze it on early data).
#: The rest keeps the supervised settings RL was measured with before the supervised defaults
#: changed (issue 15: alpha 2, lr 1e-3, beta 1, the heads and similarity matching were chosen
#: on labelled data, not on CartPole).
PIB_RL_DEFAULTS: dict[str, Any] = {
    "gamma": 0.0,
    "schedule": "constant",
    "lr": 3e-4,
    "readout_lr": 1e-2,
    "beta": 10.0,
    "head_weight": 0.0,
    "similarity_weight": 0.0,
    "estimator": {"alpha": 0.5, "solver": "autograd"},
}

#: episodes per iteration when ``episodes_per_iteration`` is not given
DEFAULT_EPISODES_PER_ITERATION = {"pib": 16, "reinforce": 4}


@dataclass
class RLConfig(RunSettings, Config):
    """Everything that defines a reinforcement-learning run (every field has a default).

    Attributes:
        env: a gymnasium environment with discrete actions and vector observations
            (``CartPole-v1``, the reference; ``Acrobot-v1``, ``MountainCar-v0``).
        method: ``pib`` (a physical policy trained by PIB) or ``reinforce`` (the digital
            baseline: REINFORCE with a baseline on an MLP of the same widths, by backprop).
        substrate: physics of the policy's units (``crossbar`` by default; any substrate PIB
            can train, as in ``pnnkit train``). Ignored by ``reinforce``.
        stage: the trainable linear stage after non-linear physics (``ideal`` or ``crossbar``).
        hidden: widths of the units (64, 64: the usual size of CartPole policies).
        activation: periphery after each unit.
        episodes: training budget in episodes (evaluation episodes are not counted).
        episodes_per_iteration: episodes collected side by side per update (``None``: 16 for
            ``pib``, whose elite needs a population; 4 for ``reinforce``, which did best with
            small batches and more updates, docs/BENCHMARKS.md).
        signal: ``elite`` (cross-entropy method) or ``advantage`` (advantage-weighted label
            Gram); see :mod:`pnnkit.rl.pib_rl`.
        elite_fraction: share of each batch kept as elite (0.3, as in docs/pib.md's prototype).
        advantage_temperature: ``tau`` of the advantage weights ``exp(A / tau)``.
        discount: ``gamma`` of the returns-to-go (REINFORCE and the advantage signal).
        unit_steps: PIB steps of the physical units per iteration (1; with 8 one seed of
            three never solved CartPole: the units fit the noise of the sampled actions,
            docs/BENCHMARKS.md). 0 freezes the units (only the readout learns).
        readout_steps: readout steps per iteration on the training pairs' measured features.
        batch_size: ``(observation, action)`` pairs per step (also the Gram-matrix size).
        temperature: softmax temperature of the actions sampled in training.
        eval_episodes: greedy episodes per evaluation (100: gymnasium's definition of solved
            is a mean over 100 consecutive episodes).
        eval_every: evaluate whenever the training episodes pass a multiple of this.
        stop_when_solved: stop training once an evaluation reaches ``solve_threshold``.
        solve_threshold: the evaluation mean that counts as solved (``None``: the
            environment's ``reward_threshold``, 475 for CartPole-v1).
        seed: seeds the hardware, the policy's sampling, the updates and the episodes.
        substrate_options, stage_options: overrides of the substrates' config fields.
        pre_stage, pre_stage_options: a stage before the physics (training runs only; a
            policy refuses one).
        rule_options: overrides of the rule's config (``PIBConfig`` for ``pib``, on top of
            :data:`PIB_RL_DEFAULTS`; ``ReinforceConfig`` for ``reinforce``).
        out: the run folder.
    """

    env: str = "CartPole-v1"
    method: str = "pib"
    substrate: str = "crossbar"
    stage: str = "ideal"
    pre_stage: str = ""
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "relu"
    episodes: int = 1000
    episodes_per_iteration: int | None = None
    signal: str = "elite"
    elite_fraction: float = 0.3
    advantage_temperature: float = 1.0
    discount: float = 0.99
    unit_steps: int = 1
    readout_steps: int = 8
    batch_size: int = 256
    temperature: float = 1.0
    eval_episodes: int = 100
    eval_every: int = 16
    stop_when_solved: bool = True
    solve_threshold: float | None = None
    seed: int = 0
    substrate_options: dict[str, Any] = field(default_factory=dict)
    stage_options: dict[str, Any] = field(default_factory=dict)
    pre_stage_options: dict[str, Any] = field(default_factory=dict)
    rule_options: dict[str, Any] = field(default_factory=dict)
    out: str = "runs/rl"

    LAYOUT = Layout(SECTIONS)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field, its value, what is allowed."""

        def bad(name: str, allowed: str) -> ConfigError:
            return ConfigError(f"RLConfig.{name} = {getattr(self, name)!r} is invalid: {allowed}")

        check_types(self)
        if not self.hidden or not all(
            isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in self.hidden
        ):
            raise bad("hidden", "must be a non-empty list of positive integers, e.g. 64,64")
        if self.method not in METHODS:
            raise bad("method", f"choose one of {list(METHODS)}")
        self.check_network(bad)
        if self.pre_stage:
            raise bad(
                "pre_stage", "a policy takes no pre-stage yet (training runs do); leave it empty"
            )
        if self.method == "pib" and SUBSTRATES[self.substrate_config()[0]].energy_based:
            raise bad(
                "substrate",
                "it is energy-based (a unit with no linear stage), and PIB trains the policy's "
                "linear stages; use crossbar, ideal, or physics such as scattering (followed "
                "by a stage)",
            )
        if self.signal not in SIGNALS:
            raise bad("signal", f"choose one of {list(SIGNALS)}")
        for name, low in (("episodes", 1), ("eval_episodes", 1), ("eval_every", 1)):
            if getattr(self, name) < low:
                raise bad(name, f"must be an integer >= {low}")
        if self.episodes_per_iteration is not None and self.episodes_per_iteration < 1:
            raise bad("episodes_per_iteration", "must be an integer >= 1 (or none)")
        if not 0 < self.elite_fraction <= 1:
            raise bad("elite_fraction", "must be in (0, 1]")
        for name in ("advantage_temperature", "temperature"):
            if not getattr(self, name) > 0:
                raise bad(name, "must be > 0")
        if not 0 < self.discount <= 1:
            raise bad("discount", "must be in (0, 1]")
        for name in ("unit_steps", "readout_steps"):
            if getattr(self, name) < 0:
                raise bad(name, "must be an integer >= 0")
        self.check_run(bad)
        env_info(self.env)  # unknown names and unusable spaces raise a ConfigError here
        self._rule = self._build_rule_config()

    @property
    def iteration_size(self) -> int:
        """Episodes per iteration, with the method's default filled in."""
        if self.episodes_per_iteration is not None:
            return self.episodes_per_iteration
        return DEFAULT_EPISODES_PER_ITERATION[self.method]

    def rule_config(self) -> PIBConfig | ReinforceConfig:
        """The typed config of the method's rule (built when this config was)."""
        return self._rule

    def _build_rule_config(self) -> PIBConfig | ReinforceConfig:
        if self.method == "pib":
            options = {**PIB_RL_DEFAULTS, **self.rule_options}
            estimator = self.rule_options.get("estimator")
            if isinstance(estimator, dict):  # a partial estimator table keeps the RL defaults
                options["estimator"] = {**PIB_RL_DEFAULTS["estimator"], **estimator}
            return build(PIBConfig, options)
        return build(ReinforceConfig, self.rule_options)

    def resolved(self) -> dict[str, Any]:
        """This config with every default filled in: what is saved with the run."""
        values = dataclasses.asdict(self)
        values["episodes_per_iteration"] = self.iteration_size
        values.update(self.resolved_hardware())
        values["rule_options"] = dataclasses.asdict(self.rule_config())
        return values
