"""A real single-node cluster on 127.0.0.1 for development and CI: munge + SLURM, PostgreSQL, an MLflow server.

``python -m sweep.cluster up | down | status``, or from code::

    from sweep.cluster import Cluster
    cluster = Cluster()          # root outputs/cluster; ports from flags, env, the last `up`, defaults
    cluster.up()
    cluster.storage_url, cluster.tracking_uri, cluster.partition
"""

from sweep.cluster.cluster import Cluster
from sweep.cluster.errors import ClusterError

__all__ = ["Cluster", "ClusterError"]
