"""Shared timing helpers for the benchmarks: wall and CPU seconds of the same call, and the machine's load.

CPU seconds (`time.process_time`: user + system of this process, all threads, plus those of child processes it
waited for, e.g. the forked stages of `run_pipeline(n_jobs=2)`) are the robust number on a shared machine: other
processes inflate wall time, much less the CPU time of a single-threaded call. Ratios are reported for
both; a ratio is baseline / bon_lit (> 1: bon_lit is faster)."""
from __future__ import annotations
import os, statistics, time


def cpu_seconds() -> float:
    "User + system seconds of this process and of its waited-for children (POSIX), else of this process."
    try:
        import resource
    except ImportError:
        return time.process_time()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(f, repeats: int = 3):
    "Run `f` `repeats` times: (median wall s, median CPU s, all walls, all CPUs, last result)."
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), cpu_seconds()
        out = f()
        cpus.append(cpu_seconds() - c); walls.append(time.perf_counter() - w)
    return statistics.median(walls), statistics.median(cpus), walls, cpus, out


def load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def row(label: str, wall: float, cpu: float, ref=None) -> str:
    "One table line; with `ref` = (wall, cpu) of the baseline, the ratios baseline / this."
    s = f"{label:<52}{wall:>9.3f}{cpu:>9.3f}"
    if ref is not None: s += f"{ref[0] / wall:>9.2f}x{ref[1] / cpu:>8.2f}x"
    return s


HEADER = f"{'':<52}{'wall s':>9}{'CPU s':>9}{'wall':>10}{'CPU':>9}"
