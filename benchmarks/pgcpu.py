"""CPU seconds of the PostgreSQL backends serving this process, read from /proc (benchmarks).

Works only with the server on this machine (and /proc readable, e.g. as root). Every
connection Django opens runs `SELECT pg_backend_pid()` once; the backend's utime + stime
(/proc/<pid>/stat, fields 14 and 15) is read when the measure starts, again just before
the connection closes and at the end. A backend born during the measure counts from its
start, so connection set-up is included (django-post-office reconnects for every batch).
"""
import os
import resource
import threading

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float | None:
    """utime + stime of a process in seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class BackendCpu:
    """Sums the CPU its connections' PostgreSQL backends spend between start() and stop()."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open: dict[int, int] = {}  # id(connection wrapper) -> backend pid
        self.base: dict[int, float] = {}  # pid -> CPU when the measure started (or 0.0)
        self.spent = 0.0
        self.running = False
        self.pids: list[int] = []
        connection_created.connect(self._created, weak=False)
        original = BaseDatabaseWrapper.close
        tracker = self

        def close(wrapper):
            tracker._closing(wrapper)
            return original(wrapper)

        BaseDatabaseWrapper.close = close

    def _created(self, sender, connection, **kwargs):
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with self.lock:
            self.open[id(connection)] = pid
            self.pids.append(pid)
            self.base[pid] = 0.0 if self.running else (proc_cpu(pid) or 0.0)

    def _closing(self, wrapper):
        with self.lock:
            pid = self.open.pop(id(wrapper), None)
            if pid is None:
                return
            now = proc_cpu(pid)
            if self.running and now is not None:
                self.spent += now - self.base.pop(pid, 0.0)

    def start(self) -> None:
        with self.lock:
            self.running, self.spent = True, 0.0
            for pid in self.open.values():
                self.base[pid] = proc_cpu(pid) or 0.0

    def stop(self) -> float:
        """CPU seconds spent by the backends since start()."""
        with self.lock:
            for pid in self.open.values():
                now = proc_cpu(pid)
                if now is not None:
                    self.spent += now - self.base.get(pid, 0.0)
                    self.base[pid] = now
            self.running = False
            return self.spent
