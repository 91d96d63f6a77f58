"""stiggctl run in-process by a benchmark as CI runs it: from the environment alone."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def ci_environment() -> Iterator[None]:
    """Drop the caller's STIGGCTL_* variables and point stiggctl at an empty config folder
    (removed when the block ends), the null keyring, CI (no prompts) and no colour: what is
    measured never depends on the machine's profiles or keyring."""
    with tempfile.TemporaryDirectory() as config_dir:
        for name in [n for n in os.environ if n.startswith("STIGGCTL_")]:
            del os.environ[name]
        os.environ.update(
            {
                "CI": "true",
                "NO_COLOR": "1",
                "STIGGCTL_CONFIG_DIR": config_dir,
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            }
        )
        yield
