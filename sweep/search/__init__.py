"""Optuna search as a Hydra sweeper: spaces, samplers, pruners, storages, workers and the end report.

Only standard library and omegaconf are imported at package level; optuna is imported where used.
"""
