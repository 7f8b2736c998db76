"""The grid: Hydra's own multirun (``-m model=a,b strategy=full,lora``) under one MLflow parent run, with
the comparison table and the report at its end (callback). The search's counterpart is sweep/search/.

Imports tracking and report; nothing below imports it (Hydra finds the callback by its _target_ in conf/config.yaml).
"""
