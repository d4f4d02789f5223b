"""Locks on files in the output folder, held with flock: the kernel (or the NFS server's
lock manager) releases them when their process dies, so a lock left by a killed run is
simply free again."""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket

from .records import STATE_FOLDER


class FileLock:
    """An exclusive lock on ``path``; its file names the holder for messages."""

    def __init__(self, path: str):
        self.path = path
        self._handle = None

    def acquire(self, wait: bool) -> bool:
        """Take the lock; with ``wait`` False, return False at once if another process
        holds it. Taking a lock already held by this object returns True."""
        if self._handle is not None:
            return True
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        handle = open(self.path, "a+", encoding="utf8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{socket.gethostname()} {os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def holder(self) -> str:
        """'host pid' of the process that wrote the lock file last."""
        try:
            with open(self.path, encoding="utf8") as handle:
                return handle.read().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self):
        self.acquire(wait=True)
        return self

    def __exit__(self, *exc):
        self.release()


def run_lock(out_dir: str, job_files, shard) -> FileLock:
    """The lock a render of ``job_files`` into ``out_dir`` holds: one per shard, so shards
    of a sweep run side by side and a second run of the same shard (cron) sees the first."""
    files = "\n".join(sorted(os.path.abspath(path) for path in job_files))
    digest = hashlib.sha1(files.encode()).hexdigest()[:12]
    name = f"render-{digest}-shard-{shard.index}-of-{shard.count}.lock"
    return FileLock(os.path.join(out_dir, STATE_FOLDER, name))
