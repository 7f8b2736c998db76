"""Configuration, the house's floor: the config schemas (one dataclass per group), the registry type,
ConfigError, the command line's group checks, and ``validate`` (a composed config, checked whole).

Never imports a feature package, except ``validate.py``, which checks names against the light catalogues
the features keep (strategies, model families, task kinds, augmenters, schedulers).
"""
