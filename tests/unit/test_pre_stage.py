"""A trainable pre-stage in front of fixed physics: ports and widths, refusals, and PIB's
pre-stage update against autograd on its local objective."""

from __future__ import annotations

import pytest
import torch

from pnnkit.data.recordings import make_synthetic_recording
from pnnkit.errors import ConfigError
from pnnkit.experiment import TrainConfig
from pnnkit.learning import make_rule
from pnnkit.learning.pre_stage import PreStages
from pnnkit.network import DRIVE, PhysicalNetwork, Unit
from pnnkit.physics import make_substrate, with_bias_column
from pnnkit.physics.measured import MeasuredConfig, MeasuredSubstrate
from tests.fixtures.configs import sgd


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A 20-port saturating recording, small enough to fit in a test."""
    path = tmp_path_factory.mktemp("rec") / "rec20.npz"
    make_synthetic_recording(path, 400, 20, 20, noise=0.01, seed=0)
    return str(path)


def blobs(features: int, n: int = 192, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated Gaussian classes in ``features`` dimensions."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, features, generator=g) * 2
    y = torch.arange(n) % 3
    return centres[y] + 0.5 * torch.randn(n, features, generator=g), y


def test_measured_and_instrument_systems_report_their_ports(recording):
    system = MeasuredSubstrate.from_file(recording)
    assert system.ports == (20, 20)
    assert MeasuredSubstrate.fixed_ports(MeasuredConfig(path=recording)) == (20, 20)
    assert make_substrate("scattering", 5, 7).ports == (5, 7)


def test_a_recording_refuses_other_widths_without_a_pre_stage(recording):
    with pytest.raises(ConfigError) as error:
        PhysicalNetwork.build("measured", 12, [16], 3, substrate_config={"path": recording})
    message = str(error.value)
    assert "20 input ports" in message and "12 features" in message
    assert "--pre-stage" in message


def test_a_pre_stage_whose_outputs_miss_the_ports_is_refused():
    physics = make_substrate("scattering", 6, 8)
    stage = make_substrate("ideal", 8, 4)
    with pytest.raises(ConfigError, match=r"gives 5 outputs .* has 6 input ports"):
        Unit(stage, "relu", physics, pre=make_substrate("ideal", 3, 5))
    with pytest.raises(ConfigError, match="in front of no physics"):
        Unit(stage, "relu", pre=make_substrate("ideal", 3, 8))


@pytest.mark.parametrize("features", [12, 64])
def test_every_unit_of_a_recording_sits_behind_a_pre_stage(recording, features):
    net = PhysicalNetwork.build(
        "measured", features, [16, 8], 3, substrate_config={"path": recording}, pre_stage="ideal"
    )
    assert [(u.pre.ports, u.physics.ports) for u in net.units] == [
        ((features, 20), (20, 20)),
        ((16, 20), (20, 20)),
    ]
    out = net.units[0].measure(torch.randn(5, features))
    assert out.z0 is not None and out.z0.shape == (5, 20) and out.t.shape == (5, 16)


def test_a_pre_stage_needs_physics_to_drive():
    with pytest.raises(ConfigError, match="linear stage itself"):
        PhysicalNetwork.build("crossbar", 4, [8], 3, pre_stage="ideal")
    with pytest.raises(ConfigError, match="pre_stage = 'crossbar' is invalid"):
        TrainConfig(substrate="ideal", pre_stage="crossbar")
    with pytest.raises(ConfigError, match="pre_stage = 'mzi' is invalid"):
        TrainConfig(substrate="scattering", pre_stage="mzi")
    with pytest.raises(ConfigError, match="pre_stage_options"):
        TrainConfig(substrate="scattering", pre_stage_options={"init_scale": 2.0})


@pytest.mark.parametrize("method", ["ff", "dfa", "spsa", "hsic"])
def test_rules_that_do_not_train_a_pre_stage_refuse_it(method):
    net = PhysicalNetwork.build("scattering", 4, [8], 3, pre_stage="ideal")
    with pytest.raises(ConfigError, match="does not train a pre-stage"):
        make_rule(method, net, sgd(method), 10)


@pytest.mark.parametrize("method", ["pib", "backprop", "insilico", "pat", "readout"])
def test_rules_that_train_a_pre_stage_accept_it(method):
    net = PhysicalNetwork.build("diffractive", 4, [8], 3, pre_stage="ideal")
    net.calibrate(torch.randn(32, 4))
    rule = make_rule(method, net, sgd(method), 10)
    before = net.units[0].pre.read_parameters().clone()
    x, y = blobs(4, 32)
    rule.train_step(x, y)
    rule.before_evaluation()  # the twin-trained rules deploy their weights here
    moved = not torch.equal(net.units[0].pre.read_parameters(), before)
    assert moved == (method != "readout")  # readout leaves every piece of hardware as built


def test_pib_programs_the_exact_gradient_of_the_pre_stage_local_objective():
    """One SGD step of PIB at a constant rate changes the pre-stage by ``-lr dL0/dW0``, with
    ``L0 = gamma I(X;U0) - beta I(U0;Y)`` of ``U0 = tanh(W0 [x, 1])`` differentiated by autograd."""
    torch.manual_seed(0)
    net = PhysicalNetwork.build("scattering", 6, [10], 3, pre_stage="ideal", seed=1)
    x, y = blobs(6, 48)
    net.calibrate(x)
    options = {"head_weight": 0.0, "similarity_weight": 0.0, "estimator": {"solver": "autograd"}}
    lr = 0.05
    rule = make_rule("pib", net, sgd("pib", lr=lr, **options), 10)
    pre = net.units[0].pre
    w0 = pre.read_parameters().clone().requires_grad_(True)
    estimator, cfg = rule.config.estimator, rule.config
    u0 = DRIVE[0](with_bias_column(x) @ w0.T)
    i_xt, i_ty = estimator.terms(estimator.input_gram(x), u0, estimator.label_gram(y, 3))
    (reference,) = torch.autograd.grad(cfg.gamma * i_xt - cfg.beta * i_ty, w0)
    rule.train_step(x, y)
    change = pre.read_parameters() - w0.detach()
    torch.testing.assert_close(change, -lr * reference, rtol=1e-4, atol=1e-6)
    assert reference.abs().max() > 0


def test_the_outer_product_is_the_autograd_gradient_of_any_objective_on_u0():
    g = torch.Generator().manual_seed(3)
    pre = make_substrate("ideal", 5, 4, seed=2)
    physics, stage = make_substrate("scattering", 4, 6), make_substrate("ideal", 6, 3)
    unit = Unit(stage, "relu", physics, pre=pre)
    h = torch.randn(7, 5, generator=g)
    out = unit.measure(h)
    grad_u0 = torch.randn(7, 4, generator=g)
    w0 = pre.read_parameters().clone().requires_grad_(True)
    (reference,) = torch.autograd.grad((grad_u0 * torch.tanh(with_bias_column(h) @ w0.T)).sum(), w0)
    torch.testing.assert_close(PreStages.weight_gradient(out, grad_u0), reference)
