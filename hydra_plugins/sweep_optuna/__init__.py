"""The name Hydra instantiates for ``hydra/sweeper=sweep_optuna``: Hydra accepts sweepers only from
the ``hydra_plugins`` namespace. The implementation lives in sweep/search/sweeper.py.

Hydra imports every module here at start-up to discover plugins: keep this file free of heavy imports.
"""

from sweep.search.sweeper import OptunaSweeper as _Implementation


class OptunaSweeper(_Implementation):
    pass
