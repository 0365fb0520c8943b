"""Disk space is checked, not discovered: the free space under KB_HOME (for /readyz and monitoring), the space an
ingest needs (estimated before it starts), and the refusal when it would not fit. The embedded index maps its
files into memory, so a disk that fills during a write kills the process with SIGBUS and no message."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from core.errors import InsufficientStorage, NotReady
from core.settings import Settings

MB = 1024 * 1024
BYTES_PER_UNIT = 100
"""Input bytes per indexed unit, on the small side (a short Chinese question is ~30 characters, 90 bytes), so
the vector estimate errs towards more units."""


def free_bytes(settings: Settings) -> int:
    """Free space on the file system that holds KB_HOME (the nearest existing parent if it is not made yet)."""
    path = settings.home.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def input_bytes(files: Iterable[Path]) -> int:
    return sum(p.stat().st_size for p in files if p.is_file())


def ingest_estimate(size: int, dim: int, factor: float) -> int:
    """Bytes an ingest of ``size`` input bytes may add: record and index data (``factor`` x the input) plus
    the vectors (units x dim x 4 bytes, twice: the shard's segment and its write-ahead log)."""
    units = size // BYTES_PER_UNIT + 1
    return int(size * factor) + units * dim * 4 * 2


def check_ingest_space(settings: Settings, size: int, dim: int) -> int:
    """Refuse an ingest whose estimate plus the margin does not fit in the free space; returns the estimate."""
    need = ingest_estimate(size, dim, settings.ingest_space_factor)
    free = free_bytes(settings)
    margin = settings.disk_margin_mb * MB
    if need + margin > free:
        raise InsufficientStorage(
            f"not enough disk space under {settings.home}: this ingest ({size / MB:.1f} MB of input) needs about "
            f"{need / MB:.0f} MB plus a margin of {settings.disk_margin_mb} MB (KB_DISK_MARGIN_MB), and "
            f"{free / MB:.0f} MB are free; free some space or move KB_HOME")
    return need


def check_free_floor(settings: Settings) -> int:
    """Raise ``NotReady`` when free space under KB_HOME is below ``KB_MIN_FREE_MB``; returns the free bytes."""
    free = free_bytes(settings)
    if free < settings.min_free_mb * MB:
        raise NotReady(f"only {free / MB:.0f} MB free under {settings.home}, below the floor of "
                       f"{settings.min_free_mb} MB (KB_MIN_FREE_MB): writes could fill the disk")
    return free
