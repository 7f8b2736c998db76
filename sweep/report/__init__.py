"""``python -m sweep.report``: which model, which strategy, from the runs of an experiment or one sweep.

collect.py reads the runs into one row per model x strategy, pareto.py marks the fronts of accuracy
against each cost (costs.py), recommend.py says in words what to take, plots.py and render.py write the
Markdown and HTML, record.py logs them on MLflow; hook.py is the paragraph a grid or search ends with.
"""
