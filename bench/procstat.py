"""Readings from /proc: CPU time and RSS of a process tree, and per-CPU steal from /proc/stat (Linux only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants (a server may fork workers; all of its CPU counts)."""
    tree: list[int] = []
    todo = [pid]
    while todo and len(tree) < 1024:
        current = todo.pop()
        tree.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return tree


def cpu_seconds(pid: int) -> float:
    """utime + stime of the tree, in seconds (10 ms resolution at the usual 100 Hz tick)."""
    ticks = 0
    for member in process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        # Fields after the `(comm)`, which may itself contain spaces: utime and stime are fields 14 and 15.
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    kib = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                kib += int(line.split()[1])
    return kib / 1024


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Jiffies per /proc/stat line (`cpu`, `cpu0`, `cpu1`, ...): total, busy (user+nice+system) and steal."""

    total: dict[str, int]
    busy: dict[str, int]
    steal: dict[str, int]


def cpu_times() -> CpuTimes:
    total, busy, steal = {}, {}, {}
    for line in Path("/proc/stat").read_text().splitlines():
        if not line.startswith("cpu"):
            break
        name, *values = line.split()
        numbers = [int(v) for v in values] + [0] * 8
        # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already in user.
        total[name] = sum(numbers[:8])
        busy[name] = sum(numbers[:3])
        steal[name] = numbers[7]
    return CpuTimes(total, busy, steal)


def busy_seconds(before: CpuTimes, after: CpuTimes, cpus: set[int]) -> float:
    """User + system time spent on `cpus` between the two readings, by any process."""
    lines = [f"cpu{n}" for n in cpus]
    return sum(after.busy.get(x, 0) - before.busy.get(x, 0) for x in lines) / CLOCK_TICKS


def steal_percent(before: CpuTimes, after: CpuTimes, line: str = "cpu") -> float:
    elapsed = after.total.get(line, 0) - before.total.get(line, 0)
    if elapsed <= 0:
        return 0.0
    return 100.0 * (after.steal.get(line, 0) - before.steal.get(line, 0)) / elapsed
