"""The persistent spool: batches a destination cannot take now wait on disk, one directory per
destination, until it takes them again (in this process or the next one).

Layout of ``<root>/<service>/<destination>/``:

* ``<time_ns>-<pid>-<seq>-<spans>.span``: one batch each, oldest first by name (the span count
  in the name is for people: the bridge counts from the file's content). Written as
  ``.tmp-<pid>-...`` then fsynced and renamed: a crash mid-write leaves only a temporary file,
  which the next process removes; a complete file is never half-written;
* ``*.span.claimed-<pid>-s<start>``: a batch a process is sending now (a rename, so two
  processes sharing the directory never send the same file); put back when that process died
  (a process is its pid and its start time: a new PID 1 is not the killed one);
* ``*.corrupt``: a file that could not be read back, set aside (the newest few are kept for
  inspection), its spans counted as dropped ``spool_corrupt``.

A file holds a header (magic, version, span count, CRC-32), the transport options as JSON and
the serialized ``ExportTraceServiceRequest``. The size bound covers the ``.span`` files: when a
new batch would pass it, the oldest batches are evicted and counted ``spool_full``; a batch
larger than the whole bound is not written, counted ``spool_error``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_bridge.spool.payload import Payload

__all__ = ["Spool", "SpoolCounts", "SpoolEntry", "destination_directory"]

_logger = logging.getLogger(__name__)

MAGIC = b"OTBSPOOL"
VERSION = 1
_HEADER = struct.Struct(">8sBIII")  # magic, version, spans, options length, crc32
SUFFIX = ".span"
CORRUPT_KEPT = 8
# A process is named by its pid and its start time: in a container the app is PID 1 in every
# run, and a pid alone would make a claim left by the killed PID 1 look like the new one's.
_CLAIMED = re.compile(r"^(.+\.span)\.claimed-(\d+)(?:-s(\d+))?$")
_TMP = re.compile(r"^\.tmp-(\d+)-(?:s(\d+)-)?")

# Why the spool dropped spans (counted beside the destination's own reasons).
SPOOL_FULL = "spool_full"  # evicted from a full spool, oldest first
SPOOL_CORRUPT = "spool_corrupt"  # in a spool file that could not be read back (set aside)
SPOOL_ERROR = "spool_error"  # could not be written to the spool (disk full, permissions)


class SpoolCounts(Protocol):
    """What the spool counts: the destination's stats (:mod:`otel_bridge.exporters.stats`)."""

    def add_spooled(self, count: int) -> None: ...

    def add_dropped(self, count: int, reason: str) -> None: ...

    def add_corrupt_file(self) -> None: ...

    def set_spool_level(self, files: int, spans: int, size: int) -> None: ...


