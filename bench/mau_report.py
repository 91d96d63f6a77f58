"""Wall time and peak memory of `stiggctl mau report` over many customers, against a
sandbox in a forked child process: CSV with concurrency 1 and 4, and JSON (which holds
every row) with 4.

    python bench/mau_report.py [--customers 2000] [--latency-ms 10]

Every Stigg request gets `--latency-ms` added by the sandbox's fault injection, as a network
would. Wall time is measured in one run, peak memory in another under tracemalloc (which
slows Python down): the peak is the growth of traced memory during the report above what
was allocated before it. The sandbox runs in a child process because it evaluates a page
of customers by building a record of every customer (to filter and sort): in the same
process that transient work, which grows with the customer count, would be most of the peak.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import sys
import time
import tracemalloc
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ci_environment import ci_environment
from stiggctl.__main__ import main as stiggctl_main
from stiggctl.commands.sandbox import sandbox_env
from stiggctl.sandbox.faults import FaultPlan, FaultRule
from stiggctl.sandbox.server import SandboxOptions, SandboxServer

PLANS = ("plan-free", "plan-pro", "plan-enterprise")
CONFIGURATIONS = (("csv", 1), ("csv", 4), ("json", 4))


@dataclass
class Measure:
    fmt: str
    concurrency: int
    seconds: float
    peak_bytes: int
    lines: int


class CountingSink(io.TextIOBase):
    """stdout that keeps nothing: the report's own memory is what gets measured."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


def seed(server: SandboxServer, customers: int) -> None:
    stigg = server.sandbox.stigg
    for n in range(customers):
        customer_id = f"org_bench{n:06d}"
        stigg.add_customer(customer_id, name=f"Bench {n}", plan_ref_id=PLANS[n % len(PLANS)])
        stigg.record_logins(customer_id, [f"auth0|bench-{n}-{k}" for k in range(n % 4)])


def report(fmt: str, concurrency: int, *, traced: bool) -> tuple[float, int, int]:
    sink = CountingSink()
    args = ["mau", "report", "--format", fmt, "--concurrency", str(concurrency)]
    if traced:
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
        code = stiggctl_main(args)
    seconds = time.perf_counter() - start
    peak = 0
    if traced:
        _, peak = tracemalloc.get_traced_memory()
        peak -= before
        tracemalloc.stop()
    if code != 0:
        sys.exit(f"mau report {' '.join(args)} failed: exit {code}")
    return seconds, peak, sink.lines


def serve(customers: int, latency_ms: int, conn: Connection) -> None:
    """The child process: a seeded sandbox, its info sent up, served until told to stop."""
    faults = FaultPlan(rules=[FaultRule(route="/graphql", latency_ms=latency_ms)])
    server = SandboxServer(SandboxOptions(faults=faults)).start()
    try:
        seed(server, customers)
        conn.send(server.info())
        conn.recv()
    finally:
        server.stop()


def measure_all(info: dict[str, Any]) -> list[Measure]:
    measures = []
    with ci_environment():
        os.environ.update(sandbox_env(info))
        for fmt, concurrency in CONFIGURATIONS:
            seconds, _, lines = report(fmt, concurrency, traced=False)
            _, peak, _ = report(fmt, concurrency, traced=True)
            measures.append(Measure(fmt, concurrency, seconds, peak, lines))
    return measures


def check_complete(measures: list[Measure], customers: int) -> None:
    for m in measures:
        if m.fmt == "csv" and m.lines != customers + 1:
            sys.exit(f"csv, concurrency {m.concurrency}: {m.lines} lines, not {customers + 1}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=10)
    args = parser.parse_args()
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve, args=(args.customers, args.latency_ms, theirs))
    child.start()
    try:
        measures = measure_all(ours.recv())
    finally:
        ours.send("stop")
        child.join(timeout=30)
    check_complete(measures, args.customers)

    print(
        f"mau report over {args.customers} customers, sandbox in a child process, "
        f"{args.latency_ms} ms added to each Stigg request"
    )
    print()
    print("| format | concurrency | wall time | customers/s | peak memory (tracemalloc) |")
    print("|---|---:|---:|---:|---:|")
    for m in measures:
        print(
            f"| {m.fmt} | {m.concurrency} | {m.seconds:.1f} s | {args.customers / m.seconds:.0f} "
            f"| {m.peak_bytes / 1_048_576:.2f} MiB |"
        )


if __name__ == "__main__":
    main()
