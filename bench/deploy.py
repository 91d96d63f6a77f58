"""Requests, writes and wall time of `stiggctl deploy-action` against an in-process sandbox:
a first deploy (create, build, deploy, bind) and a no-op rerun, in CI mode (environment only).

Targets: the no-op run makes 0 writes and at most 4 requests, the token request counted.

    python bench/deploy.py [--runs 5] [--build-seconds 0.6]

Each run starts a fresh sandbox (the demo seed: one unrelated action already bound), so the
first deploy really creates the action. Requests are the vendor requests the sandbox answered
(`GET /_sandbox/requests`); writes are those that are not GETs, the token request aside.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from dataclasses import dataclass

import httpx

from ci_environment import ci_environment
from stiggctl.__main__ import main as stiggctl_main
from stiggctl.commands.sandbox import sandbox_env
from stiggctl.sandbox.auth0.seed import BUSINESS_APP_ID
from stiggctl.sandbox.server import SandboxOptions, SandboxServer

NO_OP_MAX_REQUESTS = 4
TOKEN_PATH = "/oauth/token"


@dataclass
class Sample:
    requests: int
    writes: int
    seconds: float
    exit_code: int


def deploy_once(server: SandboxServer) -> Sample:
    httpx.delete(f"{server.base_url}/_sandbox/requests").raise_for_status()
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = stiggctl_main(["deploy-action", "--json"])
    seconds = time.perf_counter() - start
    seen = httpx.get(f"{server.base_url}/_sandbox/requests").json()["requests"]
    writes = [r for r in seen if r["method"] != "GET" and r["path"] != TOKEN_PATH]
    return Sample(len(seen), len(writes), seconds, code)


def run(build_seconds: float) -> tuple[Sample, Sample]:
    server = SandboxServer(SandboxOptions(build_seconds=build_seconds)).start()
    try:
        os.environ.update(sandbox_env(server.info()))
        os.environ.update(
            {
                "STIGGCTL_MODE": "b2b",
                "STIGGCTL_B2B_PLAN": "plan-free",
                "STIGGCTL_APPLICATION_ID": BUSINESS_APP_ID,
            }
        )
        return deploy_once(server), deploy_once(server)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--build-seconds", type=float, default=0.6, help="the sandbox's build time (serve's)"
    )
    args = parser.parse_args()
    with ci_environment():
        samples = [run(args.build_seconds) for _ in range(args.runs)]
    failed = [s for pair in samples for s in pair if s.exit_code != 0]
    if failed:
        sys.exit(f"deploy-action failed: exit {failed[0].exit_code}")

    print(
        f"deploy-action against an in-process sandbox, build {args.build_seconds:g} s, "
        f"{args.runs} runs"
    )
    print()
    print("| run | requests | writes | wall time (median) | target |")
    print("|---|---|---|---|---|")
    for index, label in enumerate(("first deploy", "no-op rerun")):
        group = [pair[index] for pair in samples]
        requests = sorted({s.requests for s in group})
        writes = sorted({s.writes for s in group})
        median_ms = statistics.median(s.seconds for s in group) * 1000
        if index == 1:
            met = max(requests) <= NO_OP_MAX_REQUESTS and writes == [0]
            target = f"0 writes, <= {NO_OP_MAX_REQUESTS} requests: {'met' if met else 'MISSED'}"
        else:
            target = ""
        print(
            f"| {label} | {'/'.join(map(str, requests))} | {'/'.join(map(str, writes))} "
            f"| {median_ms:.0f} ms | {target} |"
        )


if __name__ == "__main__":
    main()
