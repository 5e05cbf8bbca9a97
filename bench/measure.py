"""Timing and peak memory of whole processes, measured from outside with /usr/bin/time."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from orchestration.settings import PROJECT_ROOT

TIME = "/usr/bin/time"
WAREHOUSE = str(Path(sys.executable).parent / "warehouse")


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_rss_mb: float
    started_at: float  # epoch seconds, to line the process up with the Dagster run inside it
    stdout: str


def run(command: list[str], env: dict[str, str] | None = None, cwd: Path = PROJECT_ROOT) -> Measured:
    """Run ``command`` under GNU time; fail loudly, with its output, if it fails."""
    if not os.access(TIME, os.X_OK):
        raise SystemExit(f"{TIME} is needed to measure peak memory (Debian package 'time')")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.time()
        done = subprocess.run(
            [TIME, "-f", "%e %M", "-o", report.name, *command],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        wall, rss_kb = report.read().split()[-2:]
    return Measured(float(wall), int(rss_kb) / 1024, started, done.stdout)


def python(code: str, *args: str, env: dict[str, str] | None = None) -> Measured:
    return run([sys.executable, "-c", code, *args], env)


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def cell(self, digits: int = 1) -> str:
        if self.n == 1:
            return f"{self.median:.{digits}f} (1 run)"
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
