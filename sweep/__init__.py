"""sweep: choose a pretrained model and a fine-tuning strategy by experiment.

Hydra composes the configs (conf/), Optuna searches, Lightning trains (lightning_modules/),
MLflow records. Nothing heavy is imported here: `--help` and config errors must answer fast.
"""

__version__ = "0.1.0"
