"""Start-up cost of `stiggctl --version` and `stiggctl --help`, as ratios to
`python -c "import typer"` measured side by side in the same run.

Targets: --version within 1.5x, --help within 3x.

    python bench/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def stiggctl_command() -> list[str]:
    script = Path(sys.executable).with_name("stiggctl")
    if script.exists():
        return [str(script)]
    found = shutil.which("stiggctl")
    return [found] if found else [sys.executable, "-m", "stiggctl"]


def measure(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    # As on a user's machine, Python caches compiled modules (pip precompiles what it
    # installs; an editable install caches on first run). Some environments switch that
    # off, which would time the compiler instead of stiggctl.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        # Interleaved, so a noisy moment hurts every command alike.
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)
            samples[name].append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    cli = stiggctl_command()
    commands = {
        "import typer": [sys.executable, "-c", "import typer"],
        "stiggctl --version": [*cli, "--version"],
        "stiggctl --help": [*cli, "--help"],
    }
    measure(commands, 2)  # warm the file cache
    samples = measure(commands, args.runs)
    base = statistics.median(samples["import typer"])
    targets = {"stiggctl --version": 1.5, "stiggctl --help": 3.0}
    print(f"{'command':<22}{'median ms':>10}{'ratio':>8}{'target':>8}")
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / base
        target = targets.get(name)
        verdict = "" if target is None else ("ok" if ratio <= target else "MISSED")
        target_text = f"{target:.1f}x" if target else ""
        print(f"{name:<22}{median * 1000:>10.1f}{ratio:>7.2f}x{target_text:>8}  {verdict}")


if __name__ == "__main__":
    main()
