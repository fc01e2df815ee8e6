"""Results as text: the one table writer (Markdown or aligned text), the bench and fault-sweep
tables, number formats, and the summary of a reinforcement-learning run."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    style: str = "markdown",
    left: Collection[str] = (),
) -> str:
    """``rows`` of already formatted cells under ``header``. ``markdown``: a Markdown table;
    ``text``: columns padded to their widest cell, those named in ``left`` left-aligned and the
    others right-aligned, the header underlined with dashes."""
    if style == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    if style != "text":
        raise ValueError(f"table style {style!r}: choose markdown or text")
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, name in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if name in left else v.rjust(w)
            for v, w, name in zip(values, widths, header, strict=True)
        ).rstrip()

    head = line(header)
    return "\n".join([head, "-" * len(head), *(line(row) for row in rows)])


def count(value: Any) -> str:
    """An integer with thousands separators; ``?`` for None."""
    return f"{value:,}" if isinstance(value, int) else "?" if value is None else str(value)


def score(value: Any) -> str:
    """A score to 4 places; ``-`` when there is none."""
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def seconds(wall: Any, train: Any) -> str:
    """The wall time, and the time spent in training steps when known."""
    if not isinstance(wall, int | float):
        return "?"
    text = f"{wall:.1f} s"
    if isinstance(train, int | float):
        text += f" (training steps {train:.1f} s)"
    return text


def mean_std(mean: Any, std: Any) -> str:
    """``mean +- std`` to 4 places, or ``-`` when there is no value."""
    if not isinstance(mean, int | float):
        return "-"
    return f"{mean:.4f} +- {std if isinstance(std, int | float) else 0.0:.4f}"


def bench_table(cells: Sequence[dict[str, Any]], skipped: Sequence[dict[str, Any]] = ()) -> str:
    """A bench's cells as a Markdown table (costs are per run, averaged over seeds), then the
    skipped pairs. The validation accuracy column appears when a cell has one."""
    with_val = any(c.get("val_accuracy_mean") is not None for c in cells)
    header = ["dataset", "substrate", "method", "test accuracy (mean +- std)"]
    header += ["val accuracy (mean +- std)"] if with_val else []
    header += ["physical queries", "device writes", "digital s", "wall s"]
    rows = []
    for c in cells:
        row = [c["dataset"], c["substrate"], c["method"]]
        row.append(f"{c['test_accuracy_mean']:.4f} +- {c['test_accuracy_std']:.4f}")
        if with_val:
            row.append(mean_std(c.get("val_accuracy_mean"), c.get("val_accuracy_std")))
        row += [f"{c['physical_queries']:,.0f}", f"{c['device_writes']:,.0f}"]
        row += [f"{c['digital_seconds']:.1f}", f"{c['wall_seconds']:.1f}"]
        rows.append([str(v) for v in row])
    lines = [table(header, rows)]
    for s in skipped:
        lines.append(f"\nskipped {s['method']} on {s['substrate']} ({s['dataset']}): {s['why']}")
    return "\n".join(lines)


def sweep_table(rows: Sequence[dict[str, Any]], metric: str = "test_accuracy") -> str:
    """A fault sweep as a Markdown table, methods as rows and rates as columns: ``metric``
    (``test_accuracy`` or ``val_accuracy``) mean +- std over seeds; ``-`` where a cell has
    none."""
    rates = sorted({r["rate"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {(r["method"], r["rate"]): r for r in rows}
    empty: dict[str, Any] = {}
    lines = []
    for method in methods:
        found = [cell.get((method, rate), empty) for rate in rates]
        values = [mean_std(r.get(f"{metric}_mean"), r.get(f"{metric}_std")) for r in found]
        lines.append([str(method), *values])
    return table(["method", *(f"{rate:g}" for rate in rates)], lines)


def format_rl_summary(s: dict[str, Any]) -> str:
    """The summary of a reinforcement-learning run (``pnnkit rl``) as a few aligned lines."""
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


def runs_table(rows: Sequence[dict[str, Any]]) -> str:
    """Runs side by side as aligned text (rows of :func:`pnnkit.results.describe.run_row`)."""
    columns = {
        "run": lambda r: r["name"],
        "method": lambda r: r["method"],
        "substrate": lambda r: r["substrate"],
        "dataset": lambda r: r["dataset"],
        "seed": lambda r: r["seed"],
        "epochs": lambda r: f"{r['epochs_done']}/{r['epochs_total']}",
        "metric": lambda r: "probe acc" if r["metric"] == "probe_accuracy" else "test acc",
        "final": lambda r: score(r["final"]),
        "best (epoch)": lambda r: f"{score(r['best'])} ({r['best_epoch']})",
        "val acc": lambda r: score(r.get("val_accuracy")),
        "queries": lambda r: count(r["physical_queries"]),
        "writes": lambda r: count(r["device_writes"]),
        "wall s": lambda r: f"{r['wall_seconds']:.1f}" if r["wall_seconds"] is not None else "?",
    }
    cells = [[str(get(row)) for get in columns.values()] for row in rows]
    left = ("run", "method", "substrate", "dataset", "metric")
    return table(list(columns), cells, style="text", left=left)
