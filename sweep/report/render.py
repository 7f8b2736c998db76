"""The report as Markdown (report.md, with the plots beside it as PNG files), as one self-contained HTML
page (report.html, the plots embedded as base64 PNG), and as a run's description in the MLflow UI (the
Markdown without images, its table trimmed to whole rows under MLflow's tag limit)."""

from __future__ import annotations

import base64
import html
import math

from sweep.report.assemble import Report
from sweep.report.collect import Cell
from sweep.report.costs import COSTS
from sweep.report.pareto import front_order

TITLE = "Which model, which strategy"


def scope(report: Report) -> str:
    source, table = report.source, report.table
    states = table.states()
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    where = {
        "report.parent": f"The jobs of sweep {source.subject} (parent run {source.parent_run_id})",
        "report.study": f"The trials of study {source.subject}",
    }.get(source.scope_key, "Every fine-tuning run")
    text = (
        f"{where} in experiment {source.experiment}: {table.runs} run(s) ({counts}) on task {table.task}. "
        f"Ranked by the best {table.metric} on validation ({table.mode}); each model x strategy by its best configuration: the mean "
        f"over its seeds (runs equal but for `seed`; ± the sd over them, each seed a row underneath) of the best {table.metric}, "
        f"the test metrics, trainable share, training time and peak memory. Pruned, failed and interrupted runs are counted, not ranked."
    )
    noise = report.noise
    if noise is not None:
        text += (
            f" Intervals: {100 * noise.confidence:g} % bootstrap over the {noise.rows:,} validation rows (and the test's) and the "
            f"seeds, paired by row between settings, from each run's per-example predictions."
        )
    elif report.config.resamples:
        text += " No run kept per-example predictions (recorded before they were kept): no intervals."
    if table.left_out:
        text += f" {table.left_out} finished run(s) monitored another metric (no best_{table.metric}) and are left out."
    return text


def subject(report: Report) -> str:
    kind = {"report.parent": "sweep", "report.study": "study"}.get(report.source.scope_key, "experiment")
    return f"{kind} {report.source.subject}"


def settings_line(report: Report) -> str:
    config = report.config
    origins = report.limits_from
    limits = " and ".join(
        COSTS[name].limit_phrase(limit) + (f" ({origins[name]})" if name in origins else "") for name, limit in config.limits.items()
    ) or "none"  # fmt: skip
    noise = (
        f"not significantly worse than it (paired bootstrap, {config.resamples} resamples, {100 * config.confidence:g} %) or "
        if report.noise is not None
        else ""
    )
    return (
        f"Constraints: {limits}; cheapest = the lowest {COSTS[config.cost].noun} first, {noise}within "
        f"report.tolerance={config.tolerance:g} of the recommended."
    )


def role(report: Report, cell: Cell) -> str:
    rec = report.recommendation
    roles = [name for name, chosen in (("best overall", rec.best), ("recommended", rec.pick), ("cheapest near it", rec.cheapest))
             if chosen is cell and (name != "recommended" or report.config.limits)]  # fmt: skip
    return ", ".join(roles)


def number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


def spread(cell: Cell) -> str:
    """'0.7812 ± 0.0050' over several seeds, '0.7812' for one."""
    return number(cell.value) + (f" ± {cell.sd:.4f}" if cell.n > 1 else "")


def interval_text(interval: tuple[float, float] | None) -> str:
    return "" if interval is None else f"{interval[0]:.4f} to {interval[1]:.4f}"


def rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows: one per model x strategy, then (several seeds) one per seed run under it."""
    table = report.table
    costs = table.costs
    level = f"{100 * report.noise.confidence:g} %" if report.noise is not None else "95 %"
    head = [
        "model",
        "strategy",
        f"best {table.metric}" + (" (mean ± sd)" if any(cell.n > 1 for cell in table.ranked) else ""),
        f"{level} interval",
        *table.tests,
        *(COSTS[c].column for c in costs),
        "runs",
        "Pareto front",
        "note",
        "best run",
    ]
    body = []
    for cell in table.cells:
        shown = [COSTS[c].show(cell.cost(c)) if cell.ranked and not math.isnan(cell.cost(c)) else "" for c in costs]
        fronts = ", ".join(cell.fronts) if cell.ranked else "not ranked"
        tests = [number(cell.tests.get(name)) for name in table.tests]
        if table.tests and cell.test_interval is not None:
            tests[0] += f" ({interval_text(cell.test_interval)})"
        body.append(
            [cell.model, cell.strategy, spread(cell) if cell.ranked else "", interval_text(cell.interval), *tests, *shown,
             cell.runs_text(), fronts, role(report, cell), cell.run_name]
        )  # fmt: skip
        if cell.n > 1:  # each seed a row underneath
            for seed, value, name in zip(cell.seeds, cell.values, cell.run_names):
                blank = [""] * (len(table.tests) + len(costs))
                body.append(["", f"seed {seed or '?'}", number(value), "", *blank, "", "", "", name])
    return head, body


def markdown_table(head: list[str], body: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    align = ["---" if i < 2 or i == 3 or i >= len(head) - 3 else "--:" for i in range(len(head))]
    return "\n".join([line(head), "|" + "|".join(align) + "|", *map(line, body)])


def fronts_lines(report: Report) -> list[str]:
    lines = []
    for name in report.table.costs:
        chain = " -> ".join(
            f"{cell.label} ({COSTS[name].show(cell.cost(name))}, {cell.value:.4f})" for cell in front_order(report.table.ranked, name)
        )
        lines.append(f"- {COSTS[name].noun}: {chain}")
    return lines


def markdown(report: Report, images: list[str] | None = None) -> str:
    """report.md; ``images``: the plot files beside it (none in the MLflow description)."""
    head, body = rows(report)
    parts = [
        f"# {TITLE}: {subject(report)}",
        "",
        scope(report),
        "",
        f"**Recommendation.** {report.recommendation.text}",
        "",
        settings_line(report),
        "",
        "## Per model and strategy",
        "",
        markdown_table(head, body),
        "",
        "## Pareto fronts: cheapest first, each better than every cheaper one",
        "",
        *fronts_lines(report),
    ]
    for image in images or []:
        parts += ["", f"![{image.removesuffix('.png').replace('_', ' ')}]({image})"]
    return "\n".join(parts) + "\n"


def note(report: Report, limit: int) -> str:
    """The run's description in the MLflow UI: recommendation and table, whole rows, under ``limit`` characters."""
    from sweep.tracking.ui import note as trimmed

    head, body = rows(report)
    top = f"**{TITLE}.** {report.recommendation.text}\n\n{settings_line(report)}\n\n"
    tail = "\n\nPlots and Pareto fronts: report/report.html (artifacts)."
    table = trimmed(markdown_table(head, body), limit - len(top) - len(tail), "report/report.md")
    return top + table + tail


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; white-space: normal; } td.text { text-align: left; white-space: normal; }
tr.front td { font-weight: 600; } tr.unranked td { color: #888; } tr.seed td { color: #555; font-size: 0.92em; }
.recommendation { background: #eef6ee; border-left: 4px solid #3a3; padding: 0.8em 1em; font-size: 1.05em; }
img { max-width: 100%; display: block; margin: 1em 0; }
"""


def html_page(report: Report, images: dict[str, bytes]) -> str:
    """report.html: one file, the plots inside it."""
    head, body = rows(report)
    text_columns = {0, 1, 3, len(head) - 3, len(head) - 2, len(head) - 1}
    header = "".join(f"<th>{html.escape(name)}</th>" for name in head)
    lines = []
    kinds = []
    for cell in report.table.cells:
        kinds.append("front" if cell.fronts else ("" if cell.ranked else "unranked"))
        kinds += ["seed"] * (cell.n if cell.n > 1 else 0)
    for kind, row in zip(kinds, body):
        tds = "".join(
            f'<td class="text">{html.escape(v)}</td>' if i in text_columns else f"<td>{html.escape(v)}</td>" for i, v in enumerate(row)
        )
        lines.append(f'<tr class="{kind}">{tds}</tr>')
    fronts = "".join(f"<li>{html.escape(line[2:])}</li>" for line in fronts_lines(report))
    plots = "".join(
        f'<img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">' for name, data in images.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(TITLE)}: {html.escape(subject(report))}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(TITLE)}: {html.escape(subject(report))}</h1>
<p>{html.escape(scope(report))}</p>
<p class="recommendation"><b>Recommendation.</b> {html.escape(report.recommendation.text)}</p>
<p>{html.escape(settings_line(report))}</p>
<h2>Per model and strategy</h2>
<table><thead><tr>{header}</tr></thead><tbody>{"".join(lines)}</tbody></table>
<h2>Pareto fronts: cheapest first, each better than every cheaper one</h2>
<ul>{fronts}</ul>
{plots}
</body></html>
"""
