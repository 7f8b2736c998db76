"""The report's plots: the validation metric against each cost, one PNG per cost, with its Pareto front
drawn as a staircase and every point labelled model/strategy.

matplotlib's object API on the Agg canvas (``Figure``, no pyplot): no display, no global figure state, so
it is safe inside a sweep's process and on headless nodes.
"""

from __future__ import annotations

import io
import math

from sweep.report.collect import Table
from sweep.report.costs import COSTS
from sweep.report.pareto import front_order

MARKERS = "osD^vPX*<>"
DPI = 120


def plot_cost(table: Table, cost_name: str) -> bytes:
    """PNG bytes of the metric (y) against one cost (x) over the table's ranked cells."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    cost = COSTS[cost_name]
    cells = [cell for cell in table.ranked if not math.isnan(cell.cost(cost_name))]
    strategies = sorted({cell.strategy for cell in table.cells})
    models = sorted({cell.model for cell in table.cells})
    colours = {name: f"C{i % 10}" for i, name in enumerate(strategies)}
    markers = {name: MARKERS[i % len(MARKERS)] for i, name in enumerate(models)}
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    axes = figure.add_subplot()
    xs = [cell.cost(cost_name) for cell in cells]
    log = cost.log_axis and min(xs) > 0 and max(xs) / min(xs) > 20
    if log:
        axes.set_xscale("log")
    front = front_order(cells, cost_name)
    if front:  # the staircase: from each front point, flat to the next cheaper-is-worse one
        fx, fy = [c.cost(cost_name) for c in front], [c.value for c in front]
        axes.step(fx, fy, where="post" if table.mode == "max" else "pre", color="0.35", linewidth=1.2, zorder=1, label="Pareto front")
    for cell in cells:
        on_front = cost_name in cell.fronts
        axes.scatter(
            cell.cost(cost_name), cell.value, s=90 if on_front else 45, marker=markers[cell.model], color=colours[cell.strategy],
            edgecolors="black" if on_front else "none", linewidths=1.2, zorder=3,
        )  # fmt: skip
        axes.annotate(
            f"{cell.model}/{cell.strategy}", (cell.cost(cost_name), cell.value), xytext=(6, 5), textcoords="offset points", fontsize=8,
            fontweight="bold" if on_front else "normal", color="black" if on_front else "0.3", zorder=4,
        )  # fmt: skip
    pad = (max(xs) / min(xs)) ** 0.08 if log else None
    if log:
        axes.set_xlim(min(xs) / pad, max(xs) * pad * 3)  # room for the labels on the right
    ys = [cell.value for cell in cells]
    span = (max(ys) - min(ys)) or 0.01
    axes.set_ylim(min(ys) - 0.1 * span, max(ys) + 0.15 * span)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: cost.show(x)))  # 0.01 %, 1 %, 100 %; 2 s; 900 MB
    axes.set_xlabel(cost.axis)
    axes.set_ylabel(f"best {table.metric} ({table.mode})")
    axes.set_title(f"{table.metric} against {cost.noun}: {table.task}", fontsize=11)
    axes.grid(True, which="major", alpha=0.3)
    handles = [axes.scatter([], [], color=colours[s], marker="o", label=s) for s in strategies]
    handles += [axes.scatter([], [], color="0.5", marker=markers[m], label=m) for m in models] if len(models) > 1 else []
    if front:
        handles.append(axes.lines[0])
    axes.legend(handles=handles, fontsize=8, loc="best", framealpha=0.8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def plot_all(table: Table) -> dict[str, bytes]:
    """``metric_vs_<cost>.png`` -> PNG bytes, for each cost the runs logged."""
    return {f"metric_vs_{name}.png": plot_cost(table, name) for name in table.costs}
