"""Request validation with the Management API's own wording.

Auth0 validates bodies and query strings against JSON schemas (z-schema) and answers 400 with
`Payload validation error: '<z-schema message>' on property <path>.` (errorCode
`invalid_body`) or `Query validation error: ...` (`invalid_query_string`). This is the small
subset of JSON Schema those schemas use, with the same messages, so that a body the real API
refuses is refused here for the same reason.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from stiggctl.sandbox.auth0.errors import ApiError
from stiggctl.sandbox.http import Request

Schema = dict[str, Any]

MAX_BODY_BYTES = 1024 * 1024


class SchemaViolation(Exception):
    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_matches(value: Any, expected: str) -> bool:
    actual = json_type(value)
    return actual == expected or (expected == "number" and actual == "integer")


def check(schema: Schema, value: Any, path: str = "") -> None:
    """Raise `SchemaViolation` for the first rule `value` breaks (z-schema's messages)."""
    expected = schema.get("type")
    if expected is not None:
        allowed = expected if isinstance(expected, list) else [expected]
        if not any(_type_matches(value, t) for t in allowed):
            raise SchemaViolation(
                f"Expected type {' or '.join(allowed)} but found type {json_type(value)}", path
            )
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaViolation(f'No enum match for: "{value}"', path)
    if isinstance(value, str):
        _check_string(schema, value, path)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaViolation(f"Value {value} is less than minimum {schema['minimum']}", path)
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaViolation(
                f"Value {value} is greater than maximum {schema['maximum']}", path
            )
    elif isinstance(value, list):
        _check_array(schema, value, path)
    elif isinstance(value, dict):
        _check_object(schema, value, path)


def _check_string(schema: Schema, value: str, path: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise SchemaViolation(
            f"String is too short ({len(value)} chars), minimum {schema['minLength']}", path
        )
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SchemaViolation(
            f"String is too long ({len(value)} chars), maximum {schema['maxLength']}", path
        )
    if "pattern" in schema and not re.search(schema["pattern"], value):
        raise SchemaViolation(f"String does not match pattern {schema['pattern']}: {value}", path)


def _check_array(schema: Schema, value: list[Any], path: str) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise SchemaViolation(
            f"Array is too short ({len(value)}), minimum {schema['minItems']}", path
        )
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise SchemaViolation(
            f"Array is too long ({len(value)}), maximum {schema['maxItems']}", path
        )
    if "items" in schema:
        for index, item in enumerate(value):
            check(schema["items"], item, f"{path}[{index}]")


def _check_object(schema: Schema, value: dict[str, Any], path: str) -> None:
    properties: dict[str, Schema] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            raise SchemaViolation(f"Missing required property: {name}", path)
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        raise SchemaViolation(
            f"Too many properties defined ({len(value)}), maximum {schema['maxProperties']}",
            path,
        )
    additional = schema.get("additionalProperties", True)
    if additional is False:
        unknown = [name for name in value if name not in properties]
        if unknown:
            raise SchemaViolation(f"Additional properties not allowed: {','.join(unknown)}", path)
    for name, item in value.items():
        child = f"{path}.{name}" if path else name
        if name in properties:
            check(properties[name], item, child)
        elif isinstance(additional, dict):
            check(additional, item, child)


def validate_body(schema: Schema, body: Any) -> None:
    try:
        check(schema, body)
    except SchemaViolation as violation:
        where = f" on property {violation.path}" if violation.path else ""
        raise ApiError(
            400, f"Payload validation error: '{violation.message}'{where}.", "invalid_body"
        ) from None


def read_body(req: Request, schema: Schema | None = None, *, allow_empty: bool = False) -> Any:
    """The request body as Auth0 reads it (JSON, or a form), validated against `schema`."""
    if len(req.body) > MAX_BODY_BYTES:
        raise ApiError(
            413, f"Payload content length greater than maximum allowed: {MAX_BODY_BYTES}"
        )
    content_type = (req.header("content-type") or "").lower()
    if "application/x-www-form-urlencoded" in content_type:
        body: Any = dict(parse_qsl(req.body.decode("utf-8", "replace")))
    else:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Invalid request payload JSON format") from None
    if body is None:
        if allow_empty:
            return None
        body = {}
    if schema is not None:
        validate_body(schema, body)
    return body


def query_violation(name: str, message: str) -> ApiError:
    return ApiError(
        400, f"Query validation error: '{message}' on property {name}.", "invalid_query_string"
    )


def query_int(
    req: Request,
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise query_violation(name, "Expected type integer but found type string") from None
    if minimum is not None and value < minimum:
        raise query_violation(name, f"Value {value} is less than minimum {minimum}")
    if maximum is not None and value > maximum:
        raise query_violation(name, f"Value {value} is greater than maximum {maximum}")
    return value


def query_bool(req: Request, name: str, default: bool = False) -> bool:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise query_violation(name, "Expected type boolean but found type string")


def query_fields(req: Request) -> tuple[list[str] | None, bool]:
    """The `fields` / `include_fields` pair: which fields to keep (or drop)."""
    raw = req.arg("fields")
    fields = [f.strip() for f in raw.split(",") if f.strip()] if raw else None
    return fields, query_bool(req, "include_fields", True)


def select_fields(record: dict[str, Any], fields: list[str] | None, include: bool) -> dict:
    if fields is None:
        return record
    if include:
        return {k: v for k, v in record.items() if k in fields}
    return {k: v for k, v in record.items() if k not in fields}


# ---- request schemas (the emulator's own; the contract file is only a test fixture) --------

TRIGGER_IDS = [
    "post-login",
    "credentials-exchange",
    "pre-user-registration",
    "post-user-registration",
    "post-change-password",
    "send-phone-message",
    "custom-phone-provider",
    "custom-email-provider",
    "password-reset-post-challenge",
    "custom-token-exchange",
    "event-stream",
    "password-hash-migration",
    "login-post-identifier",
    "signup-post-identifier",
]

ACTION_TRIGGER: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "enum": TRIGGER_IDS},
        "version": {"type": "string"},
        "status": {"type": "string"},
        "runtimes": {"type": "array", "items": {"type": "string"}},
        "default_runtime": {"type": "string"},
        "compatible_triggers": {"type": "array", "items": {"type": "object"}},
        "binding_policy": {"type": "string", "enum": ["trigger-bound", "entity-bound"]},
    },
}

