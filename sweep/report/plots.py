"""The report's plots: the validation metric against each cost, one PNG per cost, with its Pareto front
drawn as a staircase and every point labelled model/strategy.

matplotlib's object API on the Agg canvas (``Figure``, no pyplot): no display, no global figure state, so
it is safe inside a sweep's process and on headless nodes. Labels are placed by a greedy pass over a few
slots around each point (right, below, left, ...), the first that overlaps no placed label or point: with
tens of points that is enough, deterministic and instant (adjustText's iterative repulsion would add a
dependency and move labels differently from one matplotlib version to the next).
"""

from __future__ import annotations

import io
import math

from sweep.report.collect import Cell, Table
from sweep.report.costs import COSTS
from sweep.report.pareto import front_order

MARKERS = "osD^vPX*<>"
DPI = 120
FONT = 8  # points
SLOTS = [(7, 4), (7, -12), (-7, 4), (-7, -12), (7, 14), (7, -22), (-7, 14), (-7, -22), (0, 24), (0, -32)]  # offsets, points


def staircase_boxes(to_pixels, front: list[Cell], cost_name: str, mode: str) -> list[tuple]:
    """The front's drawn line as thin boxes (pixels), so that no label is written across it."""
    boxes = []
    for a, b in zip(front, front[1:]):
        (ax, ay), (bx, by) = to_pixels((a.cost(cost_name), a.value)), to_pixels((b.cost(cost_name), b.value))
        corner = (bx, ay) if mode == "max" else (ax, by)  # step(where="post") for max, "pre" for min
        for (x0, y0), (x1, y1) in (((ax, ay), corner), (corner, (bx, by))):
            boxes.append((min(x0, x1) - 2, min(y0, y1) - 2, max(x0, x1) + 2, max(y0, y1) + 2))
    return boxes


def place_labels(axes, figure, cells: list[Cell], xs: list[float], ys: list[float], cost_name: str, lines: list[tuple]) -> None:
    """Annotate each point with model/strategy where it overlaps nothing placed before (front points first),
    nor a marker, nor the front's line (``lines``: boxes in pixels)."""
    renderer = figure.canvas.get_renderer()
    to_pixels = axes.transData.transform
    scale = DPI / 72
    taken = [(px - 6, py - 6, px + 6, py + 6) for px, py in (to_pixels((x, y)) for x, y in zip(xs, ys))] + lines  # the markers
    order = sorted(range(len(cells)), key=lambda i: (cost_name not in cells[i].fronts, -cells[i].score, xs[i]))
    for i in order:
        cell, on_front = cells[i], cost_name in cells[i].fronts
        text = f"{cell.model}/{cell.strategy}"
        probe = figure.text(0, 0, text, fontsize=FONT, fontweight="bold" if on_front else "normal")  # not clipped, unlike an annotation
        extent = probe.get_window_extent(renderer)
        width, height = extent.width, extent.height
        probe.remove()
        px, py = to_pixels((xs[i], ys[i]))
        chosen = SLOTS[0]
        for dx, dy in SLOTS:
            left = px + dx * scale - (width if dx < 0 else 0)
            box = (left, py + dy * scale, left + width, py + dy * scale + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in taken):
                chosen = (dx, dy)
                break
        dx, dy = chosen
        left = px + dx * scale - (width if dx < 0 else 0)
        taken.append((left, py + dy * scale, left + width, py + dy * scale + height))
        axes.annotate(
            text, (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", fontsize=FONT, ha="right" if dx < 0 else "left",
            fontweight="bold" if on_front else "normal", color="black" if on_front else "0.3", zorder=4,
        )  # fmt: skip


def plot_cost(table: Table, cost_name: str) -> bytes:
    """PNG bytes of the metric (y) against one cost (x) over the table's ranked cells."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator

    cost = COSTS[cost_name]
    cells = [cell for cell in table.ranked if not math.isnan(cell.cost(cost_name))]
    strategies = sorted({cell.strategy for cell in table.cells})
    models = sorted({cell.model for cell in table.cells})
    colours = {name: f"C{i % 10}" for i, name in enumerate(strategies)}
    markers = {name: MARKERS[i % len(MARKERS)] for i, name in enumerate(models)}
    figure = Figure(figsize=(9, 5), dpi=DPI)
    FigureCanvasAgg(figure)  # measures the labels' text (place_labels) and draws the PNG
    figure.subplots_adjust(left=0.09, right=0.83, top=0.92, bottom=0.11)  # fixed margins: every plot the same size
    axes = figure.add_subplot()
    xs, ys = [cell.cost(cost_name) for cell in cells], [cell.value for cell in cells]
    log = cost.log_axis and min(xs) > 0 and max(xs) / min(xs) > 20
    if log:
        axes.set_xscale("log")
        pad = (max(xs) / min(xs)) ** 0.06
        axes.set_xlim(min(xs) / pad, max(xs) * pad**4)  # room on the right for the labels
        top = 1.0 + 1e-9 if cost_name == "share" else math.inf  # the room right of 100 % is for labels: no "1000 %" tick
        if max(xs) / min(xs) < 1000:  # a few decades: ticks at 1, 2, 5 of each
            axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: cost.show(x) if x <= top else ""))  # 0.01 %, 1 %, 100 %; 2 s
    else:
        span = (max(xs) - min(xs)) or max(abs(max(xs)), 1.0) * 0.1
        axes.set_xlim(min(xs) - 0.08 * span, max(xs) + 0.3 * span)
        if cost_name == "share":
            axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * x:g} %"))
    span = (max(ys) - min(ys)) or 0.01
    axes.set_ylim(min(ys) - 0.12 * span, max(ys) + 0.18 * span)
    front = front_order(cells, cost_name)
    if len(front) > 1:  # the staircase: what the best setting at each budget reaches
        fx, fy = [c.cost(cost_name) for c in front], [c.value for c in front]
        axes.step(fx, fy, where="post" if table.mode == "max" else "pre", color="0.35", linewidth=1.2, zorder=1, label="Pareto front")
    for cell, x, y in zip(cells, xs, ys):
        on_front = cost_name in cell.fronts
        axes.scatter(
            x, y, s=90 if on_front else 45, marker=markers[cell.model], color=colours[cell.strategy],
            edgecolors="black" if on_front else "none", linewidths=1.2, zorder=3,
        )  # fmt: skip
    lines = staircase_boxes(axes.transData.transform, front, cost_name, table.mode) if len(front) > 1 else []
    place_labels(axes, figure, cells, xs, ys, cost_name, lines)
    if log:
        axes.set_xlabel(cost.axis[:-1] + ", log scale)" if cost.axis.endswith(")") else cost.axis + " (log scale)")
    else:
        axes.set_xlabel(cost.axis)
    axes.set_ylabel(f"best {table.metric} ({table.mode})")
    axes.set_title(f"{table.metric} against {cost.noun}: {table.task} (bold, ringed: on the Pareto front)", fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    handles = [axes.scatter([], [], color=colours[s], marker="o", label=s) for s in strategies]
    handles += [axes.scatter([], [], color="0.5", marker=markers[m], label=m) for m in models] if len(models) > 1 else []
    handles += [line for line in axes.lines if line.get_label() == "Pareto front"]
    axes.legend(handles=handles, fontsize=FONT, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # outside: no point hidden
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def plot_all(table: Table) -> dict[str, bytes]:
    """``metric_vs_<cost>.png`` -> PNG bytes, for each cost the runs logged."""
    return {f"metric_vs_{name}.png": plot_cost(table, name) for name in table.costs}
