"""Trial log: the single source of truth for finished trials, so a killed search can resume.

The format is JSON lines. The first line is a header describing the search (its space and the
settings that change what a trial means); every further line is one finished trial, written with
a single ``write`` followed by ``fsync`` so that a SIGKILL can at worst leave one torn last line,
which is ignored (and cut off) when the file is opened again.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

__all__ = ["JSONLStorage", "InMemoryStorage", "make_storage"]

FORMAT_VERSION = 1


class InMemoryStorage:
    """Keeps trials in memory only (``storage=None``)."""

    path = None

    def open(self, header: dict[str, Any]) -> list[dict]:
        self.header = header
        return []

    def append(self, record: dict) -> None:
        pass

    def close(self) -> None:
        pass


class JSONLStorage:
    """Append-only JSON-lines trial log with fsync after every trial.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is created (with its header, and any missing parent folders) on the first
        search; a later search with the same header resumes from it; one with a different header
        is refused.
    """

    def __init__(self, path) -> None:
        self.path = os.fspath(path)
        self._fd = None

    def read(self) -> tuple[dict | None, list[dict]]:
        """Read the header and trial records, tolerating a torn (unterminated) last line."""
        if not os.path.exists(self.path):
            return None, []
        with open(self.path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        header, records = None, []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                if i == len(lines) - 1:
                    continue  # torn last line from a killed writer
                warnings.warn(f"{self.path}: skipping unreadable line {i + 1}", stacklevel=2)
                continue
            if obj.get("type") == "header":
                header = obj
            elif obj.get("type") == "trial":
                records.append(obj)
        return header, records

    def open(self, header: dict[str, Any]) -> list[dict]:
        """Check the file matches ``header`` (or create it) and return the finished trials."""
        old_header, records = self.read()
        if old_header is not None:
            mismatched = sorted(
                k
                for k in set(header) | set(old_header)
                if k != "type" and old_header.get(k) != header.get(k)
            )
            if mismatched:
                details = "; ".join(
                    f"{k}: stored {old_header.get(k)!r} != now {header.get(k)!r}"
                    for k in mismatched
                )
                raise ValueError(
                    f"The storage file {self.path!r} belongs to a different search ({details}). "
                    "Use a new storage path, or the same search space and settings to resume."
                )
        elif os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            raise ValueError(f"{self.path!r} exists but is not a trial log of ensemblekit.tuning")
        parent = os.path.dirname(self.path)
        if parent:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise ValueError(
                    f"storage={self.path!r}: cannot create its folder {parent!r} ({exc}); "
                    "pass a path in a folder that can be created"
                ) from None
        self._truncate_torn_tail()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if old_header is None:
            self._write({**header, "type": "header"})
        return records

    def _truncate_torn_tail(self) -> None:
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            end = data.rfind(b"\n") + 1
            if end != len(data):
                f.truncate(end)

    def _write(self, obj: dict) -> None:
        line = (json.dumps(obj, allow_nan=True, default=_json_default) + "\n").encode()
        # One write call per record: a kill leaves either the whole line or a torn tail.
        os.write(self._fd, line)
        os.fsync(self._fd)

    def append(self, record: dict) -> None:
        self._write({**record, "type": "trial"})

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return repr(o)


def make_storage(storage):
    """``None`` -> in memory; a path -> JSON lines; an object with open/append/close -> itself."""
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, (str, os.PathLike)):
        return JSONLStorage(storage)
    if all(hasattr(storage, m) for m in ("open", "append", "close")):
        return storage
    raise ValueError(f"storage must be None, a file path or a storage object, got {storage!r}")