def destination_directory(root: Path, service: str | None, destination: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", service or "unknown_service").strip("._") or "service"
    return root / safe[:100] / destination


@dataclass(frozen=True)
class SpoolEntry:
    path: Path  # the claimed file while claimed
    name: str  # its name in the spool
    spans: int
    size: int


def encode_file(payload: Payload) -> bytes:
    options = json.dumps(payload.options, sort_keys=True).encode()
    body: bytes = payload.request.SerializeToString()
    crc = zlib.crc32(options + body)
    return _HEADER.pack(MAGIC, VERSION, payload.spans, len(options), crc) + options + body


def decode_file(data: bytes) -> Payload:
    """The batch in a spool file; ValueError when it is not a complete, intact one."""
    if len(data) < _HEADER.size:
        raise ValueError("shorter than the header")
    magic, version, _spans, options_length, crc = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise ValueError("not a spool file of this version")
    rest = data[_HEADER.size :]
    if len(rest) < options_length or zlib.crc32(rest) != crc:
        raise ValueError("checksum mismatch (truncated or damaged)")
    options = json.loads(rest[:options_length] or b"{}")
    request = ExportTraceServiceRequest.FromString(rest[options_length:])
    if not isinstance(options, dict):
        raise ValueError("bad options")
    # the spans counted in the checked content (the header's count is outside the checksum)
    return Payload(request, {str(k): str(v) for k, v in options.items()})


def _header_spans(path: Path, size: int) -> int | None:
    """The span count in a file's header, when the header is one of ours and the count fits
    in the file (a span takes more than 16 bytes); 0 otherwise. Never the count in the name:
    a name is not checked, and a file named ``...-99999999999.span`` holds no such number.
    None when the file cannot be read now (claimed by another process meanwhile)."""
    try:
        with open(path, "rb") as file:
            head = file.read(_HEADER.size)
    except OSError:
        return None
    try:
        magic, version, spans, _, _ = _HEADER.unpack(head)
    except struct.error:
        return 0
    if magic != MAGIC or version != VERSION:
        return 0
    return spans if spans <= size // 16 else 0


def _start_time(pid: int) -> str | None:
    """When the process started (clock ticks since boot, from /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        return fields[19].decode()  # field 22 of stat(5), counted after "(comm)"
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def _process_tag() -> str:
    """``<pid>-s<start>`` (or ``<pid>`` without /proc): this process, as files name it."""
    start = _start_time(os.getpid())
    return f"{os.getpid()}-s{start}" if start else str(os.getpid())


def _alive(pid: int, start: str | None) -> bool:
    """The process that wrote ``<pid>[-s<start>]`` still runs (the same one, not a new
    process given the same pid)."""
    if pid == os.getpid():
        return start is not None and start == _start_time(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if start is None:
        return True
    now = _start_time(pid)
    return now is None or now == start


class Spool:
    """Thread-safe within a process; processes sharing the directory coordinate by renames."""

    def __init__(self, directory: Path, max_bytes: int, stats: SpoolCounts) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._stats = stats
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._tag = _process_tag()
        self._counts: dict[str, int] = {}  # file name -> spans in it (files never change)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = self.directory / f".tmp-{os.getpid()}-probe"
        probe.write_bytes(b"")  # raises now, not at the first batch, when it is not writable
        probe.unlink()
        self.recover()

    # -- maintenance ---------------------------------------------------------------------
    def recover(self) -> None:
        """Remove temporary files and put back claims left by processes that died."""
        for entry in self._scan_all():
            name = entry.name
            tmp = _TMP.match(name)
            claimed = _CLAIMED.match(name)
            try:
                if tmp and not _alive(int(tmp.group(1)), tmp.group(2)):
                    os.unlink(entry.path)
                elif claimed and not _alive(int(claimed.group(2)), claimed.group(3)):
                    os.replace(entry.path, self.directory / claimed.group(1))
            except OSError:
                pass
        self.refresh()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._tag = _process_tag()

    def _scan_all(self) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(self.directory) as entries:
                return list(entries)
        except OSError:
            return []

    def _files(self) -> list[tuple[str, int]]:
        """(name, size) of the batches waiting, oldest first."""
        files = []
        for entry in self._scan_all():
            if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                try:
                    files.append((entry.name, entry.stat().st_size))
                except OSError:
                    continue  # claimed or evicted meanwhile
        files.sort()
        return files

    def _spans_of(self, name: str, size: int) -> int:
        spans = self._counts.get(name)
        if spans is None:
            spans = _header_spans(self.directory / name, size)
            if spans is None:
                return 0
            self._counts[name] = spans
        return spans

    def refresh(self) -> list[tuple[str, int]]:
        files = self._files()
        present = {name for name, _ in files}
        for gone in [name for name in self._counts if name not in present]:
            self._counts.pop(gone, None)
        self._stats.set_spool_level(
            len(files), sum(self._spans_of(n, s) for n, s in files), sum(s for _, s in files)
        )
        return files

    def is_empty(self) -> bool:
        return not self._files()

    # -- writing -------------------------------------------------------------------------
    def put(self, payload: Payload, *, count: bool = True) -> bool:
        """Write one batch (atomically), evicting the oldest when over the bound. False (and
        the spans counted as dropped) when it could not be written."""
        data = encode_file(payload)
        if len(data) > self.max_bytes:
            # never spooled: a drop of this process's own spans (spool_full counts evictions of
            # spans spooled before, maybe by another process: outside this process's identity)
            self._stats.add_dropped(payload.spans, SPOOL_ERROR)
            return False
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}-{payload.spans}{SUFFIX}"
        tmp = self.directory / f".tmp-{self._tag}-{name}"
        try:
            with self._lock:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self._counts[name] = payload.spans
                os.replace(tmp, self.directory / name)
                _fsync_directory(self.directory)
                if count:
                    self._stats.add_spooled(payload.spans)
                self._evict()
        except OSError as error:
            _logger.warning("otel-bridge: cannot write to the spool %s: %s", self.directory, error)
            self._stats.add_dropped(payload.spans, SPOOL_ERROR)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False
        return True

    def _evict(self) -> None:
        files = self._files()
        total = sum(size for _, size in files)
        for name, size in files:
            if total <= self.max_bytes:
                break
            spans = self._spans_of(name, size)
            try:
                os.unlink(self.directory / name)
            except FileNotFoundError:
                continue  # another process claimed it
            total -= size
            self._stats.add_dropped(spans, SPOOL_FULL)
        self.refresh()

    # -- reading -------------------------------------------------------------------------
    def claim_oldest(self) -> SpoolEntry | None:
        for name, size in self._files():
            claimed = self.directory / f"{name}.claimed-{self._tag}"
            spans = self._spans_of(name, size)
            try:
                os.rename(self.directory / name, claimed)
            except FileNotFoundError:
                continue  # taken by another process a moment ago
            except OSError:
                return None
            return SpoolEntry(claimed, name, spans, size)
        return None

    def read(self, entry: SpoolEntry) -> Payload | None:
        """The claimed batch; None when it is corrupt (then it is set aside and counted)."""
        try:
            return decode_file(entry.path.read_bytes())
        except (OSError, ValueError, Exception) as error:  # protobuf raises its own DecodeError
            self._set_aside(entry, error)
            return None

    def _set_aside(self, entry: SpoolEntry, error: Exception) -> None:
        _logger.warning(
            "otel-bridge: spool file %s is unreadable (%s); set aside as .corrupt",
            entry.name,
            error,
        )
        self._stats.add_corrupt_file()
        self._stats.add_dropped(entry.spans, SPOOL_CORRUPT)
        try:
            os.replace(entry.path, self.directory / f"{entry.name}.corrupt")
        except OSError:
            return
        corrupt = sorted(e.name for e in self._scan_all() if e.name.endswith(".corrupt"))
        for old in corrupt[:-CORRUPT_KEPT]:
            with contextlib.suppress(OSError):
                os.unlink(self.directory / old)
        self.refresh()

    def done(self, entry: SpoolEntry) -> None:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
        self.refresh()

    def release(self, entry: SpoolEntry) -> None:
        """Put a claimed batch back, under its old name (so it stays the oldest)."""
        with contextlib.suppress(OSError):
            os.replace(entry.path, self.directory / entry.name)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
