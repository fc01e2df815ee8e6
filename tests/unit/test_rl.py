"""Reinforcement learning: configs, episode collection, elite selection, the REINFORCE gradient,
PIB's weighted label Gram, the agent's state (runs and the ``rl`` verb are in
tests/integration/test_rl_runs.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pnnkit.errors import ConfigError
from pnnkit.learning.pib import PIB, PIBConfig
from pnnkit.network import PhysicalNetwork
from pnnkit.rl.config import RLConfig
from pnnkit.rl.envs import EnvPool, Episode, env_info, run_episodes
from pnnkit.rl.pib_rl import (
    PIBAgent,
    WeightedPIB,
    advantage_weights,
    select_elite,
    weighted_label_gram,
)
from pnnkit.rl.policy import ObsScaler, PhysicalPolicy
from pnnkit.rl.reinforce import reinforce_loss, returns_to_go, standardised_returns


def episode(rewards, actions=None, d=4) -> Episode:
    n = len(rewards)
    actions = actions if actions is not None else [0] * n
    return Episode(
        torch.zeros(n, d), torch.tensor(actions), torch.tensor(rewards, dtype=torch.float32)
    )


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("method", "ppo", "pib"),
        ("episodes", 0, ">= 1"),
        ("elite_fraction", 1.5, "(0, 1]"),
        ("hidden", [], "positive integers"),
        ("signal", "q", "elite"),
        ("temperature", 0.0, "> 0"),
        ("discount", 1.5, "(0, 1]"),
        ("unit_steps", -1, ">= 0"),
        ("batch_size", 1, ">= 2"),
        ("substrate", "nope", "crossbar"),
        ("substrate", "resistive", "energy-based"),
        ("episodes_per_iteration", 0, ">= 1"),
    ],
)
def test_config_errors_name_the_field_and_the_allowed_values(field, value, words):
    with pytest.raises(ConfigError) as error:
        RLConfig.from_dict({field: value})
    assert field in str(error.value) and words in str(error.value)


def test_config_rejects_unknown_fields_and_bad_rule_options():
    with pytest.raises(ConfigError, match="unknown RLConfig field"):
        RLConfig.from_dict({"epochs": 3})
    with pytest.raises(ConfigError, match="lr"):
        RLConfig().with_overrides(["rule.lr=-1"])
    with pytest.raises(ConfigError, match="levels"):
        RLConfig().with_overrides(["substrate.levels=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        RLConfig().with_overrides(["episodes"])
    with pytest.raises(ConfigError, match="unknown section"):
        RLConfig().with_overrides(["optim.lr=1"])


def test_config_defaults_and_overrides():
    config = RLConfig().with_overrides(["episodes=300", "rule.beta=20", "signal=advantage"])
    assert (config.episodes, config.signal, config.iteration_size) == (300, "advantage", 16)
    resolved = config.resolved()
    assert resolved["rule_options"]["beta"] == 20
    assert resolved["rule_options"]["gamma"] == 0.0  # the RL default, not supervised PIB's 1
    assert RLConfig(method="reinforce").iteration_size == 4
    assert RLConfig(method="reinforce").resolved()["rule_options"]["lr"] == pytest.approx(1e-2)


@pytest.mark.parametrize(
    ("name", "words"),
    [("NoSuchEnv-v0", "gymnasium cannot make it"), ("Pendulum-v1", "discrete actions")],
)
def test_environments_gymnasium_cannot_serve_give_a_config_error(name, words):
    with pytest.raises(ConfigError) as error:
        RLConfig.from_dict({"env": name})
    assert name in str(error.value) and words in str(error.value)


def test_env_info_of_cartpole():
    info = env_info("CartPole-v1")
    assert (info.obs_dim, info.n_actions, info.reward_threshold) == (4, 2, 475.0)


# --- building blocks ---------------------------------------------------------------------------


def test_select_elite_keeps_the_top_returns_best_first():
    returns = torch.tensor([3.0, 10.0, 5.0, 10.0, 1.0])
    assert select_elite(returns, 0.4).tolist() == [1, 3]  # ties keep collection order
    assert select_elite(returns, 0.5).tolist() == [1, 3, 2]  # ceil(2.5) = 3
    assert select_elite(returns, 0.01).tolist() == [1]  # at least one
    assert select_elite(returns, 1.0).tolist() == [1, 3, 2, 0, 4]


def test_agent_trains_on_the_elite_episodes_only():
    network = PhysicalNetwork.build("ideal", 4, [6], 2, seed=0)
    policy = PhysicalPolicy(network, ObsScaler(4))
    rule = WeightedPIB(network, PIBConfig(), total_steps=1)
    agent = PIBAgent(policy, rule, elite_fraction=0.5)
    batch = [episode([1.0] * n) for n in (3, 9, 5, 7)]
    chosen, weights = agent.training_pairs(batch)
    assert [len(e) for e in chosen] == [9, 7] and weights is None
    chosen, weights = PIBAgent(policy, rule, signal="advantage").training_pairs(batch)
    assert len(chosen) == 4 and weights.shape == (24,)


def test_returns_to_go_and_standardisation_by_hand():
    g = returns_to_go(torch.tensor([1.0, 1.0, 1.0]), 0.5)
    assert g.tolist() == pytest.approx([1.75, 1.5, 1.0])
    a = standardised_returns([episode([1.0, 1.0, 1.0]), episode([2.0])], 0.5)
    raw = torch.tensor([1.75, 1.5, 1.0, 2.0])
    assert a.tolist() == pytest.approx(((raw - raw.mean()) / raw.std()).tolist(), abs=1e-6)
    assert standardised_returns([episode([1.0])], 0.9).tolist() == [0.0]


def test_reinforce_gradient_matches_the_hand_computed_score_function():
    """For logits ``W s`` the gradient of ``-mean_t A_t log pi(a_t|s_t)`` is
    ``-mean_t A_t (onehot(a_t) - pi_t) s_t^T``."""
    g = torch.Generator().manual_seed(0)
    s = torch.randn(5, 3, generator=g)
    w = torch.randn(2, 3, generator=g).requires_grad_(True)
    actions = torch.tensor([0, 1, 1, 0, 1])
    advantages = torch.tensor([1.5, -0.5, 0.25, -1.0, 2.0])
    reinforce_loss(s @ w.T, actions, advantages).backward()
    with torch.no_grad():
        pi = torch.softmax(s @ w.T, dim=1)
        score = F.one_hot(actions, 2).float() - pi
        expected = -(advantages[:, None, None] * score[:, :, None] * s[:, None, :]).mean(0)
    assert torch.allclose(w.grad, expected, atol=1e-6)


def test_weighted_label_gram_by_hand_and_equal_weights_give_the_plain_gram():
    y = torch.tensor([0, 1, 0])
    w = torch.tensor([1.0, 2.0, 3.0])
    expected = torch.tensor([[1.0, 0, 3], [0, 4, 0], [3, 0, 9]]) / 14
    assert torch.allclose(weighted_label_gram(y, w, 2), expected)
    plain = PIBConfig().estimator.label_gram(y, 2)
    assert torch.allclose(weighted_label_gram(y, torch.full((3,), 0.7), 2), plain)


def test_weighted_pib_with_equal_weights_takes_exactly_pibs_step():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(24, 4, generator=g), torch.arange(24) % 2
    nets = [PhysicalNetwork.build("ideal", 4, [6, 5], 2, seed=3) for _ in range(2)]
    plain = PIB(nets[0], PIBConfig(), total_steps=2)
    weighted = WeightedPIB(nets[1], PIBConfig(), total_steps=2)
    for _ in range(2):
        plain.train_step(x, y)
        weighted.train_step(x, y, torch.full((24,), 2.5))
    for a, b in zip(nets[0].substrates(), nets[1].substrates(), strict=True):
        assert torch.allclose(a.read_parameters(), b.read_parameters(), atol=1e-6)
    assert torch.allclose(nets[0].readout.weight, nets[1].readout.weight, atol=1e-6)


def _agent(signal: str) -> PIBAgent:
    network = PhysicalNetwork.build("crossbar", 4, [8, 6], 2, seed=0)
    policy = PhysicalPolicy(network, ObsScaler(4), seed=0)
    rule = WeightedPIB(network, PIBConfig(gamma=0.0), total_steps=10)
    return PIBAgent(policy, rule, signal=signal, batch_size=16, unit_steps=2, seed=0)


def _random_batch(seed: int) -> list[Episode]:
    g = torch.Generator().manual_seed(seed)
    batch = []
    for length in (5, 12, 9, 20):
        obs = torch.randn(length, 4, generator=g)
        actions = torch.randint(0, 2, (length,), generator=g)
        batch.append(Episode(obs, actions, torch.ones(length)))
    return batch


@pytest.mark.parametrize("signal", ["elite", "advantage"])
def test_agent_state_round_trip_resumes_identically(signal):
    a, b = _agent(signal), _agent(signal)
    a.policy.scaler.update(torch.cat([e.obs for e in _random_batch(0)]))
    a.update(_random_batch(0))
    # through bytes, as in the checkpoint (an optimiser's state_dict shares its live tensors)
    buffer = io.BytesIO()
    torch.save([a.policy.network.state_dict(), a.policy.state_dict(), a.state_dict()], buffer)
    buffer.seek(0)
    network, policy, agent = torch.load(buffer, weights_only=True)
    b.policy.network.load_state_dict(network)
    b.policy.load_state_dict(policy)
    b.load_state_dict(agent)
    stats = [agent.update(_random_batch(1)) for agent in (a, b)]
    assert stats[0] == stats[1]
    for sa, sb in zip(a.policy.network.substrates(), b.policy.network.substrates(), strict=True):
        assert torch.equal(sa.conductance, sb.conductance)
    assert torch.equal(a.policy.network.readout.weight, b.policy.network.readout.weight)


def test_advantage_weights_favour_the_better_steps_and_are_capped():
    w = advantage_weights([episode([1.0] * 10), episode([1.0] * 2)], 0.99, 0.1)
    assert w[0] > w[-1] and float(w.max()) <= 20.0 and float(w.min()) > 0


def test_running_scaler_pools_batches_exactly():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(7, 3, generator=g) * 3 + 1, torch.randn(11, 3, generator=g)
    scaler = ObsScaler(3, clip=100.0)
    scaler.update(a)
    scaler.update(b)
    both = torch.cat([a, b]).double()
    assert torch.allclose(scaler.mean, both.mean(0))
    assert torch.allclose(scaler.std, both.std(0))
    x = scaler.transform(both)
    assert torch.allclose(x.mean(0).double(), torch.zeros(3, dtype=torch.float64), atol=1e-5)
    assert float(ObsScaler(3, clip=2.0).transform(torch.full((1, 3), 9.0)).max()) == 2.0


def test_one_policy_call_per_time_step_for_all_running_episodes():
    calls: list[int] = []

    def act(obs: np.ndarray) -> np.ndarray:
        calls.append(obs.shape[0])
        return np.zeros(obs.shape[0], dtype=np.int64)  # always push left: short episodes

    episodes = run_episodes(EnvPool("CartPole-v1"), [1, 2, 3], act)
    assert len(calls) == max(len(e) for e in episodes)
    assert sum(calls) == sum(len(e) for e in episodes)
    assert all(e.total == len(e) for e in episodes)  # CartPole: +1 per step
