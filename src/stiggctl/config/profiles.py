"""The profiles file: one TOML file, a table per profile, written atomically with mode 0600.

```toml
[profiles.default]
auth0_domain = "acme.eu.auth0.com"
mode = "b2b"
```

Secrets never live here (they are in the OS keyring or the environment). A file that does
not parse is reported with its path and line and is never overwritten.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from stiggctl.errors import ErrorCode, StiggctlError

CONFIG_DIR_ENV = "STIGGCTL_CONFIG_DIR"
FILE_NAME = "config.toml"


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("stiggctl", appauthor=False))


def config_path() -> Path:
    return config_dir() / FILE_NAME


def _corrupted(path: Path, exc: tomllib.TOMLDecodeError) -> StiggctlError:
    # tomllib says "... (at line 3, column 7)": lift the position out so the message leads
    # with the file and line, as an editor would.
    text = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", text)
    where = f"{path}:{match.group(1)}:{match.group(2)}" if match else str(path)
    reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", text) or "invalid TOML"
    return StiggctlError(
        ErrorCode.CONFIG_ERROR,
        f"The config file is not valid TOML: {where}: {reason}.",
        f"Fix or remove {path}; stiggctl will not overwrite it.",
        details={"path": str(path), "line": int(match.group(1)) if match else None},
    )


def read_all(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every profile in the file ({} when there is no file)."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StiggctlError(
            ErrorCode.CONFIG_ERROR,
            f"Cannot read the config file {path}: {exc.strerror}.",
            "Check the file's permissions.",
        ) from None
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise StiggctlError(
            ErrorCode.CONFIG_ERROR,
            f"The config file {path} is not UTF-8 text.",
            f"Fix or remove {path}; stiggctl will not overwrite it.",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise _corrupted(path, exc) from None
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise StiggctlError(
            ErrorCode.CONFIG_ERROR,
            f"The config file {path} has no valid [profiles.NAME] tables.",
            f"Fix or remove {path}; stiggctl will not overwrite it.",
        )
    return profiles


def read_profile(name: str, path: Path | None = None) -> dict[str, Any]:
    return dict(read_all(path).get(name, {}))


def write_profile(name: str, values: dict[str, Any], path: Path | None = None) -> Path:
    """Replace one profile's table, keeping every other profile; atomic, mode 0600.

    Reading first means a corrupted file raises here instead of being replaced.
    """
    import tomli_w

    path = path or config_path()
    profiles = read_all(path)
    profiles[name] = {k: v for k, v in values.items() if v is not None}
    _atomic_write(path, tomli_w.dumps({"profiles": profiles}).encode())
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Whatever happened (disk full, Ctrl-C), the old file stays as it was.
        Path(tmp).unlink(missing_ok=True)
        raise
