"""Reinforcement learning: a physical policy for CartPole-v1, trained by PIB.

What it shows: the reinforcement-learning API (:class:`pnnkit.rl.RLConfig` and
:func:`pnnkit.tasks.rl.run_rl`, the same run as ``pnnkit rl``). The policy is a network of crossbar
units with a digital readout to the two actions. Each iteration plays 16 episodes with actions
sampled from the policy, keeps the best 30% (the elite of the cross-entropy method: Rubinstein,
Methodol. Comput. Appl. Probab. 1:127, 1999), and trains the units by PIB with the elite's
actions as labels, ``gamma I(X;T) - beta I(T;A)`` (Wang et al., arXiv 2602.09569, 2026; gamma
is 0 in RL, see ``pnnkit.rl.config``). Greedy evaluations count their hardware queries apart
from training.

Default: units 64,64, a budget of 600 training episodes, stop when solved (greedy mean over 100
episodes >= 475); on seeds 0-2 PIB solved CartPole in 192-432 episodes (docs/BENCHMARKS.md;
seed 0 here: solved after 432 episodes, mean return 479), about 20 s on one core.
``--small``: units 16,16, 32 episodes, 10 evaluation episodes, a few seconds; the policy is
barely trained (mean return of a random policy: about 22).
Writes a run folder (``--out``, default ``runs/examples/rl``) with ``returns.png``.

Run: ``python examples/rl_cartpole.py [--small] [--seed N] [--out DIR]``
"""

from __future__ import annotations

import argparse

from pnnkit.rl import RLConfig
from pnnkit.tasks.rl import run_rl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/examples/rl", help="run folder")
    args = parser.parse_args()
    config = RLConfig(
        env="CartPole-v1",
        method="pib",
        substrate="crossbar",
        hidden=[16, 16] if args.small else [64, 64],
        episodes=32 if args.small else 600,
        eval_episodes=10 if args.small else 100,
        seed=args.seed,
        out=args.out,
    )
    s = run_rl(config, progress=False, overwrite=True)
    print(f"mean return {s['mean_return']:.1f} over {s['eval_episodes']} fresh greedy episodes")
    print(f"solved {s['solved']} (episodes to solve: {s['episodes_to_solve']})")
    print(f"training episodes {s['episodes_used']}")
    print(f"physical queries {s['physical_queries']} (evaluation: {s['evaluation_queries']})")
    print(f"device writes {s['device_writes']}")
    print(f"run folder {s['run_dir']}")


if __name__ == "__main__":
    main()
