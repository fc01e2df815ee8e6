"""The summary of a reinforcement-learning run as a few aligned lines (``pnnkit rl`` and
``pnnkit show`` of an RL run folder)."""

from __future__ import annotations

from typing import Any


def format_summary(s: dict[str, Any]) -> str:
    """The summary of a run: the final policy's return, when it solved, its costs."""
    where = "" if s["method"] == "reinforce" else f" on {s['substrate']}"
    if s["solved"]:
        solved = f"after {s['episodes_to_solve']:,} training episodes"
    elif s["solve_threshold"] is None:
        solved = "no threshold defined for this environment"
    else:
        solved = "not within the budget"
    threshold = "" if s["solve_threshold"] is None else f" (threshold {s['solve_threshold']:g})"
    return "\n".join(
        [
            f"{s['method']}{where}, {s['env']}, seed {s['seed']}",
            f"  mean return        {s['mean_return']:.1f} +- {s['std_return']:.1f} over "
            f"{s['eval_episodes']} greedy episodes",
            f"  solved             {solved}{threshold}",
            f"  training episodes  {s['episodes_used']:,} of {s['episodes_budget']:,}",
            f"  physical queries   {s['physical_queries']:,} in training "
            f"({s['evaluation_queries']:,} more in evaluation)",
            f"  policy samples     {s['policy_samples']:,} in training",
            f"  wall time          {s['wall_seconds']:.1f} s",
            f"  run folder         {s['run_dir']}",
            f"  return curve       {s['plots'][0]}",
        ]
    )
