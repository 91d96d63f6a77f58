"""Access to the vendors' contracts in ../shared/contracts (reference data, never copied here).

Tests that need a contract call these helpers; where the contract is absent they are skipped
with the reason. CI always has the files.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STIGGCTL_SHARED_DIR", REPO.parent / "shared"))
OPENAPI_PATH = Path(
    os.environ.get(
        "STIGGCTL_AUTH0_OPENAPI", SHARED / "contracts" / "auth0-management-api.subset.openapi.json"
    )
)
SCHEMA_TOOL = SHARED / "tools" / "stigg_schema_sdl.py"


@functools.cache
def _openapi() -> dict[str, Any] | None:
    if not OPENAPI_PATH.is_file():
        return None
    return json.loads(OPENAPI_PATH.read_text())


def auth0_openapi() -> dict[str, Any]:
    """Auth0's Management API OpenAPI subset; skips the test when the file is absent."""
    spec = _openapi()
    if spec is None:
        pytest.skip(f"Auth0 OpenAPI contract not found at {OPENAPI_PATH}")
    return spec


@functools.cache
def _stigg_sdl() -> str | None:
    try:
        import sgqlc.types as T
        from stigg.generated import schema as generated
    except ImportError:
        return None
    # Same construction as ../shared/tools/stigg_schema_sdl.py, kept importable so that
    # tests do not spawn a process per schema build.
    builtin = {"Int", "Float", "String", "Boolean", "ID"}
    parts = ["schema { query: Query mutation: Mutation }"]
    for t in generated.schema:
        name = t.__name__
        if name in builtin:
            continue
        text = t.__to_graphql__()
        if issubclass(t, T.Scalar) and not text.startswith("scalar"):
            text = f"scalar {name}"
        parts.append(text)
    return "\n\n".join(parts) + "\n"


@functools.cache
def _stigg_schema():
    sdl = _stigg_sdl()
    if sdl is None:
        return None
    from graphql import build_schema

    return build_schema(sdl)


def stigg_schema():
    """Stigg's real GraphQL schema, built from the published stigg-api-client package."""
    schema = _stigg_schema()
    if schema is None:
        pytest.skip("stigg-api-client / sgqlc not installed: install the [test] extra")
    return schema


def graphql_errors(document: str) -> list[str]:
    """Validation errors of one GraphQL document against Stigg's real schema."""
    from graphql import parse, validate

    return [e.message for e in validate(stigg_schema(), parse(document))]
