"""The reinforcement-learning task (``pnnkit rl``): a run from an :class:`RLConfig` to a filled
run folder, on the run folder, recorder and Ctrl-C handling every run shares
(:mod:`pnnkit.experiment.recorder`, :mod:`pnnkit.experiment.interrupt`). Episodes instead of
epochs: the building blocks (environments, policies, PIB and REINFORCE agents) are in
:mod:`pnnkit.rl`.

Each iteration collects a batch of training episodes side by side (actions sampled from the
policy), pools their observations into the running scaler, and updates the policy (PIB or
REINFORCE). A unit with non-linear physics in front of its stage has its conditioning (centre
and scale of the physics' output) fixed once from the first batch, as ``pnnkit train`` does
from training data; those queries count as training cost.

Whenever the training episodes pass a multiple of ``eval_every``, the greedy policy plays
``eval_episodes`` evaluation episodes; their queries are counted apart from training, and the
hardware's random streams are restored afterwards, so evaluating never changes the training
trajectory. The run is *solved* at the first evaluation whose mean return reaches the
threshold; ``episodes_to_solve`` is the number of training episodes spent by then
(``queries_to_solve`` and ``policy_samples_to_solve`` the costs by then). At the end the final
policy plays ``eval_episodes`` fresh episodes (seeds used nowhere else): their mean is the
reported ``mean_return``. For a run that stopped when solved, this re-evaluation is the honest
figure: the evaluation that first crossed the threshold was selected for crossing it.

Run folder (:class:`pnnkit.results.folder.RunFolder`): ``config.json``, ``metrics.jsonl``
(one line per iteration), ``summary.json``, ``checkpoint.pt`` (network and substrate state,
rule and optimiser state, scaler, random generators; written atomically every iteration) and
``returns.png``. The first Ctrl-C stops the run after the iteration at hand, with its
checkpoint written; an RL run is not resumed (start it again).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm import tqdm

from pnnkit.errors import TrainingInterrupted
from pnnkit.experiment.evaluation import evaluation_apart
from pnnkit.experiment.interrupt import CtrlC
from pnnkit.experiment.recorder import Recorder
from pnnkit.learning.pib import PIBConfig
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import Counters
from pnnkit.results.folder import RL, RunFolder
from pnnkit.rl.config import RLConfig
from pnnkit.rl.envs import EnvPool, Episode, env_info, run_episodes
from pnnkit.rl.pib_rl import PIBAgent, WeightedPIB
from pnnkit.rl.policy import ObsScaler, PhysicalPolicy
from pnnkit.rl.reinforce import Reinforce

#: streams of episode seeds: training, periodic evaluations, the final evaluation
TRAIN, EVALUATION, FINAL = 0, 1, 2


def episode_seed(seed: int, stream: int, index: int) -> int:
    """The environment seed of episode ``index`` of a stream: distinct for every (run seed,
    stream, index), so training and evaluation never replay the same initial states."""
    return int(np.random.SeedSequence([seed, stream, index]).generate_state(1)[0])


class RLRunner:
    """Builds environment, policy and learner from a config and trains, filling the run folder."""

    def __init__(self, config: RLConfig, *, overwrite: bool = False) -> None:
        self.config = config
        self.info = env_info(config.env)
        self.threshold = (
            config.solve_threshold
            if config.solve_threshold is not None
            else self.info.reward_threshold
        )
        torch.manual_seed(config.seed)
        self.scaler = ObsScaler(self.info.obs_dim)
        self.network: PhysicalNetwork | None = None
        self.agent: PIBAgent | Reinforce
        rule_config = config.rule_config()  # PIBConfig for pib, ReinforceConfig for reinforce
        if isinstance(rule_config, PIBConfig):
            self.network = config.build_network(self.info.obs_dim, self.info.n_actions)
            self.policy = PhysicalPolicy(
                self.network, self.scaler, temperature=config.temperature, seed=config.seed
            )
            iterations = math.ceil(config.episodes / config.iteration_size)
            rule = WeightedPIB(self.network, rule_config, max(1, iterations * config.unit_steps))
            self.agent = PIBAgent(
                self.policy,
                rule,
                signal=config.signal,
                elite_fraction=config.elite_fraction,
                advantage_temperature=config.advantage_temperature,
                discount=config.discount,
                unit_steps=config.unit_steps,
                readout_steps=config.readout_steps,
                batch_size=config.batch_size,
                seed=config.seed,
            )
            self.act: Callable[..., np.ndarray] = self.policy.act
        else:
            self.agent = Reinforce(
                self.info.obs_dim,
                config.hidden,
                self.info.n_actions,
                self.scaler,
                rule_config,
                temperature=config.temperature,
                seed=config.seed,
            )
            self.act = self.agent.act
        self.train_pool, self.eval_pool = EnvPool(config.env), EnvPool(config.env)
        self.episodes = 0
        self.env_steps = 0
        self.evaluations = 0
        self.eval_counters = Counters()
        self.eval_samples = 0
        self.episodes_to_solve: int | None = None
        self.train_returns: list[float] = []
        self.train_seconds = 0.0
        self.folder = RunFolder(config.out, RL)
        self.recorder = Recorder(self.folder, step_key="iteration")
        self.returns_plot = self.folder.path / "returns.png"
        self.folder.create(overwrite=overwrite)
        self.recorder.write_config(config.resolved())

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every iteration's record so far (as in ``metrics.jsonl``)."""
        return self.recorder.history

    # --- accounting -----------------------------------------------------------------------------

    @property
    def policy_samples(self) -> int:
        """Observations the policy evaluated in training (acting and updating)."""
        return self.agent.samples if isinstance(self.agent, Reinforce) else self.policy.samples

    def training_counters(self) -> Counters:
        """The physical costs of training so far (zero for the digital baseline)."""
        return Counters() if self.network is None else self.network.counters()

    @contextlib.contextmanager
    def _apart(self) -> Iterator[None]:
        """Evaluation costs go to the evaluation tally, not to training."""
        before = self.policy_samples
        try:
            if self.network is None:
                yield
            else:
                with evaluation_apart(self.network, self.eval_counters):
                    yield
        finally:
            spent = self.policy_samples - before
            self.eval_samples += spent
            if isinstance(self.agent, Reinforce):
                self.agent.samples -= spent
            else:
                self.policy.samples -= spent

    def evaluate(self, stream: int) -> list[float]:
        """Returns of ``eval_episodes`` greedy episodes (costs counted apart)."""
        n = self.config.eval_episodes
        seeds = [episode_seed(self.config.seed, stream, self.evaluations * n + i) for i in range(n)]
        self.evaluations += 1
        with self._apart():
            episodes = run_episodes(self.eval_pool, seeds, lambda o: self.act(o, greedy=True))
        return [e.total for e in episodes]

    # --- training -------------------------------------------------------------------------------

    def iterate(self) -> dict[str, Any]:
        """Collect one batch of training episodes, update, evaluate if due; the metrics line."""
        cfg = self.config
        n = min(cfg.iteration_size, cfg.episodes - self.episodes)
        start = time.perf_counter()
        seeds = [episode_seed(cfg.seed, TRAIN, self.episodes + i) for i in range(n)]
        batch: list[Episode] = run_episodes(self.train_pool, seeds, self.act)
        observations = torch.cat([e.obs for e in batch])
        self.scaler.update(observations)
        if self.network is not None and not self.history:
            # fix the conditioning of non-linear physics from the first batch (a no-op, and no
            # queries, for a network of linear stages)
            self.network.calibrate(self.scaler.transform(observations))
        stats = self.agent.update(batch)
        self.train_seconds += time.perf_counter() - start
        before = self.episodes
        self.episodes += n
        self.env_steps += sum(len(e) for e in batch)
        returns = [e.total for e in batch]
        self.train_returns += returns
        record: dict[str, Any] = {
            "iteration": len(self.history) + 1,
            "episodes": self.episodes,
            "mean_train_return": float(np.mean(returns)),
            "max_train_return": float(np.max(returns)),
            **stats,
        }
        due = self.episodes // cfg.eval_every > before // cfg.eval_every
        if due or self.episodes == cfg.episodes:
            evaluation = self.evaluate(EVALUATION)
            record["eval_mean_return"] = float(np.mean(evaluation))
            record["eval_std_return"] = float(np.std(evaluation))
            solved = self.threshold is not None and record["eval_mean_return"] >= self.threshold
            if solved and self.episodes_to_solve is None:
                self.episodes_to_solve = self.episodes
        costs = self.training_counters()
        record.update(
            physical_queries=costs.physical_queries,
            policy_samples=self.policy_samples,
            env_steps=self.env_steps,
            evaluation_queries=self.eval_counters.physical_queries,
            device_writes=costs.device_writes,
            train_seconds=self.train_seconds,
        )
        self.recorder.record(record)
        self.folder.save_checkpoint(self.checkpoint_state())
        return record

    def done(self) -> bool:
        """True when the episode budget is spent, or the task is solved and the run stops at
        solving."""
        if self.episodes >= self.config.episodes:
            return True
        return self.config.stop_when_solved and self.episodes_to_solve is not None

    def train(self, *, progress: bool = True) -> dict[str, Any]:
        """Iterate until the budget is spent (or the task solved); returns the summary (also
        written to ``summary.json``)."""
        cfg = self.config
        start = time.perf_counter()
        label = cfg.method if cfg.method == "reinforce" else f"{cfg.method} on {cfg.substrate}"
        bar = tqdm(
            total=cfg.episodes,
            desc=f"{label}, {cfg.env}",
            unit="episode",
            disable=not progress,
            leave=True,
        )
        stopping = "stopping after this iteration (its checkpoint is written)"
        try:
            with (
                CtrlC(self._interrupted, stopping) as ctrl_c,
                self.recorder.session(progress=progress),
            ):
                while not self.done():
                    ctrl_c.check()
                    record = self.iterate()
                    bar.update(record["episodes"] - bar.n)
                    shown = {"train": f"{record['mean_train_return']:.0f}"}
                    if "eval_mean_return" in record:
                        shown["eval"] = f"{record['eval_mean_return']:.0f}"
                    bar.set_postfix(shown)
        finally:
            bar.close()
        final = self.evaluate(FINAL)
        return self.finish(final, time.perf_counter() - start)

    def _interrupted(self) -> TrainingInterrupted:
        """The exception for a Ctrl-C: where the run stopped (an RL run is not resumed)."""
        done = len(self.history)
        message = (
            f"interrupted after iteration {done} ({self.episodes} training episodes); "
            f"{self.folder.checkpoint} holds it, but an rl run cannot be resumed: start it "
            f"again (--overwrite)"
        )
        return TrainingInterrupted(message, self.folder.path, done + 1, 0)

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to continue the run: config, progress counts, network, policy, agent,
        evaluation costs, RNG state."""
        return {
            "config": self.config.resolved(),
            "iteration": len(self.history),
            "episodes": self.episodes,
            "env_steps": self.env_steps,
            "evaluations": self.evaluations,
            "episodes_to_solve": self.episodes_to_solve,
            "network": None if self.network is None else self.network.state_dict(),
            "policy": None if self.network is None else self.policy.state_dict(),
            "agent": self.agent.state_dict(),
            "eval_counters": self.eval_counters.as_dict(),
            "train_seconds": self.train_seconds,
            "rng": {"torch": torch.get_rng_state()},
        }

    def finish(self, final: list[float], wall_seconds: float) -> dict[str, Any]:
        """Write the summary and the return-curve plot from the final evaluation returns; returns
        the summary."""
        cfg = self.config
        costs = self.training_counters()
        title = (
            f"{cfg.method}"
            + ("" if cfg.method == "reinforce" else f" on {cfg.substrate}")
            + f", {cfg.env}, seed {cfg.seed}"
        )
        solving = next((r for r in self.history if r["episodes"] == self.episodes_to_solve), None)
        plot_returns(self.train_returns, self.history, self.threshold, self.returns_plot, title)
        summary = {
            "env": cfg.env,
            "method": cfg.method,
            "substrate": "digital MLP" if cfg.method == "reinforce" else cfg.substrate,
            "seed": cfg.seed,
            "hidden": cfg.hidden,
            "episodes_budget": cfg.episodes,
            "episodes_used": self.episodes,
            "solve_threshold": self.threshold,
            "solved": self.episodes_to_solve is not None,
            "episodes_to_solve": self.episodes_to_solve,
            # training costs up to the end of the iteration that solved the task
            "queries_to_solve": solving["physical_queries"] if solving else None,
            "policy_samples_to_solve": solving["policy_samples"] if solving else None,
            "mean_return": float(np.mean(final)),
            "std_return": float(np.std(final)),
            "eval_episodes": len(final),
            "last_eval_mean_return": next(
                (r["eval_mean_return"] for r in reversed(self.history) if "eval_mean_return" in r),
                None,
            ),
            "env_steps": self.env_steps,
            "physical_queries": costs.physical_queries,
            "policy_samples": self.policy_samples,
            "device_writes": costs.device_writes,
            "programming_pulses": costs.programming_pulses,
            "evaluation_queries": self.eval_counters.physical_queries,
            "evaluation_samples": self.eval_samples,
            "train_seconds": self.train_seconds,
            "wall_seconds": wall_seconds,
            "run_dir": str(self.folder.path),
            "plots": [str(self.returns_plot)],
        }
        self.recorder.write_summary(summary)
        self.train_pool.close()
        self.eval_pool.close()
        return summary


def plot_returns(
    train_returns: list[float],
    history: list[dict[str, Any]],
    threshold: float | None,
    path: Path,
    title: str,
) -> None:
    """Training-episode returns (points) and the greedy evaluation mean +- std (line) against
    training episodes, with the solving threshold."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.scatter(
        range(1, len(train_returns) + 1), train_returns, s=4, color="0.6", label="training episode"
    )
    evaluated = [r for r in history if "eval_mean_return" in r]
    if evaluated:
        x = [r["episodes"] for r in evaluated]
        mean = np.array([r["eval_mean_return"] for r in evaluated])
        std = np.array([r["eval_std_return"] for r in evaluated])
        ax.plot(x, mean, color="C0", marker="o", markersize=3, label="evaluation mean (greedy)")
        ax.fill_between(x, mean - std, mean + std, color="C0", alpha=0.2)
    if threshold is not None:
        ax.axhline(threshold, color="C3", linestyle="--", linewidth=1, label="solved")
    ax.set_xlabel("training episodes")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_rl(config: RLConfig, *, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Train according to ``config`` and return the run summary."""
    return RLRunner(config, overwrite=overwrite).train(progress=progress)
