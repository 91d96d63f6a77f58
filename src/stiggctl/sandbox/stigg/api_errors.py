"""How the emulated Stigg API reports failures: the HTTP statuses and GraphQL error bodies.

Stigg serves GraphQL with Apollo Server (NestJS). What is known, and what was chosen:
- Business errors (duplicate customer, unknown plan, ...) answer HTTP 200 with an `errors`
  entry whose `extensions.code` is a value of the schema's `ErrorCode` enum. The duplicate
  customer error is recorded from real traffic as message "Duplicated entity not allowed",
  extensions `{isValidationError: true, identifier, entityName: "Customer",
  code: "DuplicatedEntityNotAllowed", traceId}`. Other messages are modelled on it.
- A missing, unknown or expired API key: Stigg's docs say HTTP 401 with the code
  `UNAUTHENTICATED`; the body's exact text is not documented for GraphQL (the REST API
  documents "Invalid or missing API key", used here too).
- Documents that do not parse or validate: HTTP 400 with Apollo's codes
  `GRAPHQL_PARSE_FAILED` / `GRAPHQL_VALIDATION_FAILED`, no `data` key (Apollo Server's
  behaviour; Stigg's exact status is unverified). Variables that do not fit their types:
  HTTP 400 `BAD_USER_INPUT`.
"""

from __future__ import annotations

import uuid
from typing import Any

from graphql import GraphQLError

from stiggctl.sandbox.http import Response, json_response

UNAUTHENTICATED_STATUS = 401
UNAUTHENTICATED_MESSAGE = "Invalid or missing API key"


class StiggApiError(Exception):
    """A business error raised by a resolver; reported in the `errors` array (HTTP 200)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        validation: bool = True,
        **extensions: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extensions = {"isValidationError": validation, **extensions, "code": code}


def duplicate(entity_name: str, identifier: str) -> StiggApiError:
    return StiggApiError(
        "DuplicatedEntityNotAllowed",
        "Duplicated entity not allowed",
        identifier=identifier,
        entityName=entity_name,
    )


def not_found(code: str, entity_name: str, identifier: str) -> StiggApiError:
    return StiggApiError(code, f"{entity_name} not found", identifier=identifier)


def bad_input(message: str) -> StiggApiError:
    return StiggApiError("BadUserInput", message)


def format_error(error: GraphQLError) -> dict[str, Any]:
    """One entry of a response's `errors`, with Stigg's extensions on business errors."""
    body = error.formatted
    original = error.original_error
    extensions = dict(body.get("extensions") or {})
    if isinstance(original, StiggApiError):
        body["message"] = original.message
        extensions.update(original.extensions)
    else:
        # Apollo Server's code for any error that carries none.
        extensions.setdefault("code", "INTERNAL_SERVER_ERROR")
    extensions["traceId"] = str(uuid.uuid4())
    body["extensions"] = extensions
    return body


def request_error(status: int, code: str, messages: list[str]) -> Response:
    """A request that did not reach execution: no `data` key, as Apollo Server answers."""
    return json_response(
        {"errors": [{"message": m, "extensions": {"code": code}} for m in messages]}, status
    )


def unauthenticated() -> Response:
    return request_error(UNAUTHENTICATED_STATUS, "UNAUTHENTICATED", [UNAUTHENTICATED_MESSAGE])
