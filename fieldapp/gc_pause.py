"""Pausing Python's cyclic garbage collector while an import builds and writes many rows.

An import keeps every row it has read, each a list or tuple, until it writes them. The
collector runs after every 700 new container objects (its default threshold), and each
full pass walks every object still alive. So the import's own allocations made it walk
the rows read so far again and again. That took 6.6 s of a 25 s import of 240,000
register rows. While the collector is paused, reference counting still frees every
object outside a reference cycle. Cycles made in the meantime are freed by the first
pass after the pause.
"""

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0  # imports running with the collector paused, in any thread
_was_enabled = False  # whether the collector ran before the first of them paused it


@contextmanager
def paused_collector():
    """Pause the collector until every import that paused it has ended; usable as a decorator.

    NOTE: the collector is paused for the whole process, so objects in reference cycles that
    other threads drop during a long import wait for its end to be freed.
    """
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
