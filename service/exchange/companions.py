"""The processes ``migdocs serve`` runs beside the web server on a node of a Party.

* the **peer listener** (``migdocs peer listen --bind HOST:PORT``): the mTLS endpoint the
  other Party's node delivers to — its own process, because the listener's TLS setup
  (client certificates required) differs from the API listener's;
* ``delivery_workers`` **delivery workers** (``migdocs worker``): each its own process, so
  a worker killed (or stuck in a long send) never touches the web server.

They are children of ``serve``: started before the web server, stopped (SIGTERM, then
SIGKILL after ``graceful_timeout``) when it exits, and on Linux told by the kernel to stop
if ``serve`` itself is killed (``PR_SET_PDEATHSIG``).  A child that exits early is logged,
not restarted: run ``migdocs worker`` under a supervisor for that.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from service.config import Settings

log = logging.getLogger("migdocs.exchange")

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def companion_commands(settings: Settings, peer_bind: str | None) -> list[list[str]]:
    """The ``migdocs`` argument lists of the companions this node needs (maybe none)."""
    if settings.party is None:
        return []  # single-node mode: nothing to deliver, nobody to listen to
    commands: list[list[str]] = []
    if peer_bind:
        commands.append(["peer", "listen", "--bind", peer_bind])
    commands.extend(["worker"] for _ in range(settings.delivery_workers))
    return commands


@dataclass
class Companions:
    """The running children; :meth:`stop` ends them (only from the process that started
    them: gunicorn's forked workers inherit the ``atexit`` hook)."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    owner: int = field(default_factory=os.getpid)
    grace: float = 30.0

    def stop(self) -> None:
        if os.getpid() != self.owner:
            return
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(self.grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def start_companions(
    commands: Sequence[Sequence[str]],
    grace: float = 30.0,
    popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
) -> Companions:
    """Start ``python -m service <command>`` for each command; stopped at exit."""
    companions = Companions(grace=grace)
    for command in commands:
        args = [sys.executable, "-m", "service", *command]
        process = popen(args, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        log.info("started %s (pid %d)", " ".join(command), process.pid)
        companions.processes.append(process)
    atexit.register(companions.stop)
    return companions
