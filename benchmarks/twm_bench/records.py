"""Benchmark records: one JSON line per (agent, scenario, seed), appended atomically as they come.

A line is written with a single ``write`` on an ``O_APPEND`` descriptor, so concurrent worker
processes never interleave lines; a run killed mid-write leaves at most a trailing partial line,
which :func:`load` drops. A rerun skips every key already recorded (:func:`done_keys`). Lines are
strict JSON (a NaN or infinite number is written as ``null``). One run at a time writes a results
folder (:func:`results_lock`); should a key still appear twice, :func:`dedupe` keeps its first record.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECORDS_FILE = "records.jsonl"
SPEC_FILE = "spec.json"
LOCK_FILE = ".twm-bench.lock"


class RecordError(ValueError):
    """A results file that cannot be read as records."""


@dataclass
class Record:
    """The outcome of one evaluation episode."""

    agent: str
    scenario: str
    seed: int
    config_hash: str
    kpis: dict[str, Any] = field(default_factory=dict)  # core/kpi.py:KPIs.row of the episode
    utility: float | None = None
    sim_calls: int = 0  # twin calls during the episode
    prep_calls: int = 0  # twin calls of the agent's once-per-scenario preparation
    decision_s: float = 0.0  # wall time inside the agent during the episode, s
    prep_s: float = 0.0  # wall time of the preparation, s
    reference: bool = False  # the hindsight oracle: scored for regret, never ranked
    eval_key: str = "public"  # id of the evaluation key (twm_bench.keys): "public" or a sealed run's
    metrics: dict[str, float] = field(default_factory=dict)  # Agent.metrics() after the episode
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.agent, self.scenario, self.seed, self.config_hash)


def strict(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in nested dicts and lists) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


def append(path: str | Path, record: Record) -> None:
    """Append one record as one strict-JSON line, atomically with respect to other appending processes."""
    line = (json.dumps(strict(asdict(record)), sort_keys=True, allow_nan=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: str | Path) -> list[Record]:
    """Every complete record of a results file (a trailing partial line from a kill is dropped).

    Raises:
        RecordError: a complete line that is not a record, naming the file and line number.
    """
    p = Path(path)
    if not p.exists():
        return []
    text = p.read_text()
    lines = text.split("\n")
    complete = lines[:-1]  # the last element is "" after a final newline, or a partial line
    records = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            records.append(Record(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise RecordError(f"{p}:{number}: malformed record ({exc}); delete the line or the file") from exc
    return records


def drop_partial_tail(path: str | Path) -> bool:
    """Cut a trailing partial line (a run killed mid-write) so appends start on a fresh line.

    Returns whether anything was cut.
    """
    p = Path(path)
    if not p.exists():
        return False
    data = p.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    with p.open("r+b") as f:
        f.truncate(data.rfind(b"\n") + 1)
    return True


def done_keys(path: str | Path) -> set[tuple[str, str, int, str]]:
    return {r.key for r in load(path)}


def dedupe(records: list[Record]) -> tuple[list[Record], int]:
    """The first record of every key, in order, and how many later duplicates were dropped."""
    seen: set[tuple[str, str, int, str]] = set()
    unique = []
    for r in records:
        if r.key not in seen:
            seen.add(r.key)
            unique.append(r)
    return unique, len(records) - len(unique)


@contextlib.contextmanager
def results_lock(directory: str | Path) -> Iterator[None]:
    """Hold the results folder's exclusive lock for the block (one writing run per folder).

    The lock is an ``flock`` on ``LOCK_FILE``: the kernel releases it when the holder exits, however
    it exits, so a killed run never leaves a stale lock. The file names the holder (host, pid, start
    time, command) for the message a second run gets.

    Raises:
        RecordError: another run holds the lock, naming it.
    """
    import fcntl

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            raise RecordError(
                f"{d} is being written by another twm-bench run ({holder}); wait for it to finish or use another --out"
            ) from None
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        who = f"pid {os.getpid()} on {socket.gethostname()} since {stamp}: {' '.join(sys.argv[:8])}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, who.encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write JSON through a temporary file and a rename: readers never see a half-written file."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, p)
