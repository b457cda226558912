"""Handing memory back to the operating system once a burst of requests is over.

A web process holding hundreds of multi-megabyte image answers at once grows by as many
megabytes; when they are freed, glibc's malloc keeps most of it inside its heaps (and
raises its mmap threshold, so later large buffers land there too), and the process stays
large long after its clients left. ``malloc_trim(0)`` returns every free page of every
heap to the system; it costs milliseconds, so it runs only when a process goes idle
(pixdash/core/api_handler.py), never on a request's path.
"""

import ctypes
import ctypes.util
import functools
import logging

logger = logging.getLogger(__name__)


@functools.cache
def _malloc_trim():
    path = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(path).malloc_trim if path else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


def trim() -> bool:
    """Return free heap memory to the system; False where the C library cannot."""
    malloc_trim = _malloc_trim()
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