DEPENDENCY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "registry_url": {"type": "string"},
    },
}

# Auth0's limits on actions; the schemas below carry them, so that a body over a limit is
# refused with the same payload validation message as any other bad body.
MAX_SECRETS = 30
MAX_DEPENDENCIES = 10
MAX_CODE_CHARS = 100 * 1024
MAX_BINDINGS_PER_TRIGGER = 20

SECRET_REQUEST: Schema = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 128},
        "value": {"type": "string", "maxLength": 4096},
    },
}

MODULE_REFERENCE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "module_id": {"type": "string"},
        "module_name": {"type": "string"},
        "module_version_id": {"type": "string"},
        "module_version_number": {"type": "integer"},
    },
}

_ACTION_FIELDS: dict[str, Schema] = {
    "name": {"type": "string"},
    "supported_triggers": {"type": "array", "minItems": 1, "items": ACTION_TRIGGER},
    "code": {"type": "string", "maxLength": MAX_CODE_CHARS},
    "dependencies": {"type": "array", "maxItems": MAX_DEPENDENCIES, "items": DEPENDENCY},
    "runtime": {"type": "string"},
    "secrets": {"type": "array", "maxItems": MAX_SECRETS, "items": SECRET_REQUEST},
    "modules": {"type": "array", "items": MODULE_REFERENCE},
}

CREATE_ACTION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "supported_triggers"],
    "properties": {**_ACTION_FIELDS, "deploy": {"type": "boolean"}},
}

UPDATE_ACTION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": _ACTION_FIELDS,
}

DEPLOY_VERSION: Schema = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {"update_draft": {"type": "boolean"}},
}

UPDATE_BINDINGS: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "bindings": {
            "type": "array",
            "maxItems": MAX_BINDINGS_PER_TRIGGER,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ref"],
                "properties": {
                    "ref": {
                        "type": "object",
                        "properties": {
                            "type": {
                                "type": "string",
                                "enum": ["binding_id", "action_id", "action_name"],
                            },
                            "value": {"type": "string"},
                        },
                    },
                    "display_name": {"type": "string"},
                    "secrets": {"type": "array", "items": SECRET_REQUEST},
                },
            },
        }
    },
}


def _nullable_string(min_length: int = 1, max_length: int | None = None) -> Schema:
    schema: Schema = {"type": ["string", "null"], "minLength": min_length}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


# Auth0 accepts (and ignores) fields outside this list on PATCH /users: the contract says
# additionalProperties true, unlike most request bodies.
UPDATE_USER: Schema = {
    "type": "object",
    "properties": {
        "app_metadata": {"type": "object"},
        "user_metadata": {"type": "object"},
        "blocked": {"type": "boolean"},
        "email_verified": {"type": "boolean"},
        "phone_verified": {"type": "boolean"},
        "verify_email": {"type": "boolean"},
        "verify_phone_number": {"type": "boolean"},
        "email": {"type": ["string", "null"]},
        "phone_number": {"type": ["string", "null"], "pattern": r"^\+[0-9]{1,15}$"},
        "given_name": _nullable_string(1, 150),
        "family_name": _nullable_string(1, 150),
        "name": _nullable_string(1, 300),
        "nickname": _nullable_string(1, 300),
        "picture": {"type": ["string", "null"]},
        "username": _nullable_string(1, 128),
        "password": _nullable_string(1),
        "connection": {"type": "string", "minLength": 1},
        "client_id": {"type": "string", "minLength": 1},
    },
}

CREATE_USERS_EXPORT: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "connection_id": {"type": "string", "pattern": r"^con_[A-Za-z0-9]{16}$"},
        "format": {"type": "string", "enum": ["json", "csv"]},
        "limit": {"type": "integer", "minimum": 1},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "export_as": {"type": "string", "maxLength": 100},
                },
            },
        },
    },
}

ORGANIZATION_METADATA: Schema = {
    "type": "object",
    "maxProperties": 25,
    "additionalProperties": {"type": ["string", "null"], "maxLength": 255},
}

UPDATE_ORGANIZATION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": 50,
            "pattern": r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$",
        },
        "display_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "metadata": ORGANIZATION_METADATA,
        "branding": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "logo_url": {"type": "string"},
                "colors": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["primary", "page_background"],
                    "properties": {
                        "primary": {"type": "string"},
                        "page_background": {"type": "string"},
                    },
                },
            },
        },
        "token_quota": {"type": ["object", "null"]},
    },
}

ORGANIZATION_MEMBERS: Schema = {
    "type": "object",
    "required": ["members"],
    "properties": {
        "members": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    },
}
