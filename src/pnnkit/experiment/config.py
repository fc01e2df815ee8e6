"""The typed configuration of a training run, validated on load, saved with every run; and
its layout in config files and on the command line (:data:`SECTIONS`, written here once)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pnnkit.config import Config, Layout, Section, build, check_types
from pnnkit.errors import ConfigError
from pnnkit.faults import FaultSchedule, format_faults, parse_faults
from pnnkit.learning import RULES, RuleConfig, rule_config
from pnnkit.learning.multiview import MultiViewConfig
from pnnkit.network import ACTIVATIONS, PhysicalNetwork
from pnnkit.physics import SUBSTRATES, SubstrateConfig
from pnnkit.tasks import TASKS

#: which epoch's test accuracy a supervised run reports: the last, or the best on validation
SELECTIONS = ("last", "best-val")

#: the tables of a config file and the prefixes of ``--set`` (``[rule]``, ``rule.beta=20``):
#: the options of the substrate (``name`` in the table names the substrate itself), of the
#: linear stage, and of the rule, whose meaning the method (and the task) choose
SECTIONS = (
    Section("substrate", "substrate_options", chosen_by=("substrate",)),
    Section("stage", "stage_options", chosen_by=("stage",)),
    Section("pre_stage", "pre_stage_options", chosen_by=("pre_stage",)),
    Section("rule", "rule_options", chosen_by=("method", "task")),
)


def fault_tables(value: Any) -> Any:
    """A ``faults`` list of tables (the table form of :mod:`pnnkit.faults.spec`, as a config
    file writes it) as the equivalent spec string; other values unchanged."""
    if not isinstance(value, list):
        return value
    for index, table in enumerate(value):
        if not isinstance(table, dict) or not isinstance(table.get("kind"), str):
            raise ConfigError(
                f"faults[{index}] = {table!r} is invalid: must be a table with a "
                f"'kind' string (e.g. {{kind = \"stuck\", rate = 0.2}})"
            )
    return format_faults(parse_faults(value))


class RunSettings:
    """The fields every run's config has (its physical network, seed, batch size and run
    folder), checked and built once, when the config is: the part :class:`TrainConfig` and
    :class:`pnnkit.rl.config.RLConfig` share. The substrate's and the stage's options become
    their typed configs here (each naming its own invalid fields), and the network is built
    from those."""

    substrate: str
    substrate_options: dict[str, Any]
    stage: str
    stage_options: dict[str, Any]
    pre_stage: str
    pre_stage_options: dict[str, Any]
    hidden: list[int]
    activation: str
    seed: int
    batch_size: int
    out: str

    def check_run(self, bad: Callable[[str, str], ConfigError]) -> None:
        """Check the batch size, seed and run folder (``bad(field, allowed)`` makes the error)."""
        if self.batch_size < 2:
            raise bad("batch_size", "must be an integer >= 2 (the estimators compare samples)")
        if not 0 <= self.seed < 2**32:
            raise bad("seed", "must be an integer in [0, 2**32)")
        if not self.out.strip():
            raise bad("out", "must name a run folder")

    def check_network(self, bad: Callable[[str, str], ConfigError]) -> None:
        """Check the substrate, stage and activation names (``bad(field, allowed)`` makes the
        error) and build the substrate's and the stage's configs."""
        name, options = substrate_spec(self.substrate, self.substrate_options)
        if name not in SUBSTRATES:
            raise bad("substrate", f"choose one of {sorted(SUBSTRATES)} or measured:PATH")
        linear_stages = sorted(n for n, c in SUBSTRATES.items() if c.linear)
        if self.stage not in linear_stages:
            raise bad("stage", f"must be a linear substrate: one of {linear_stages}")
        if self.pre_stage and self.pre_stage not in linear_stages:
            raise bad("pre_stage", f"must be empty or a linear substrate: one of {linear_stages}")
        kind = SUBSTRATES[name]
        if self.pre_stage and (kind.linear or kind.energy_based):
            raise bad(
                "pre_stage",
                f"a pre-stage drives fixed physics, and substrate {name!r} is "
                f"{'a linear stage itself' if kind.linear else 'energy-based'}; leave it empty",
            )
        if self.pre_stage_options and not self.pre_stage:
            raise bad("pre_stage_options", "set pre_stage (ideal or crossbar) to use them")
        if self.activation not in ACTIVATIONS:
            raise bad("activation", f"choose one of {sorted(ACTIVATIONS)}")
        self._substrate = name, kind.config_class.from_dict(options)
        self._stage_config = SUBSTRATES[self.stage].config_class.from_dict(self.stage_options)
        self._pre_config = (
            SUBSTRATES[self.pre_stage].config_class.from_dict(self.pre_stage_options)
            if self.pre_stage
            else None
        )

    def substrate_config(self) -> tuple[str, SubstrateConfig]:
        """The substrate's registered name (``measured:PATH`` is ``measured``) and typed config."""
        return self._substrate

    def resolved_hardware(self) -> dict[str, dict[str, Any]]:
        """``substrate_options`` and ``stage_options`` with every default of their configs
        filled in (what a run folder records)."""
        return {
            "substrate_options": self._substrate[1].to_dict(),
            "stage_options": self._stage_config.to_dict(),
            "pre_stage_options": {} if self._pre_config is None else self._pre_config.to_dict(),
        }

    def build_network(self, in_features: int, out_features: int) -> PhysicalNetwork:
        """The physical network these settings describe, uncalibrated."""
        name, substrate_config = self._substrate
        return PhysicalNetwork.build(
            name,
            in_features,
            self.hidden,
            out_features,
            activation=self.activation,
            substrate_config=substrate_config,
            stage=self.stage,
            stage_config=self._stage_config,
            pre_stage=self.pre_stage,
            pre_stage_config=self._pre_config,
            seed=self.seed,
        )


