"""What both vendor clients share: their HTTP client, reading JSON, validating answers."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from stiggctl.errors import ErrorCode, StiggctlError

ModelT = TypeVar("ModelT", bound=BaseModel)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~20 ms): once per process, not per client.
    # httpx's own default, so SSL_CERT_FILE / SSL_CERT_DIR are honoured as before.
    return httpx.create_ssl_context()


def http_client(
    *, transport: httpx.BaseTransport | None, timeout: float, headers: Mapping[str, str]
) -> httpx.Client:
    return httpx.Client(
        transport=transport, timeout=timeout, headers=dict(headers), verify=_tls_context()
    )


def json_or_none(response: httpx.Response) -> Any:
    """The body as JSON, or None when it is not JSON (an HTML error page, say)."""
    try:
        return response.json()
    except ValueError:
        return None


def parse_model(model: type[ModelT], payload: Any, *, service: str, hint: str) -> ModelT:
    """Validate an answer; an unexpected shape is the vendor's failure, not an internal one."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise StiggctlError(
            ErrorCode.API_ERROR,
            f"{service} answered an unexpected {model.__name__} ({where}: {first['msg']}).",
            hint,
        ) from None
