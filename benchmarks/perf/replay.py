"""Clocks around a network's substrate calls, and substrates that answer from a recording, so
that a training step's digital time can be told from its (simulated) hardware time."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch

from pnnkit.learning import PIB, PIBConfig, rule_config
from pnnkit.network import PhysicalNetwork

from .harness import CLASSES, now


class Timed:
    """Wraps a bound method and adds up the time spent in it."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args: Any) -> Any:
        return self.wrap(self.fn)(*args)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with its time added to this clock too."""

        def timed(*args: Any) -> Any:
            t0 = now()
            out = fn(*args)
            self.seconds += now() - t0
            return out

        return timed


class HardwareClock:
    """Time spent inside the substrates' ``_measure``, ``_program`` and ``_read_parameters``
    (what ``Counters.hardware_seconds`` counts), on :data:`CLOCK`."""

    def __init__(self, net: PhysicalNetwork) -> None:
        self.clock = Timed(lambda: None)
        for substrate in net.substrates():
            for name in ("_measure", "_program", "_read_parameters"):
                setattr(substrate, name, self.clock.wrap(getattr(substrate, name)))

    @property
    def seconds(self) -> float:
        return self.clock.seconds


class ReplayedHardware:
    """Serves every substrate call of ``net`` from a recording of one real call each: measure
    returns a copy of the recorded output, programming does nothing, read-back returns the
    recorded parameters. A step then spends no time simulating physics, so its whole time is
    the rule's digital work, which has the same shapes and code path as on the real substrate;
    this also removes what subtracting the simulation's time cannot: the simulation's effect
    on the caches the digital work finds (on real hardware the physics runs outside the
    controller's processor). Each substrate answers with its last recorded output whatever
    the input: valid for steps that measure every substrate once (PIB's), not for rules that
    query a substrate several times per step."""

    def __init__(self, net: PhysicalNetwork, step: Callable[[], Any]) -> None:
        recorded: dict[tuple[int, str], Any] = {}

        def recorder(key: tuple[int, str], real: Callable[..., Any]) -> Callable[..., Any]:
            def record(*args: Any) -> Any:
                recorded[key] = out = real(*args)
                return out

            return record

        calls = [(s, name) for s in net.substrates() for name in ("_measure", "_read_parameters")]
        for substrate, name in calls:
            setattr(substrate, name, recorder((id(substrate), name), getattr(substrate, name)))
        step()  # one real step records every answer
        for substrate, name in calls:
            answer = recorded.get((id(substrate), name))
            if answer is not None:  # a call the step never made keeps the real method
                setattr(substrate, name, lambda *args, answer=answer: answer.clone())
        for substrate in net.substrates():
            vars(substrate)["_program"] = lambda delta: None


def pib_rule(substrate: str, widths: list[int], settings: dict[str, Any]):
    net = PhysicalNetwork.build(substrate, 64, widths, CLASSES, seed=0)
    config = rule_config("pib", {"estimator": settings})
    assert isinstance(config, PIBConfig)
    rule = PIB(net, config, total_steps=100_000)
    vars(rule)["local_gradient"] = Timed(rule.local_gradient)
    est = rule.config.estimator
    grams = Timed(lambda: None)  # one clock for the input and label Gram matrices
    for name in ("input_gram", "label_gram"):
        setattr(est, name, grams.wrap(getattr(est, name)))
    vars(rule)["gram_clock"] = grams
    return net, rule


def torch_mlp(widths: list[int]) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    layers: list[torch.nn.Module] = []
    sizes = [64, *widths]
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], CLASSES))
    return model, torch.optim.Adam(model.parameters(), 1e-3)
