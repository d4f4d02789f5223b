"""Job files as units of work: planning (units and fingerprints), shards, the runner that
renders them into the store and resumes, stop signals, progress, status, Slurm scripts and
the speeds renders record.

Start at :mod:`fvcli.sweep.plan` and :class:`fvcli.sweep.runner.SweepRunner`.
"""