@dataclass
class TrainConfig(RunSettings, Config):
    """Everything that defines a training run (every field has a default).

    Attributes:
        task: ``supervised`` (the default: train on the labels, report test accuracy) or
            ``unsupervised`` (multi-view PIB, :mod:`pnnkit.learning.multiview`: the labels are
            never used in training, only to judge the representation by a linear probe and
            k-means NMI against the raw input, PCA and the untrained network; method ``pib``
            only, ``rule_options`` are then those of ``MultiViewConfig``). On a stack of
            linear stages (crossbar, ideal) use ``activation = tanh`` for this task: with
            ``relu`` the deeper units get uncentred inputs and the multi-view objective
            sparsifies them until units die (measured in benchmarks/bench_unsupervised.py).
        method: learning rule: ``pib`` (the default), ``backprop`` (exact twin, the digital
            ceiling), ``insilico`` (twin with mismatch, then deployed), ``pat``
            (physics-aware), ``ff`` (model-free forward-forward), ``dfa``, ``spsa``, ``hsic``,
            ``eqprop`` (energy-based substrates only), or ``readout`` (hardware frozen, only
            the readout trained: the baseline a rule for the units must beat). See
            docs/methods.md.
        substrate: physics of every unit. A linear substrate (``crossbar``, ``ideal``) is the
            unit; any other (``scattering``, ``mzi``, ...) is fixed physics followed by a
            ``stage``.
        stage: the trainable linear stage after non-linear physics (``ideal``: digital, or
            ``crossbar``); ignored for a linear ``substrate``.
        pre_stage: a trainable linear stage *before* the physics (``ideal`` or ``crossbar``;
            empty, the default: none), mapping each unit's input onto the physics' input ports
            through a ``tanh`` drive, so that a system of any port count (a recording) takes
            data of any width and can sit in every unit. Trained by ``pib`` (its own local
            objective, docs/pib.md), ``backprop``, ``insilico`` and ``pat`` (through the
            twins); ``readout`` leaves it as built; other rules refuse it. Not with a linear
            or energy-based substrate.
        dataset: ``digits``, ``iris`` or ``csv:PATH``.
        label_column: label column of a CSV dataset (default: ``label``, else the last column).
        test_size: held-out fraction, stratified.
        val_fraction: fraction of the *training* split held out for validation, stratified,
            drawn from the seed (a stream apart from the test split's) and disjoint from the
            training and test splits; carved out before the standardisation statistics are
            computed, so they come from the remaining training samples alone. Datasets with
            their own test split (``mnist1d``, ``npz``, ``mnist:DIR``, ...) give it from their
            training part the same way. ``val_accuracy`` is then measured every epoch
            (``metrics.jsonl``, ``summary.json``) and ``select = best-val`` can use it. In
            [0, 1); 0 turns it off (the training split is then the whole of it, as before
            this setting existed). Ignored by the unsupervised task, which uses no labels to
            choose anything. A fraction that leaves a class without a sample in the
            validation or the training split is refused.
        select: which epoch's test accuracy the summary reports as ``test_accuracy``:
            ``last`` (the last epoch's, the default) or ``best-val`` (that of the epoch with
            the highest validation accuracy, the earliest such epoch on a tie; needs
            ``val_fraction > 0`` and the supervised task). The network in the run folder is
            the last epoch's either way (a physical network is not rolled back); the summary
            also holds ``last_test_accuracy`` and ``selected_epoch``.
        epochs: passes over the training split.
        batch_size: samples per update (also the Gram-matrix size of the PIB estimators).
        seed: seeds the split, the hardware (device variation, noise) and the rule.
        hidden: widths of the physical units.
        activation: periphery after each unit (``relu``, ``tanh``, ``identity``).
        substrate_options: overrides of the substrate's config fields (e.g. ``{"levels": 128}``).
        stage_options: overrides of the stage's config fields.
        pre_stage_options: overrides of the pre-stage's config fields (needs ``pre_stage``).
        rule_options: overrides of the rule's config fields (e.g. ``{"beta": 20}``).
        info_samples: training samples on which the information plane is measured each epoch.
        calibration_samples: training samples measured once before training to fix the
            conditioning (centre and scale) of every physics output; unused without physics.
        faults: hardware faults to inject, in the spec language of :mod:`pnnkit.faults.spec`
            (e.g. ``stuck:0.2@epoch=30`` or ``dead_camera:0.1;phase_drift:0.02/epoch``); empty:
            none. Checked against the network before training; what was injected when is
            logged per epoch in ``metrics.jsonl`` and summed up in ``summary.json``.
        max_bad_batches: how many bad measurements in a row (NaN, Inf or out of range: a
            :class:`~pnnkit.errors.BadMeasurementError`) the run tolerates. A training batch
            whose measurement is bad is skipped (no update), counted in ``metrics.jsonl``
            (``bad_batches``) and logged in ``guard.log``; an evaluation pass that is bad is
            measured again. After this many consecutive bad training batches, or bad attempts
            of one evaluation pass, the run stops with an error and ``checkpoint.pt`` holds the
            last good state. 10 (at least 1): at a glitch rate of 10% a run stops by chance
            with probability about 1e-10 per batch, while hardware that has really failed
            costs no more than 10 wasted batches before the run stops.
        tensorboard: also write the per-epoch scalars (losses, accuracies, the information
            plane per unit, costs, bad batches) to ``RUN/tensorboard/`` for TensorBoard
            (needs the ``tensorboard`` package). Off by default: ``metrics.jsonl`` holds the
            same numbers, and the package is an optional dependency.
        out: the run folder.
    """

    task: str = "supervised"
    method: str = "pib"
    substrate: str = "crossbar"
    stage: str = "ideal"
    pre_stage: str = ""
    dataset: str = "digits"
    label_column: str | None = None
    test_size: float = 0.25
    val_fraction: float = 0.1
    select: str = "last"
    epochs: int = 60
    batch_size: int = 256
    seed: int = 0
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    activation: str = "relu"
    substrate_options: dict[str, Any] = field(default_factory=dict)
    stage_options: dict[str, Any] = field(default_factory=dict)
    pre_stage_options: dict[str, Any] = field(default_factory=dict)
    rule_options: dict[str, Any] = field(default_factory=dict)
    info_samples: int = 512
    calibration_samples: int = 512
    faults: str = ""
    max_bad_batches: int = 10
    tensorboard: bool = False
    out: str = "runs/latest"

    LAYOUT = Layout(SECTIONS, file_forms={"faults": fault_tables})

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field, its value, what is allowed."""

        def bad(name: str, allowed: str) -> ConfigError:
            return ConfigError(f"{name} = {getattr(self, name)!r} is invalid: {allowed}")

        check_types(self)
        if not all(isinstance(w, int) and not isinstance(w, bool) for w in self.hidden):
            raise bad("hidden", "must be a non-empty list of positive integers, e.g. 256,256")

        if self.task not in TASKS:
            raise bad("task", f"choose one of {list(TASKS)}")
        if self.method not in RULES:
            raise bad("method", f"choose one of {sorted(RULES)}")
        if self.task == "unsupervised" and self.method != "pib":
            raise ConfigError(
                f"method = {self.method!r} is invalid for task 'unsupervised': it supports "
                f"method 'pib' only (multi-view PIB)"
            )
        self.check_network(bad)
        if not 0 < self.test_size < 1:
            raise bad("test_size", "must be in (0, 1)")
        if not 0 <= self.val_fraction < 1:
            raise bad("val_fraction", "must be in [0, 1) (0 turns the validation split off)")
        if self.select not in SELECTIONS:
            raise bad("select", f"choose one of {list(SELECTIONS)}")
        if self.select == "best-val" and self.task != "supervised":
            raise bad("select", "'best-val' applies to the supervised task only: use 'last'")
        if self.select == "best-val" and self.val_fraction == 0:
            raise bad("select", "'best-val' needs a validation split: set val_fraction > 0")
        if self.epochs < 1:
            raise bad("epochs", "must be an integer >= 1")
        self.check_run(bad)
        FaultSchedule(self.faults or None, seed=self.seed)  # parses; errors name the token
        if not self.hidden or any(w < 1 for w in self.hidden):
            raise bad("hidden", "must be a non-empty list of positive integers, e.g. 256,256")
        if self.info_samples < 2:
            raise bad("info_samples", "must be an integer >= 2")
        if self.calibration_samples < 2:
            raise bad("calibration_samples", "must be an integer >= 2")
        if self.max_bad_batches < 1:
            raise bad("max_bad_batches", "must be an integer >= 1")
        # The rule's section validates itself and names its own fields.
        if self.task == "unsupervised":
            self._rule: RuleConfig = build(MultiViewConfig, self.rule_options)
        else:
            self._rule = rule_config(self.method, self.rule_options)

    def validation_fraction(self) -> float:
        """The fraction of the training split this run holds out for validation:
        ``val_fraction`` for the supervised task, 0 for the unsupervised one (which ignores it)."""
        return self.val_fraction if self.task == "supervised" else 0.0

    def rule_config(self) -> RuleConfig:
        """The typed config of the rule this run trains with (built when this config was): the
        method's, or :class:`~pnnkit.learning.multiview.MultiViewConfig` for the unsupervised
        task."""
        return self._rule

    def resolved(self) -> dict[str, Any]:
        """This config with every nested default filled in: what is saved with the run."""
        values = dataclasses.asdict(self)
        values.update(self.resolved_hardware())
        values["rule_options"] = self.rule_config().to_dict()
        return values


def substrate_spec(spec: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split ``measured:PATH`` into the substrate name and its options (``path`` added)."""
    name, sep, path = spec.partition(":")
    if not sep:
        return spec, options
    if name != "measured" or not path:
        raise ConfigError(
            f"substrate = {spec!r} is invalid: only measured:PATH takes a path "
            f"(a CSV or NPZ recording of a real system)"
        )
    return name, {**options, "path": path}
