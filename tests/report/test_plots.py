"""The report's plots from a hand-made table: each cell's bar is its bootstrap interval, else ± 1 sd over seeds,
else none; the y range holds every bar, labels keep off the bars, the legend says what the bars are; seeds.png
(one column per cell, a dot per seed) only when some cell has several seeds; every PNG decodes at 1080 x 600."""

from __future__ import annotations

import io
import math
from collections import Counter

import pytest
from matplotlib.collections import PathCollection
from PIL import Image

from sweep.report.collect import Cell, Table
from sweep.report.pareto import mark_fronts
from sweep.report.plots import BOOTSTRAP, SPREAD, bar_boxes, cost_figure, error_bar, jitter, plot_all, seeds_figure, y_limits

SIZE = (1080, 600)  # 9 x 5 inches at 120 dpi


def cell(model: str, strategy: str, values: list[float], memory: float, interval=None, share: float = 0.01) -> Cell:
    mean = sum(values) / len(values)
    return Cell(
        model, strategy, mean, mean, {"test/acc": 0.5}, {"share": share, "memory": memory}, run_id=f"{model}-{strategy}",
        run_name=f"{model}-{strategy}", states=Counter(finished=len(values)), values=values,
        run_ids=[f"{model}-{strategy}-{i}" for i in range(len(values))], interval=interval,
    )  # fmt: skip


def table_of(cells: list[Cell]) -> Table:
    cells = sorted(cells, key=lambda c: -c.score)
    table = Table("rotten_tomatoes", "val/acc", "max", ["test/acc"], cells, runs=sum(c.n for c in cells))
    mark_fronts(table.ranked, table.costs)
    return table


def mixed() -> Table:
    """Some cells with a bootstrap interval, one with seeds but no predictions, one with a single seed and none."""
    return table_of(
        [
            cell("bert", "lora", [0.80, 0.82, 0.84], 3000.0, interval=(0.75, 0.86), share=0.004),
            cell("bert", "full", [0.85], 6000.0, share=1.0),
            cell("minilm", "lora", [0.78, 0.80], 1200.0, share=0.01),  # ± sd: 0.79 ± 0.0141
            cell("minilm", "ia3", [0.70], 1100.0, interval=(0.64, 0.73), share=0.0005),  # one seed, but predictions: a bar
        ]
    )


