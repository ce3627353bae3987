"""How free each gunicorn worker of this server is to take a new connection.

Every worker of a threaded gunicorn accepts connections, whatever its threads are doing.
A POST that lands in a worker that renders waits for that render (``render_lock``: one
render at a time per process), up to a minute behind the largest document, while another
worker sits idle; CI saw a 1-page POST take 11.8 s so.  Two POSTs that arrive together can
also land in one worker, the second queued behind the first's render.  The board lets a
worker step aside: it stops accepting while another worker is freer (:func:`rank`: idle
over busy over rendering, a long render lowest), in effect "least busy worker first".
When no worker is freer, every worker accepts as before, so a health check never waits
for a render.

Shared memory created by the master before it forks: per slot, the state of the slot's
worker and since when it renders.  The master gives each worker its own slot
(:meth:`WorkerBoard.assign`, gunicorn's ``pre_fork`` hook) and closes it when the worker
exits, however it died (:meth:`WorkerBoard.release`, ``child_exit``).  A worker writes
only its own slot, so no lock is needed: a lock held by a worker killed with ``kill -9``
would stop every other worker.  A worker reads the others' states at each turn of its
loop (at least once a second, four times a second while it renders) and whenever its own
state changes.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

CLOSED = 0
"""Not taking connections: starting, stopping, exited, or at its connection limit."""
RENDERING = 1
"""Rendering work in hand (``render_lock``): a new POST there would wait for it."""
BUSY = 2
"""Serving requests, none of them rendering."""
IDLE = 3
"""No request in hand."""

RENDER_AGE_STEPS = (1.0, 3.0, 10.0, 30.0)
"""Seconds in hand past which rendering work ranks one lower.  A 1-page document is in
hand for 0.1-0.3 s, a 5-page one ~0.5 s (more on a busy machine); work in hand for longer
is a large document, and the worker that has been on one longest takes connections last.
Short renders are alike: of two small documents the older is not the longer one."""

SLOT_ATTRIBUTE = "migdocs_board_slot"
"""The attribute of a gunicorn worker object that holds its slot (``None``: no slot)."""


def rank(state: int, since: float, now: float) -> int:
    """How free a worker in ``state`` (rendering since ``since``) is at ``now``: higher is
    freer."""
    if state == RENDERING:
        return 10 - sum(1 for step in RENDER_AGE_STEPS if now - since > step)
    return {CLOSED: 0, BUSY: 11, IDLE: 12}.get(state, 0)


class WorkerBoard:
    """The states of the workers of one server (created in the master)."""

    def __init__(self, workers: int) -> None:
        # Room for a replacement forked while the worker it replaces still finishes its
        # requests (max_requests recycling, TTIN); a worker without a slot never steps aside.
        slots = 2 * workers + 2
        context = multiprocessing.get_context("fork")
        self._states = context.RawArray("b", slots)
        self._since = context.RawArray("d", slots)
        """When rendering began (``time.monotonic``, one clock for all processes):
        published as a time, not as an age, so that every reader ranks all workers at
        one ``now`` — ages published at different moments made two rendering workers
        each see the other as freer, and both stopped accepting."""

    def assign(self, worker: Any, live_workers: Any) -> None:
        """Give ``worker`` (about to be forked) a slot no live worker holds (master)."""
        taken = {getattr(w, SLOT_ATTRIBUTE, None) for w in live_workers}
        free = [slot for slot in range(len(self._states)) if slot not in taken]
        slot = free[0] if free else None
        if slot is not None:
            self._states[slot] = CLOSED
        setattr(worker, SLOT_ATTRIBUTE, slot)

    def release(self, worker: Any) -> None:
        """The worker has exited (master)."""
        slot = getattr(worker, SLOT_ATTRIBUTE, None)
        if slot is not None:
            self._states[slot] = CLOSED

    def publish(self, slot: int | None, state: int, since: float = 0.0) -> None:
        """The state of the worker holding ``slot`` (written by that worker only)."""
        if slot is not None:
            self._since[slot] = since
            self._states[slot] = state

    def another_is_freer(self, slot: int | None, now: float) -> bool:
        """Whether a worker other than the one holding ``slot`` ranks above it at ``now``."""
        if slot is None:
            return False
        ranks = [
            rank(state, since, now) for state, since in zip(self._states, self._since, strict=True)
        ]
        mine = ranks[slot]
        return any(other > mine for index, other in enumerate(ranks) if index != slot)
