"""glibc allocator thresholds for our long-running processes.

uvloop's TLS transport reads each batch of records with ``SSLObject.read(256 KiB)``: CPython
allocates a 256 KiB bytes object and shrinks it to what arrived. 256 KiB is above glibc's default
mmap threshold (128 KiB), and glibc only raises that threshold when a mapped block is freed whole,
never for one that was shrunk first. Unless something earlier in the process happened to free a
big block (the API server's schema loading does; the scheduler's start-up does not), every TLS
read is an ``mmap``, page faults and a ``munmap``: a quarter of the CPU of a small request over
TLS in such a process (an aiohttp request 143 → 108 µs).

Fixed thresholds keep such blocks on the heap. Setting the mmap threshold turns glibc's dynamic
adjustment of both thresholds off, so the trim threshold is set with it (its 128 KiB default would
give the heap top back and take it again on every read).
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

# mallopt(3) parameters
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 1 << 20  # blocks this big and over get their own mapping
TRIM_THRESHOLD = 8 << 20  # free memory kept at the heap top before it is returned


def tune_malloc() -> bool:
    """Set the thresholds; False where the C library is not glibc (nothing to tune)."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not ok:
        log.debug("mallopt refused the allocator thresholds")
    return ok