def decoded(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes the whole image, not just its header
    return image.size


def test_a_cells_bar_is_its_interval_else_one_sd_over_seeds_else_none():
    assert error_bar(cell("m", "s", [0.8, 0.9], 1.0, interval=(0.7, 0.95))) == (0.7, 0.95)  # not symmetric about the mean: kept
    low, high = error_bar(cell("m", "s", [0.8, 0.9], 1.0))
    assert (low, high) == pytest.approx((0.85 - math.sqrt(0.005), 0.85 + math.sqrt(0.005)))
    assert error_bar(cell("m", "s", [0.8], 1.0)) is None  # one seed, no predictions: nothing to show
    assert error_bar(cell("m", "s", [0.8], 1.0, interval=(0.7, 0.9))) == (0.7, 0.9)
    assert error_bar(Cell("m", "s", 0.8, 0.8)) is None  # a cell from before seeds were recorded
    broken = cell("m", "s", [0.8, 0.9], 1.0, interval=(math.nan, math.nan))
    assert error_bar(broken) == pytest.approx((0.85 - 0.0707, 0.85 + 0.0707), abs=1e-4)  # a NaN interval: as if none


def test_the_y_range_holds_every_bar_and_every_seed():
    table = mixed()
    bars = [bar for c in table.ranked if (bar := error_bar(c))]
    low, high = y_limits(table.ranked)
    assert low < min(b[0] for b in bars) and high > max(b[1] for b in bars)
    axes = cost_figure(table, "memory").axes[0]
    assert axes.get_ylim() == pytest.approx((low, high))
    seeds_low, seeds_high = seeds_figure(table).axes[0].get_ylim()
    values = [v for c in table.ranked for v in c.values]
    assert seeds_low < min(values + [b[0] for b in bars]) and seeds_high > max(values + [b[1] for b in bars])


def test_plot_all_adds_seeds_png_only_when_some_cell_has_several_seeds():
    single = table_of([cell("bert", "lora", [0.8], 3000.0), cell("bert", "full", [0.85], 6000.0, interval=(0.8, 0.9), share=1.0)])
    images = plot_all(single)
    assert list(images) == ["metric_vs_share.png", "metric_vs_memory.png"]
    images = plot_all(mixed())
    assert list(images) == ["metric_vs_share.png", "metric_vs_memory.png", "seeds.png"]
    assert all(decoded(data) == SIZE for data in images.values())


def test_one_seed_cells_without_an_interval_draw_no_bar_and_the_legend_says_no_bars():
    table = table_of([cell("bert", "lora", [0.8], 3000.0), cell("bert", "full", [0.85], 6000.0, share=1.0)])
    figure = cost_figure(table, "memory")
    axes = figure.axes[0]
    assert not axes.containers  # no errorbar drawn
    assert not any(text.get_text().startswith("bars:") for text in axes.get_legend().get_texts())


def test_bars_are_drawn_and_named_in_the_legend_and_it_fits_in_the_figure():
    figure = cost_figure(mixed(), "memory")
    axes = figure.axes[0]
    assert len(axes.containers) == 3  # bert/lora and minilm/ia3 (intervals), minilm/lora (sd); not bert/full
    legend = axes.get_legend()
    assert [t.get_text() for t in legend.get_texts() if t.get_text().startswith("bars:")] == [BOOTSTRAP, SPREAD]
    assert legend.get_window_extent(figure.canvas.get_renderer()).x1 <= figure.bbox.width  # not cut off on the right
    only_bootstrap = table_of([cell("bert", "lora", [0.8, 0.82], 3000.0, interval=(0.7, 0.9))])
    texts = [t.get_text() for t in cost_figure(only_bootstrap, "memory").axes[0].get_legend().get_texts()]
    assert BOOTSTRAP in texts and SPREAD not in texts


def test_labels_keep_off_the_bars_and_inside_the_axes():
    # b's tall bar stands just right of a: a's first slot (right, above) would be written across it
    a, b = cell("bert", "lora", [0.80], 1000.0), cell("minilm", "lora", [0.79, 0.81], 1020.0, interval=(0.70, 0.90))
    c = cell("bert", "full", [0.60], 200.0)  # the cheapest: a and b mid-plot, with room left of them
    table = table_of([a, b, c])
    figure = cost_figure(table, "memory")
    axes, renderer = figure.axes[0], figure.canvas.get_renderer()
    cells = table.ranked
    bars = bar_boxes(axes.transData.transform, [x.cost("memory") for x in cells], [error_bar(x) for x in cells])
    assert len(bars) == 1
    labels = {text.get_text(): text.get_window_extent(renderer) for text in axes.texts}
    assert set(labels) == {"bert/lora", "minilm/lora", "bert/full"}
    frame = axes.bbox
    for name, box in labels.items():
        assert not any(box.x0 < b[2] and b[0] < box.x1 and box.y0 < b[3] and b[1] < box.y1 for b in bars), name
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, name


def test_the_seeds_plot_has_a_column_per_cell_best_first_with_a_dot_per_seed():
    table = mixed()
    axes = seeds_figure(table).axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["bert/full", "bert/lora", "minilm/lora", "minilm/ia3"]
    dots = [collection.get_offsets() for collection in axes.collections if isinstance(collection, PathCollection)]
    xs = sorted(round(float(x), 6) for offsets in dots for x, _ in offsets)
    assert xs == sorted(round(i + dx, 6) for i, c in enumerate(table.ranked) for dx in jitter(c.n))  # one dot per seed, in its column
    assert len(axes.containers) == 2  # the intervals only (bert/lora, minilm/ia3): the dots show the spread
    assert "the best" not in axes.get_title()
    broken = table_of([cell("bert", "lora", [0.8, 0.9], 1.0, interval=(math.nan, math.nan))])
    axes = seeds_figure(broken).axes[0]
    assert not axes.containers and not any(t.get_text().startswith("bars:") for t in axes.get_legend().get_texts())


def test_the_jitter_is_fixed_even_and_centred():
    assert jitter(1) == [0.0] and jitter(0) == []
    offsets = jitter(4)
    assert offsets == jitter(4) and offsets == sorted(offsets) and sum(offsets) == pytest.approx(0)
    assert len({round(b - a, 9) for a, b in zip(offsets, offsets[1:])}) == 1 and max(map(abs, offsets)) <= 0.2
    assert max(map(abs, jitter(50))) <= 0.18 + 1e-9  # many seeds stay inside their column


def test_the_same_runs_draw_the_same_pictures():
    assert plot_all(mixed()) == plot_all(mixed())
