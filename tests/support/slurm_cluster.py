"""A one-node Slurm cluster on localhost, for the tests: installed from Debian's packages
when missing, started without systemd, stopped by PID.

Usage: ``with SlurmCluster(folder) as cluster: cluster.env`` (the environment a client
needs: SLURM_CONF). ``unavailable()`` says why it cannot run here (not root, not Debian).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
MUNGE_SOCKET_FOLDER = "/run/munge"


def unavailable() -> str | None:
    """Why a cluster cannot be started on this machine, or None."""
    if not os.path.exists("/etc/debian_version"):
        return "the test Slurm cluster is installed from Debian's packages; this is not Debian"
    if os.geteuid() != 0:
        return "starting the test Slurm cluster needs root (apt-get, munged, slurmd)"
    return None


def install() -> None:
    """apt-get install the daemons and clients, without letting the packages start them."""
    if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    policy = "/usr/sbin/policy-rc.d"
    with open(policy, "w", encoding="utf8") as script:
        script.write("#!/bin/sh\nexit 101\n")  # "action forbidden": no daemon starts
    os.chmod(policy, 0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env,
                       capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        *PACKAGES], check=True, env=env, capture_output=True)
    finally:
        os.unlink(policy)


class SlurmCluster:
    """munged, slurmctld and slurmd for one node, state and spool in ``folder``."""

    def __init__(self, folder: str):
        self.folder = folder
        self.conf = os.path.join(folder, "slurm.conf")
        self.completions = os.path.join(folder, "jobcomp.txt")
        self.env = {**os.environ, "SLURM_CONF": self.conf}
        self._processes: list[subprocess.Popen] = []

    def __enter__(self):
        install()
        self._start_munge()
        self._write_conf()
        for daemon in ("slurmctld", "slurmd"):
            log = open(os.path.join(self.folder, daemon + ".log"), "w", encoding="utf8")
            self._processes.append(subprocess.Popen(
                [daemon, "-D", "-f", self.conf], stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env=self.env))
        self._wait_until_idle()
        return self

    def __exit__(self, *exc):
        for process in reversed(self._processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)

    def _start_munge(self) -> None:
        os.makedirs(MUNGE_SOCKET_FOLDER, exist_ok=True)
        os.chmod(MUNGE_SOCKET_FOLDER, 0o755)
        if not os.path.exists("/etc/munge/munge.key"):
            subprocess.run(["mungekey", "--create"], check=True, capture_output=True)
        alive = subprocess.run(["munge", "-n"], capture_output=True).returncode == 0
        if not alive:
            self._processes.append(subprocess.Popen(
                ["munged", "-F", "--force", "--origin=127.0.0.1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
            _wait(lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0,
                  20, "munged did not start")

    def _write_conf(self) -> None:
        host = socket.gethostname()
        node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True,
                              check=True).stdout.splitlines()[0]
        state, spool = (os.path.join(self.folder, name) for name in ("state", "spool"))
        os.makedirs(state, exist_ok=True)
        os.makedirs(spool, exist_ok=True)
        with open(self.conf, "w", encoding="utf8") as conf:
            conf.write(f"""ClusterName=fvcli-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={self.folder}/slurmctld.pid
SlurmdPidFile={self.folder}/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.completions}
MailProg=/bin/true
SchedulerParameters=sched_interval=2,bf_interval=1
MinJobAge=5
ReturnToService=2
{node} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")

    def _wait_until_idle(self) -> None:
        def idle() -> bool:
            result = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True,
                                    text=True, env=self.env)
            return result.returncode == 0 and "idle" in result.stdout
        _wait(idle, 60, "the Slurm node did not become idle; see " + self.folder)

    def completed_jobs(self) -> list[dict]:
        """Finished jobs from the job-completion file: one dict of its fields per job."""
        try:
            with open(self.completions, encoding="utf8") as lines:
                return [dict(field.split("=", 1) for field in line.split() if "=" in field)
                        for line in lines]
        except OSError:
            return []


def _wait(ready, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.3)
    raise RuntimeError(message)
