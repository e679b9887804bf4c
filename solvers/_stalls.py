"""The stall guard of a parallel kernel: back off to one thread after a parallel call that
ran slower than one thread would have.

The load check of :mod:`._load` sees the machine at one instant. Another process that
solves in bursts (a second rank of the same job, a neighbour between two steps) can be
away at that instant and back a few microseconds later; the parallel call then waits for
a core for a scheduler time slice, several times its own length. So each kernel also
watches its own calls, in seconds per entry::

    serial rate     exponential average over its serial calls (weight 1/4 per call)
    parallel call   a stall when its rate exceeds twice the serial rate, or, before any
                    serial call, twice threads × the best parallel rate so far (no call
                    with t threads is more than t times faster than one thread)

Twice: a parallel call that waits for a core held by another process loses a scheduler
time slice, several times the length of a training batch's solve; the margin keeps the
ordinary spread of call times (the host's own work, other virtual machines) out.

Stalls also happen on an idle machine: a timer interrupt or a system daemon takes a core
from a parallel region now and then (measured on the 2-core machine: 0.2% of the calls of
a 12×12 grid Dijkstra batch of 256, by up to 2 ms). Those come one at a time; a process
that keeps taking the cores back makes them come in a row. So a single stall changes
nothing; from the second in a row (no clean parallel call between them) the kernel runs
serially for a hold as long as the time the stall lost (its duration minus that of the
same work at the limit), doubled at each further stall in the row, up to 2 s.
Where another process keeps taking the cores back, at most one parallel call in two
seconds then pays for it; a clean parallel call ends the row.

Example::

    >>> guard = StallGuard()
    >>> guard.record_serial(seconds=1e-3, size=1000)          # 1 µs per entry alone
    >>> guard.record_parallel(seconds=5e-3, size=1000, threads=2, now=0.0)  # 5 µs: a stall
    True
    >>> guard.allows_parallel(now=0.001)                      # the first one is forgiven
    True
    >>> guard.record_parallel(seconds=5e-3, size=1000, threads=2, now=1.0)  # a second in a row
    True
    >>> guard.allows_parallel(now=1.002), guard.allows_parallel(now=1.003)  # 3 ms lost
    (False, True)
"""

from __future__ import annotations

__all__ = ["StallGuard"]

MAX_HOLD = 2.0
_WEIGHT = 0.25
_MARGIN = 2.0


class StallGuard:
    """One kernel's call rates and serial hold (module docstring)."""

    __slots__ = ("serial_rate", "parallel_best", "hold_until", "hold", "streak", "stalls")

    def __init__(self) -> None:
        self.serial_rate: float | None = None
        self.parallel_best: float | None = None
        self.hold_until = -1e300
        self.hold = 0.0  # the last hold, 0 after a clean parallel call
        self.streak = 0  # stalls in a row
        self.stalls = 0

    def allows_parallel(self, now: float) -> bool:
        """Whether the hold after the last stall is over at time ``now``."""
        return now >= self.hold_until

    def record_serial(self, seconds: float, size: int) -> None:
        """A serial call on ``size`` entries took ``seconds``."""
        if size > 0:
            rate = seconds / size
            old = self.serial_rate
            self.serial_rate = rate if old is None else old + _WEIGHT * (rate - old)

    def record_parallel(self, seconds: float, size: int, threads: int, now: float) -> bool:
        """A parallel call on ``threads`` threads took ``seconds``, ending at ``now``;
        returns whether it stalled (and starts a hold if it is the second in a row)."""
        if size <= 0:
            return False
        rate = seconds / size
        if self.serial_rate is not None:
            limit = _MARGIN * self.serial_rate
        elif self.parallel_best is not None:
            limit = _MARGIN * threads * self.parallel_best
        else:
            limit = float("inf")
        if rate > limit:
            self.stalls += 1
            self.streak += 1
            if self.streak >= 2:
                lost = seconds - limit * size
                self.hold = min(max(lost, 2.0 * self.hold), MAX_HOLD)
                self.hold_until = now + self.hold
            return True
        self.hold, self.streak = 0.0, 0
        if self.parallel_best is None or rate < self.parallel_best:
            self.parallel_best = rate
        return False
