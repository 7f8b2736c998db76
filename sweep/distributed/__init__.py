"""Distribution: DDP ranks from the launcher's environment (ranks), our DDP launcher, the follower
ranks run (``python -m sweep.pipeline.follower``), and SLURM jobs as the submitter sees them.

Never imports the search or the entry points; the follower runs the job pipeline as rank 0 does.
"""
