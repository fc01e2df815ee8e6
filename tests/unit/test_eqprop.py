"""The resistive substrate (relaxation, twin, programming, state) and equilibrium propagation
(gradient estimate against the exact gradient, query cost, model-freeness, learning)."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F

from pnnkit.config import build
from pnnkit.errors import ConfigError, MeasurementError, ShapeError
from pnnkit.learning.eqprop import EqProp, EqPropConfig
from pnnkit.network import PhysicalNetwork, Unit
from pnnkit.physics import ResistiveConfig, ResistiveNetwork, make_substrate
from tests.fixtures.substrates import assert_twin_exact_when_quiet_and_close_when_noisy

PRECISE = {"dtype": "float64", "tol": 1e-13, "max_sweeps": 100_000}


def resistive(n_in=4, n_out=3, hidden=(5,), seed=0, **overrides) -> ResistiveNetwork:
    config = ResistiveConfig(hidden=list(hidden), **overrides)
    return ResistiveNetwork(n_in, n_out, seed=seed, config=config)


def batch(n=8, d=4, classes=3, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.arange(n) % classes


def energy(sub: ResistiveNetwork, x: torch.Tensor, states, current=None) -> torch.Tensor:
    """The co-content ``1/2 sum g (V_i - V_j)^2 - I . V_out``, written out edge by edge from
    the conductance matrices (independently of the substrate's relaxation code)."""
    cfg = sub.config()
    n = x.shape[0]
    bias = torch.tensor([cfg.bias_voltage, -cfg.bias_voltage], dtype=x.dtype).expand(n, 2)
    below = [torch.cat([cfg.input_scale * x, -cfg.input_scale * x], 1), *states[:-1]]
    total = x.new_zeros(())
    for g, v, a in zip(sub.parameter_groups(), states, below, strict=True):
        a = torch.cat([a, bias], 1)
        total = total + 0.5 * (g * (v[:, :, None] - a[:, None, :]) ** 2).sum()
    if current is not None:
        total = total - (current * states[-1]).sum()
    return total


# --- the substrate --------------------------------------------------------------------------


@pytest.mark.parametrize("with_current", [False, True])
def test_relaxation_reaches_the_box_constrained_minimum(with_current):
    """KKT conditions of the QP hold at the relaxed state, which also matches a long projected
    gradient descent on the energy; all voltages lie between the diode rails."""
    sub = resistive(hidden=(6, 5), v_max=0.05, bias_voltage=0.1, **PRECISE)
    x, _ = batch(n=6, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    current = 0.05 * torch.randn(6, 3, generator=g, dtype=torch.float64) if with_current else None
    states = sub.relax(x, current)
    assert sub.last_sweeps > 2
    clipped_low = clipped_high = 0
    for k, v in enumerate(states):
        v = v.clone().requires_grad_(True)
        trial = [s if j != k else v for j, s in enumerate(states)]
        (grad,) = torch.autograd.grad(energy(sub, x, trial, current), v)
        low, high = v.detach() <= 0.0, v.detach() >= 0.05
        inside = ~(low | high)
        assert float(v.detach().min()) >= 0.0 and float(v.detach().max()) <= 0.05
        assert int(inside.sum()) > 0
        assert bool((grad[inside].abs() < 1e-10).all())  # Kirchhoff's law at free nodes
        assert bool((grad[low] >= -1e-10).all()) and bool((grad[high] <= 1e-10).all())
        clipped_low += int(low.sum())
        clipped_high += int(high.sum())
    assert clipped_low > 0 and clipped_high > 0  # both rails are active: a real test of the box

    pgd = [torch.full_like(v, 0.025).requires_grad_(True) for v in states]
    step = 1 / (2 * max(float(d.max()) for d in sub.circuit.denominators(sub.parameter_groups())))
    for _ in range(1000):
        grads = torch.autograd.grad(energy(sub, x, pgd, current), pgd)
        with torch.no_grad():
            for v, g in zip(pgd, grads, strict=True):
                v.sub_(step * g).clamp_(0.0, 0.05)
    for v, ref in zip(states, pgd, strict=True):
        torch.testing.assert_close(v, ref.detach(), rtol=0, atol=1e-9)


def test_a_layer_without_neighbours_is_the_clipped_weighted_mean_in_one_sweep():
    sub = resistive(hidden=(), n_in=3, n_out=2, v_min=-5.0, v_max=5.0)
    x, _ = batch(n=4, d=3)
    (g,) = sub.parameter_groups()
    sources = torch.cat([x, -x, torch.tensor([1.0, -1.0]).expand(4, 2)], 1)
    torch.testing.assert_close(sub.measure(x), sources @ g.T / g.sum(1))


def test_output_current_raises_the_outputs_it_is_injected_into():
    sub = resistive()
    x, _ = batch()
    free = sub.relax(x)
    pushed = sub.relax(x, torch.full((8, 3), 0.05))
    assert bool((pushed[-1] >= free[-1]).all()) and float((pushed[-1] - free[-1]).max()) > 0
    # started from the free state, the circuit settles to the same unique equilibrium
    again = sub.relax(x, torch.full((8, 3), 0.05), start=free)
    torch.testing.assert_close(again[-1], pushed[-1], rtol=0, atol=1e-5)


def test_relax_is_one_counted_pass_and_checks_its_input():
    sub = resistive()
    x, _ = batch(n=5)
    states = sub.relax(x)
    assert [tuple(v.shape) for v in states] == [(5, 5), (5, 3)]
    assert (sub.counters.passes, sub.counters.physical_queries) == (1, 5)
    torch.testing.assert_close(sub.measure(x), states[-1])
    with pytest.raises(ShapeError):
        sub.relax(torch.zeros(5, 3))
    with pytest.raises(ShapeError):
        sub.relax(x, torch.zeros(5, 2))
    with pytest.raises(MeasurementError):
        sub.relax(torch.full((5, 4), float("nan")))
    assert sub.counters.passes == 2  # only measure and the first relax ran


def test_twin_is_exact_when_quiet_and_close_when_noisy():
    x, _ = batch(n=16)
    assert_twin_exact_when_quiet_and_close_when_noisy(resistive(), resistive(read_noise=1e-4), x)
    assert ResistiveNetwork.energy_based and ResistiveNetwork.exact_twin


def test_twin_gradients_match_finite_differences():
    sub = resistive(**PRECISE)
    readout = torch.nn.Linear(3, 3).double()
    x, y = batch(dtype=torch.float64)
    model = sub.twin()

    def loss(xx, gg):
        return F.cross_entropy(readout(model(xx, gg)), y)

    g = sub.read_parameters().requires_grad_(True)
    xg = x.clone().requires_grad_(True)
    grad_x, grad_g = torch.autograd.grad(loss(xg, g), [xg, g])
    assert float(grad_g.abs().max()) > 0
    eps = 1e-6
    with torch.no_grad():
        for i in range(0, g.numel(), 5):
            e = torch.zeros_like(g)
            e[i] = eps
            fd = (loss(x, g + e) - loss(x, g - e)) / (2 * eps)
            assert float(fd) == pytest.approx(float(grad_g[i]), rel=1e-5, abs=1e-9)
        for i, j in [(0, 0), (3, 2), (7, 3)]:
            e = torch.zeros_like(x)
            e[i, j] = eps
            fd = (loss(x + e, g) - loss(x - e, g)) / (2 * eps)
            assert float(fd) == pytest.approx(float(grad_x[i, j]), rel=1e-5, abs=1e-9)


def test_twin_clips_conductances_like_programming_does():
    sub = resistive()
    x, _ = batch()
    target = torch.rand(sub.parameter_shape(), generator=torch.Generator().manual_seed(1)) * 2 - 0.5
    sub.program_to(target)
    torch.testing.assert_close(sub.twin()(x, target), sub.measure(x))


def test_program_clips_to_the_conductance_range_and_counts_writes():
    sub = resistive(g_min=0.02, g_max=0.8)
    before = sub.read_parameters()
    delta = torch.zeros(sub.parameter_shape())
    delta[:10], delta[10:20] = 5.0, -5.0
    delta[20:25] = 0.01
    sub.program(delta)
    after = sub.read_parameters()
    assert bool((after[:10] == 0.8).all()) and bool((after[10:20] == 0.02).all())
    torch.testing.assert_close(after[20:25], before[20:25] + 0.01)
    torch.testing.assert_close(after[25:], before[25:], rtol=0, atol=0)
    assert sub.counters.device_writes == sub.counters.programming_pulses == 25

    noisy = resistive(program_noise=0.2)
    start = noisy.read_parameters()
    noisy.program(torch.full(noisy.parameter_shape(), 0.01))
    landed = noisy.read_parameters() - start
    assert 0.001 < float(landed.std()) < 0.004  # 20% of the requested 0.01
    assert float(landed.mean()) == pytest.approx(0.01, rel=0.1)


def test_initial_conductances_are_seeded_and_in_range():
    a, b, c = resistive(seed=4), resistive(seed=4), resistive(seed=5)
    torch.testing.assert_close(a.read_parameters(), b.read_parameters(), rtol=0, atol=0)
    assert not torch.equal(a.read_parameters(), c.read_parameters())
    g = a.read_parameters()
    assert float(g.min()) >= 0.01 and float(g.max()) <= 0.5
    assert a.parameter_shape() == (5 * (8 + 2) + 3 * (5 + 2),)
    assert [tuple(m.shape) for m in a.parameter_groups()] == [(5, 10), (3, 7)]


def test_substrate_state_dict_round_trip_resumes_identically():
    a = resistive(read_noise=1e-3, program_noise=0.1)
    x, _ = batch()
    a.program(torch.full(a.parameter_shape(), 0.05))
    a.measure(x)
    b = resistive(read_noise=1e-3, program_noise=0.1, seed=9)
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    delta = torch.full(a.parameter_shape(), -0.02)
    a.program(delta)
    b.program(delta)
    torch.testing.assert_close(a.relax(x), b.relax(x), rtol=0, atol=0)
    assert a.counters == b.counters
    with pytest.raises(ConfigError):
        resistive(read_noise=0.0).load_state_dict(a.state_dict())


@pytest.mark.parametrize(
    "values",
    [
        {"g_min": 0.0},
        {"g_max": 0.005},
        {"init_max": 2.0},
        {"v_min": 1.0},
        {"hidden": [4, 0]},
        {"hidden": "8"},
        {"tol": 0.0},
        {"read_noise": -1.0},
        {"program_noise": 2.0},
        {"dtype": "float16"},
    ],
)
def test_bad_substrate_settings_are_refused(values):
    with pytest.raises(ConfigError):
        make_substrate("resistive", 4, 3, config=values)


def test_build_makes_one_energy_based_unit_with_the_hidden_widths():
    net = PhysicalNetwork.build("resistive", 6, [7, 5, 4], 3, seed=2)
    (unit,) = net.units
    assert unit.stage is None and unit.physics.layer_sizes == [7, 5, 4]
    assert build(ResistiveConfig, {"hidden": [3, 2]}).hidden == [3, 2]


# --- equilibrium propagation ------------------------------------------------------------------

BETAS = (1.0, 0.3, 0.1, 0.03, 0.01)


def precise_network(seed=0) -> PhysicalNetwork:
    net = PhysicalNetwork.build("resistive", 4, [5, 3], 3, seed=seed, substrate_config=PRECISE)
    net.readout.double()
    return net


def relative_errors(centred: bool) -> list[float]:
    net = precise_network()
    physics = net.units[0].physics
    x, y = batch(dtype=torch.float64)
    g = physics.read_parameters().requires_grad_(True)
    (true,) = torch.autograd.grad(F.cross_entropy(net.logits(physics.twin()(x, g)), y), g)
    errors = []
    for beta in BETAS:
        rule = EqProp(net, EqPropConfig(beta=beta, centred=centred), total_steps=1)
        estimate, _, _ = rule.estimate_gradient(x, y)
        errors.append(float((estimate - true).norm() / true.norm()))
    return errors


def test_eqprop_estimate_tends_to_the_true_gradient_as_beta_shrinks():
    """Against the exact gradient (implicit differentiation, itself checked against finite
    differences above) on 4 -> [5] -> 3 nodes, batch 8, no read noise, float64."""
    centred, plain = relative_errors(True), relative_errors(False)
    print("\nbeta   centred      one-sided")
    for beta, c, p in zip(BETAS, centred, plain, strict=True):
        print(f"{beta:<6} {c:<12.3g} {p:.3g}")
    for errors in (centred, plain):
        assert all(b <= a + 1e-9 for a, b in itertools.pairwise(errors))
    assert all(c < p for c, p in zip(centred, plain, strict=True))
    assert centred[-1] < 1e-6  # exact once no diode switches between the nudged states
    assert plain[-1] < 0.01
    assert plain[-2] / plain[-1] == pytest.approx(3.0, rel=0.15)  # bias linear in beta


@pytest.mark.parametrize(("centred", "relaxations"), [(True, 3), (False, 2)])
def test_queries_per_training_sample(centred, relaxations):
    net = PhysicalNetwork.build("resistive", 4, [5, 3], 3, seed=0)
    rule = EqProp(net, EqPropConfig(centred=centred), total_steps=2)
    x, y = batch(n=16)
    rule.train_step(x, y)
    rule.train_step(x, y)
    counters = net.counters()
    assert counters.physical_queries == 2 * relaxations * 16
    assert counters.passes == 2 * relaxations
    assert counters.device_writes > 0


def test_eqprop_never_uses_a_model_of_the_physics(monkeypatch):
    assert EqProp.model_free
    net = PhysicalNetwork.build("resistive", 4, [5, 3], 3, seed=0)
    physics = net.units[0].physics

    def forbidden():
        raise AssertionError("a model-free rule asked for a digital model of the physics")

    monkeypatch.setattr(physics, "twin", forbidden)
    rule = EqProp(net, EqPropConfig(), total_steps=3)
    x, y = batch()
    for _ in range(3):
        rule.train_step(x.requires_grad_(True), y)


def test_a_step_programs_minus_lr_times_the_estimate():
    net = PhysicalNetwork.build("resistive", 4, [5, 3], 3, seed=0)
    physics = net.units[0].physics
    config = EqPropConfig(optimizer="sgd", schedule="constant", lr=0.05)
    rule = EqProp(net, config, total_steps=1)
    x, y = batch()
    grad, _, _ = rule.estimate_gradient(x, y)
    before = physics.read_parameters()
    rule.train_step(x, y)
    expected = (before - 0.05 * grad).clamp(0.01, 1.0)
    torch.testing.assert_close(physics.read_parameters(), expected)


def test_samples_with_all_outputs_on_the_rail_are_not_nudged():
    """A sample whose outputs all sit at 0 V has a loss gradient of about 1/eps (the readout
    normalises a zero vector) but no gradient reaches clipped nodes: it must add nothing."""
    net = PhysicalNetwork.build("resistive", 4, [5, 3], 3, seed=0)
    physics = net.units[0].physics
    delta = torch.zeros(physics.parameter_shape())
    out = physics.parameter_groups(delta)[-1]
    out[:, -2], out[:, -1] = -0.01, 0.01  # output bias pulled towards -1 V: some samples die
    physics.program(delta)
    x, y = batch(n=16, seed=5)
    dead = physics.measure(x).norm(dim=1) == 0
    alive = int((~dead).sum())
    assert 0 < alive < 16
    rule = EqProp(net, EqPropConfig(), total_steps=1)
    everything, _, _ = rule.estimate_gradient(x, y)
    living, _, _ = rule.estimate_gradient(x[~dead], y[~dead])
    assert float(living.abs().max()) > 0
    torch.testing.assert_close(everything * 16 / alive, living)


def test_eqprop_refuses_networks_that_are_not_one_energy_based_unit():
    x = {"lr": 0.1}
    with pytest.raises(ConfigError, match="energy-based"):
        EqProp(PhysicalNetwork.build("ideal", 4, [5], 3), EqPropConfig(**x), total_steps=1)
    units = [
        Unit(None, "identity", resistive(n_in=4, n_out=5, hidden=())),
        Unit(None, "identity", resistive(n_in=5, n_out=3, hidden=())),
    ]
    with pytest.raises(ConfigError, match="energy-based"):
        EqProp(PhysicalNetwork(units, 3), EqPropConfig(), total_steps=1)


@pytest.mark.parametrize("values", [{"beta": 0.0}, {"beta": -1.0}, {"centred": "maybe"}])
def test_bad_rule_settings_are_refused(values):
    with pytest.raises(ConfigError):
        build(EqPropConfig, values)


def test_rule_state_dict_round_trip_resumes_identically():
    substrate_config = {"read_noise": 1e-4}
    x, y = batch(n=16, seed=1)
    nets = [
        PhysicalNetwork.build("resistive", 4, [5, 3], 3, seed=0, substrate_config=substrate_config)
        for _ in range(2)
    ]
    first = EqProp(nets[0], EqPropConfig(), total_steps=10)
    for _ in range(3):
        first.train_step(x, y)
    second = EqProp(nets[1], EqPropConfig(), total_steps=10)
    nets[1].load_state_dict(copy.deepcopy(nets[0].state_dict()))
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    a, b = first.train_step(x, y), second.train_step(x, y)
    assert a == b
    pa, pb = (n.units[0].physics.read_parameters() for n in nets)
    torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    for wa, wb in zip(nets[0].readout.parameters(), nets[1].readout.parameters(), strict=True):
        torch.testing.assert_close(wa, wb, rtol=0, atol=0)


def test_eqprop_learns_a_separable_problem():
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(3, 6, generator=g) * 2
    y = torch.arange(300) % 3
    x = centres[y] + torch.randn(300, 6, generator=g)
    net = PhysicalNetwork.build("resistive", 6, [16, 8], 3, seed=0)
    rule = EqProp(net, EqPropConfig(), total_steps=200)
    losses = []
    for step in range(200):
        idx = torch.arange(step * 32, step * 32 + 32) % 300
        losses.append(rule.train_step(x[idx], y[idx]).loss)
    # with the conductances frozen (readout alone) the same run ends at loss 0.86, accuracy 0.91
    assert sum(losses[-20:]) / 20 < 0.3
    assert float((net.predict(x) == y).float().mean()) > 0.97
