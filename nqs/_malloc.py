"""Keep XLA's per-call buffers on the heap instead of fresh pages (glibc only).

Each call of a compiled function allocates its temporary buffers and frees them on return. glibc
serves an allocation above its mmap threshold (dynamic, at most 32 MB by default) with a new
``mmap`` and returns it to the system on ``free``, so the next call touches fresh pages again: one
page fault and one zeroed page per 4 KiB. The RBM's VMC step on 6x6 and 10x10 (1008 samples) took
6,000-11,000 page faults per step this way, a sixth of the 6x6 step's time on the 2-core CPU (81 ->
66 ms). With the mmap and trim thresholds at 1 GiB those buffers come from the heap and stay mapped
between calls (measured: 0 faults per step).

A thread other than the main one allocates from its own arena, whose heaps glibc caps at 64 MB
(twice the largest default mmap threshold): a larger request is mapped afresh whatever the
thresholds. XLA runs a call's work, its buffer allocation included, on its pool threads as often as
on the caller's, and the 6x6 RBM's VMC step has 64 MB of temporaries (the SR solve's single- and
double-precision paths); on a pool thread it took ~5,600 page faults and 10 ms more per step. So
the arenas are limited to one (``M_ARENA_MAX``): every thread allocates from the main heap, whose
size only the thresholds bound. The threads that allocate are few (Python's and XLA's pool), and
they allocate once or twice per call. A thread that had an arena of its own before ``nqs`` was
imported (a notebook kernel's, a test runner's) keeps it, and so may a later thread that glibc
attaches to that arena: import ``nqs`` first for the setting to hold everywhere.

The cost is that freed memory below 1 GiB is kept by the process rather than returned to the
system: its resident size stays near its peak, which is the peak it had anyway. It is applied when
``nqs`` is imported, on Linux with glibc, unless the user has set glibc's own malloc variables
(``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``, ``MALLOC_ARENA_MAX``
or ``GLIBC_TUNABLES``: theirs win) or ``NQS_MALLOC_TUNING=0``.
"""

from __future__ import annotations

import ctypes
import os
import sys

THRESHOLD = 1 << 30  # bytes: allocations below it come from the heap, and freed heap below it is kept
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX",
                  "GLIBC_TUNABLES")


def tune(environ=os.environ) -> bool:
    """Raise glibc's mmap and trim thresholds to ``THRESHOLD`` and keep one arena; returns whether
    it was done."""
    if environ.get("NQS_MALLOC_TUNING", "1") == "0" or any(k in environ for k in _USER_SETTINGS):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl has no mallopt thresholds)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return (bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD)) & bool(mallopt(_M_TRIM_THRESHOLD, THRESHOLD))
            & bool(mallopt(_M_ARENA_MAX, 1)))
