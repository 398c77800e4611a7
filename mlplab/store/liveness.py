"""Is a running run's process still there? A run records its pid, host and a heartbeat.

On the same host a run is lost when its pid no longer exists, is a zombie, or now
belongs to a process started after the run (a reused pid); from another host, when
its heartbeat is older than LOST_AFTER_S.
"""
from __future__ import annotations

import calendar
import os
import socket
import time
from pathlib import Path

from .encoding import unreal

HEARTBEAT_S = 10.0     # a training process beats this often
LOST_AFTER_S = 300.0   # a run on another host without a heartbeat for this long is lost


def started(pid: int) -> float | None:
    """When process `pid` started (Unix time), from /proc (Linux); None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def alive(pid: int, since: float) -> bool:
    """Is `pid` the process that has been running since `since` (its pid may have been reused)?"""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, belongs to someone else
    except OSError:
        return True
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie: exited, not yet reaped by its parent
    except (OSError, IndexError):
        pass
    start = started(pid)
    return start is None or start <= since + 2.0


def timestamp(iso: str | None) -> float:
    try:
        return float(calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")))
    except (TypeError, ValueError):
        return 0.0


def gone(row: dict) -> str | None:
    """Why a `running` run or sweep is lost (its process is gone), or None while it lives."""
    pid, host = row.get("pid"), row.get("host")
    if pid is None or not host:
        return None
    if host == socket.gethostname():
        return None if alive(int(pid), timestamp(row.get("created"))) else f"process {pid} on {host} is gone"
    beat = unreal(row.get("heartbeat"))
    last = float(beat) if beat is not None else timestamp(row.get("created"))
    if time.time() - last > LOST_AFTER_S:
        return f"no heartbeat from {host} (process {pid}) for {time.time() - last:.0f} s"
    return None
