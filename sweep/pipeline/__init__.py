"""One job, top to bottom: ``job.run_job`` validates, resolves its sources (model, kept run, teacher),
builds data, model and strategy (build), trains (train: optimizer in optim, cost estimate in cost),
and records; ``outcome`` is what it hands back to a sweeper.

The top of the features: imports data, models, strategies, zoo, tracking; none of them imports it.
"""
