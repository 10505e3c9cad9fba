"""Benchmark records: one JSON line per (agent, scenario, seed), appended atomically as they come.

A line is written with a single ``write`` on an ``O_APPEND`` descriptor, so concurrent worker
processes never interleave lines; a run killed mid-write leaves at most a trailing partial line,
which :func:`load` drops. A rerun skips every key already recorded (:func:`done_keys`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECORDS_FILE = "records.jsonl"
SPEC_FILE = "spec.json"


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
    metrics: dict[str, float] = field(default_factory=dict)  # Agent.metrics() after the episode
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.agent, self.scenario, self.seed, self.config_hash)


def append(path: str | Path, record: Record) -> None:
    """Append one record as one line, atomically with respect to other appending processes."""
    line = (json.dumps(asdict(record), sort_keys=True) + "\n").encode()
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


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write JSON through a temporary file and a rename: readers never see a half-written file."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, p)
