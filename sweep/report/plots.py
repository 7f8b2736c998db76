"""The report's plots: the validation metric against each cost, one PNG per cost, with its Pareto front
drawn as a staircase and every point labelled model/strategy.

matplotlib's object API on the Agg canvas (``Figure``, no pyplot): no display, no global figure state, so
it is safe inside a sweep's process and on headless nodes. Labels are placed by a greedy pass over a few
slots around each point (right, below, left, ...), the first inside the axes that overlaps no placed label,
point, front line or error bar (where none is free, the one over the fewest labels and points): with tens of
points that is enough, deterministic and instant (adjustText's iterative repulsion would add a
dependency and move labels differently from one matplotlib version to the next).

A cell's point is the mean over its seeds; its vertical bar is the uncertainty of that mean (``error_bar``):
the 95 % bootstrap interval over validation rows and seeds when predictions were recorded, else ± 1 sd over
seeds, else none. ``seeds.png``, when some cell has several seeds, shows each seed's value beside its mean.
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
CAP = 3  # points: half the width of an error bar's caps
BOOTSTRAP = "bars: 95 %\nbootstrap interval\n(rows and seeds)"  # the legend's words, in lines that fit right of the axes
SPREAD = "bars: ± 1 sd\nover seeds"
HANDLE = 1.6  # the legend's handles, in font sizes (matplotlib's default 2.0: less room for the words)
MAX_COLUMNS = 30  # seeds.png: the best this many cells, beyond that the columns are too thin to read
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


def has_interval(cell: Cell) -> bool:
    """Whether the cell has a bootstrap interval to draw (one of NaN counts as none)."""
    return cell.interval is not None and all(math.isfinite(v) for v in cell.interval)


def error_bar(cell: Cell) -> tuple[float, float] | None:
    """The (low, high) of the cell's bar: its bootstrap interval when it has one, else mean ± sd when it has
    several seeds, else None (nothing drawn)."""
    if has_interval(cell):
        return min(cell.interval), max(cell.interval)
    if cell.value is not None and cell.n > 1 and math.isfinite(cell.sd):
        return cell.value - cell.sd, cell.value + cell.sd
    return None


def bar_kind(cell: Cell) -> str | None:
    """What the cell's bar is: BOOTSTRAP, SPREAD or None (the legend's words)."""
    if error_bar(cell) is None:
        return None
    return BOOTSTRAP if has_interval(cell) else SPREAD


def y_limits(cells: list[Cell], seeds: bool = False, below: float = 0.12, above: float = 0.18) -> tuple[float, float]:
    """The y range that shows every cell's value and bar (and, with ``seeds``, each seed's value), with margins:
    ``below`` and ``above`` as shares of the span (above: room for labels)."""
    ys = [cell.value for cell in cells if cell.value is not None]
    ys += [end for cell in cells if (bar := error_bar(cell)) for end in bar]
    ys += [v for cell in cells for v in cell.values if math.isfinite(v)] if seeds else []
    if not ys:
        return 0.0, 1.0
    low, high = min(ys), max(ys)
    span = (high - low) or 0.01
    return low - below * span, high + above * span


def jitter(k: int, width: float = 0.36) -> list[float]:
    """Horizontal offsets of k seeds' dots in a column, oldest leftmost: evenly over ``width``, 0 for one,
    never random (the same picture from the same runs)."""
    if k <= 1:
        return [0.0] * k
    step = min(width / (k - 1), 0.12)
    return [(i - (k - 1) / 2) * step for i in range(k)]


def styles(table: Table) -> tuple[dict[str, str], dict[str, str]]:
    """Colour by strategy, marker by model: the same in every plot of a report."""
    strategies = sorted({cell.strategy for cell in table.cells})
    models = sorted({cell.model for cell in table.cells})
    return {name: f"C{i % 10}" for i, name in enumerate(strategies)}, {name: MARKERS[i % len(MARKERS)] for i, name in enumerate(models)}


def draw_bar(axes, x: float, bar: tuple[float, float], kind: str, colour: str, zorder: float = 2) -> None:
    """A vertical bar from bar[0] to bar[1] at x, capped; dashed for ± sd, solid for a bootstrap interval."""
    low, high = bar  # drawn up from its low end: a bootstrap interval need not be symmetric about the mean
    _, _, lines = axes.errorbar(
        [x], [low], yerr=[[0.0], [high - low]], fmt="none", ecolor=colour, elinewidth=1.1, capsize=CAP, capthick=1.1, zorder=zorder,
    )  # fmt: skip
    if kind == SPREAD:
        for line in lines:
            line.set_linestyle((0, (3, 1.5)))


def bar_handles(kinds: set[str]) -> list:
    """Legend entries that say what the bars are, in a fixed order."""
    from matplotlib.lines import Line2D

    handles = []
    for kind in (BOOTSTRAP, SPREAD):
        if kind in kinds:
            style = "-" if kind == BOOTSTRAP else (0, (3, 1.5))
            handles.append(Line2D([], [], color="0.3", linestyle=style, marker="_", markersize=2 * CAP, label=kind))
    return handles


def bar_boxes(to_pixels, xs: list[float], bars: list[tuple[float, float] | None]) -> list[tuple]:
    """Each drawn bar as a box (pixels), so that no label is written across it."""
    half = CAP * DPI / 72 + 2
    boxes = []
    for x, bar in zip(xs, bars):
        if bar is not None:
            (px, low), (_, high) = to_pixels((x, bar[0])), to_pixels((x, bar[1]))
            boxes.append((px - half, min(low, high) - 2, px + half, max(low, high) + 2))
    return boxes


def overlaps(box: tuple, others: list[tuple]) -> int:
    """How many of ``others`` (boxes: x0, y0, x1, y1) the box overlaps."""
    return sum(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in others)


def place_labels(axes, figure, cells: list[Cell], xs: list[float], ys: list[float], cost_name: str, lines: list[tuple]) -> None:
    """Annotate each point with model/strategy, inside the axes, where it overlaps nothing placed before (front
    points first), nor a marker, nor an obstacle (``lines``: boxes in pixels: the front's line, the error bars);
    where every slot overlaps something, text over a line or a bar is still readable, text over text is not."""
    renderer = figure.canvas.get_renderer()
    to_pixels = axes.transData.transform
    scale = DPI / 72
    frame = axes.bbox  # pixels: a label outside it would run into the ticks, the title or the legend
    taken = [(px - 6, py - 6, px + 6, py + 6) for px, py in (to_pixels((x, y)) for x, y in zip(xs, ys))]  # the markers, then labels
    order = sorted(range(len(cells)), key=lambda i: (cost_name not in cells[i].fronts, -cells[i].score, xs[i]))
    for i in order:
        cell, on_front = cells[i], cost_name in cells[i].fronts
        text = f"{cell.model}/{cell.strategy}"
        probe = figure.text(0, 0, text, fontsize=FONT, fontweight="bold" if on_front else "normal")  # not clipped, unlike an annotation
        extent = probe.get_window_extent(renderer)
        width, height = extent.width, extent.height
        probe.remove()
        px, py = to_pixels((xs[i], ys[i]))
        boxes = {}
        for dx, dy in SLOTS:
            left = px + dx * scale - (width if dx < 0 else 0)
            boxes[dx, dy] = (left, py + dy * scale, left + width, py + dy * scale + height)
        inside = [slot for slot, (x0, y0, x1, y1) in boxes.items() if frame.x0 <= x0 <= x1 <= frame.x1 and frame.y0 <= y0 <= y1 <= frame.y1]
        # the first slot free of everything; where none is, the one over the fewest labels and markers, then lines and bars
        dx, dy = min(inside or SLOTS, key=lambda slot: (overlaps(boxes[slot], taken), overlaps(boxes[slot], lines)))
        taken.append(boxes[dx, dy])
        axes.annotate(
            text, (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", fontsize=FONT, ha="right" if dx < 0 else "left",
            fontweight="bold" if on_front else "normal", color="black" if on_front else "0.3", zorder=4,
        )  # fmt: skip


def legend(axes, handles: list) -> None:
    """The legend right of the axes, outside them: no point hidden."""
    axes.legend(handles=handles, fontsize=FONT, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, handlelength=HANDLE)


def png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def plot_cost(table: Table, cost_name: str) -> bytes:
    """PNG bytes of the metric (y) against one cost (x) over the table's ranked cells."""
    return png(cost_figure(table, cost_name))


def cost_figure(table: Table, cost_name: str):
    """The figure of plot_cost (a matplotlib Figure on the Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator

    cost = COSTS[cost_name]
    cells = [cell for cell in table.ranked if not math.isnan(cell.cost(cost_name))]
    strategies = sorted({cell.strategy for cell in table.cells})
    models = sorted({cell.model for cell in table.cells})
    colours, markers = styles(table)
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
    axes.set_ylim(*y_limits(cells))  # the bars inside
    front = front_order(cells, cost_name)
    if len(front) > 1:  # the staircase: what the best setting at each budget reaches
        fx, fy = [c.cost(cost_name) for c in front], [c.value for c in front]
        axes.step(fx, fy, where="post" if table.mode == "max" else "pre", color="0.35", linewidth=1.2, zorder=1, label="Pareto front")
    bars = [error_bar(cell) for cell in cells]
    for cell, x, bar in zip(cells, xs, bars):
        if bar is not None:
            draw_bar(axes, x, bar, bar_kind(cell), colours[cell.strategy])
    for cell, x, y in zip(cells, xs, ys):
        on_front = cost_name in cell.fronts
        axes.scatter(
            x, y, s=90 if on_front else 45, marker=markers[cell.model], color=colours[cell.strategy],
            edgecolors="black" if on_front else "none", linewidths=1.2, zorder=3,
        )  # fmt: skip
    lines = staircase_boxes(axes.transData.transform, front, cost_name, table.mode) if len(front) > 1 else []
    lines += bar_boxes(axes.transData.transform, xs, bars)
    place_labels(axes, figure, cells, xs, ys, cost_name, lines)
    if log:
        axes.set_xlabel(cost.axis[:-1] + ", log scale)" if cost.axis.endswith(")") else cost.axis + " (log scale)")
    else:
        axes.set_xlabel(cost.axis)
    seeded = any(cell.n > 1 for cell in cells)
    axes.set_ylabel(f"best {table.metric} ({table.mode})" + (", mean over seeds" if seeded else ""))
    axes.set_title(f"{table.metric} against {cost.noun}: {table.task} (bold, ringed: on the Pareto front)", fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    handles = [axes.scatter([], [], color=colours[s], marker="o", label=s) for s in strategies]
    handles += [axes.scatter([], [], color="0.5", marker=markers[m], label=m) for m in models] if len(models) > 1 else []
    handles += [line for line in axes.lines if line.get_label() == "Pareto front"]
    handles += bar_handles({bar_kind(cell) for cell in cells} - {None})
    legend(axes, handles)
    return figure


def plot_seeds(table: Table) -> bytes:
    """PNG bytes of seeds_figure."""
    return png(seeds_figure(table))


def seeds_figure(table: Table):
    """A strip plot: one column per ranked cell (best first, at most MAX_COLUMNS), each seed's value
    a dot (oldest leftmost), their mean a short line, the bootstrap interval (when recorded) a bar beside them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    ranked = sorted(table.ranked, key=lambda cell: -cell.score)  # stable: the table's order among ties
    cells = ranked[:MAX_COLUMNS]
    colours, markers = styles(table)
    figure = Figure(figsize=(9, 5), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for i, cell in enumerate(cells):
        colour = colours[cell.strategy]
        values = cell.values or []
        axes.scatter(
            [i + dx for dx in jitter(len(values))], values, s=28, marker=markers[cell.model], color=colour,
            edgecolors="white", linewidths=0.5, zorder=4,
        )  # fmt: skip
        axes.hlines(cell.value, i - 0.28, i + 0.28, color="black", linewidth=1.6, zorder=3)  # under the dots: none hidden
        if has_interval(cell):  # not ± sd: the dots show the spread themselves
            draw_bar(axes, i + 0.36, error_bar(cell), BOOTSTRAP, colour)
    axes.set_xlim(-0.6, len(cells) - 0.4)
    axes.set_ylim(*y_limits(cells, seeds=True, below=0.08, above=0.08))
    axes.set_xticks(range(len(cells)), [f"{cell.model}/{cell.strategy}" for cell in cells], fontsize=FONT)
    renderer = figure.canvas.get_renderer()
    figure.subplots_adjust(left=0.09, right=0.83, top=0.92, bottom=0.11)
    column = axes.get_window_extent(renderer).width / max(len(cells), 1)
    widest = max(label.get_window_extent(renderer).width for label in axes.get_xticklabels())
    if widest > 0.95 * column:  # they would run into each other: slanted, hanging from their tick
        for label in axes.get_xticklabels():
            label.set(rotation=35 if widest * 0.82 < 2.2 * column else 60, ha="right", rotation_mode="anchor")
        tall = max(label.get_window_extent(renderer).height for label in axes.get_xticklabels())
        figure.subplots_adjust(bottom=min(0.5, (tall + 12) / figure.bbox.height))
    axes.set_ylabel(f"best {table.metric} ({table.mode}), each seed")
    shown = "" if len(cells) == len(ranked) else f"; the best {len(cells)} of {len(ranked)}"
    axes.set_title(f"{table.metric} over seeds: {table.task} (best first{shown})", fontsize=10)
    axes.grid(True, axis="y", which="major", alpha=0.3)
    handles = [
        Line2D([], [], color="0.4", marker="o", linestyle="none", markersize=5, label="a seed (one run),\noldest leftmost"),
        Line2D([], [], color="black", linewidth=1.6, label="mean over seeds"),
    ]
    handles += bar_handles({BOOTSTRAP} if any(has_interval(cell) for cell in cells) else set())
    strategies = sorted({cell.strategy for cell in table.cells})
    handles += [Line2D([], [], color=colours[s], marker="o", linestyle="none", markersize=5, label=s) for s in strategies]
    legend(axes, handles)
    return figure


def plot_all(table: Table) -> dict[str, bytes]:
    """``metric_vs_<cost>.png`` -> PNG bytes, for each cost the runs logged; and ``seeds.png`` when some ranked
    cell has several seeds."""
    images = {f"metric_vs_{name}.png": plot_cost(table, name) for name in table.costs}
    if any(cell.n > 1 for cell in table.ranked):
        images["seeds.png"] = plot_seeds(table)
    return images
