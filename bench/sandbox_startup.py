"""Time from `stiggctl sandbox serve` to a sandbox answering requests, beside
`python -c "import typer"` in the same run. Target: well under a second.

    python bench/sandbox_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import httpx


def ready_seconds(seed: str) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stiggctl",
            "--json",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--seed",
            seed,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        import json

        info = json.loads(proc.stdout.readline())["data"]
        # Ready means answering: one real Management API token request.
        httpx.post(
            f"{info['base_url']}/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": info["auth0"]["client_id"],
                "client_secret": info["auth0"]["client_secret"],
                "audience": f"{info['base_url']}/api/v2/",
            },
        ).raise_for_status()
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait()


def typer_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import typer"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {
        "import typer": [],
        "serve --seed demo": [],
        "serve --seed empty": [],
    }
    for _ in range(args.runs):
        samples["import typer"].append(typer_seconds())
        samples["serve --seed demo"].append(ready_seconds("demo"))
        samples["serve --seed empty"].append(ready_seconds("empty"))
    base = statistics.median(samples["import typer"])
    print(f"{'command':<22}{'median ms':>10}{'ratio':>8}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<22}{median * 1000:>10.1f}{median / base:>7.2f}x")


if __name__ == "__main__":
    main()
