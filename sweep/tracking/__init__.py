"""MLflow tracking: the store, job runs, the sweep's parent run and its comparison table."""
