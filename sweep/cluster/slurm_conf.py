"""The slurm.conf of the single-node cluster: this machine is the controller and the only node.

Every path is under ``<root>/slurm``, so the system's /etc/slurm, /var/spool and /var/log stay untouched.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from sweep.cluster.settings import ClusterSettings


def node_name() -> str:
    """slurmd finds its NodeName entry by the short host name."""
    return socket.gethostname().split(".")[0]


def memory_mb() -> int:
    """This machine's memory as slurmd counts it (MemTotal); a RealMemory above it would drain the node."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def cpus() -> int:
    return len(os.sched_getaffinity(0))


def slurm_conf(settings: ClusterSettings, munge_socket: Path) -> str:
    folder = settings.slurm_conf.parent
    host, memory, cores = node_name(), memory_mb(), cpus()
    return f"""\
# Written by `python -m sweep.cluster up` for a single-node dev/CI cluster on {settings.host}; rewritten on each start.
ClusterName=sweep
SlurmctldHost={host}({settings.host})
SlurmctldPort={settings.slurmctld_port}
SlurmdPort={settings.slurmd_port}
# our own munged (sweep/cluster/munge.py): clients read the socket from here too
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
# root runs both daemons, so no folder needs a chown to the slurm user
SlurmUser=root
SlurmdUser=root
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
# no cgroups and no systemd here: track job processes by their parents, bind nothing
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# cores and memory are consumable, so several 1-CPU jobs share the node; a job that asks for no memory gets
# its CPUs' share, not the whole node (which would run one job at a time)
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={memory // cores}
SchedulerType=sched/backfill
# no slurmdbd: no accounting (sacct does not work; submitit falls back to squeue)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
# a node that comes back (after `down` and `up`) serves again without an admin's `scontrol update`
ReturnToService=2
# scancel: SIGTERM, then SIGKILL after 5 s (a trial's signal handler gets that long to record its end)
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
NodeName={host} NodeAddr={settings.host} CPUs={cores} RealMemory={memory} State=UNKNOWN
PartitionName={settings.partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
