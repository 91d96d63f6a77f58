"""User export jobs: the way past the 1000-record limit of the user search.

`POST /jobs/users-exports` answers a `pending` job; the clock moves it to `processing`, then
`completed` after `build_seconds`, when `GET /jobs/{id}` carries a pre-signed `location` on
this server (valid 60 s) serving gzip-compressed NDJSON (one user per line) or CSV.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import io
import json
from typing import Any

from stiggctl.sandbox.auth0.errors import bad_request, not_found
from stiggctl.sandbox.auth0.routing import Call, Route
from stiggctl.sandbox.auth0.state import Tenant
from stiggctl.sandbox.auth0.users import user_view
from stiggctl.sandbox.auth0.validation import CREATE_USERS_EXPORT, read_body
from stiggctl.sandbox.http import Request, Response, json_response

EXPORTS_PATH = "/_auth0_exports"
LOCATION_TTL_SECONDS = 60
JOB_NOT_FOUND = "The job does not exist."
DEFAULT_FIELDS = [
    {"name": name}
    for name in ("user_id", "email", "name", "nickname", "created_at", "updated_at", "last_login")
]


def _job_status(tenant: Tenant, job: dict[str, Any]) -> str:
    elapsed = tenant.elapsed_since(job["started_at"])
    if elapsed >= tenant.build_seconds:
        return "completed"
    return "pending" if elapsed < tenant.build_seconds / 2 else "processing"


def _signature(tenant: Tenant, job_id: str, expires: int) -> str:
    message = f"{job_id}:{expires}".encode()
    return hmac.new(tenant.signing_key, message, hashlib.sha256).hexdigest()


def _location(tenant: Tenant, job: dict[str, Any]) -> str:
    expires = int(tenant.now()) + LOCATION_TTL_SECONDS
    extension = "json.gz" if job["format"] == "json" else "csv.gz"
    signature = _signature(tenant, job["id"], expires)
    return (
        f"{tenant.base_url}{EXPORTS_PATH}/{job['id']}.{extension}"
        f"?expires={expires}&signature={signature}"
    )


def job_view(tenant: Tenant, job: dict[str, Any]) -> dict[str, Any]:
    status = _job_status(tenant, job)
    view: dict[str, Any] = {
        "id": job["id"],
        "type": "users_export",
        "status": status,
        "connection_id": job["connection_id"],
        "connection": job["connection"],
        "format": job["format"],
        "fields": job["fields"],
        "created_at": job["created_at"],
    }
    if "limit" in job:
        view["limit"] = job["limit"]
    if status == "processing":
        view["percentage_done"] = 50
        view["time_left_seconds"] = max(
            1, int(job["started_at"] + tenant.build_seconds - tenant.now())
        )
    if status == "completed":
        view["location"] = _location(tenant, job)
    return view


def post_users_export(call: Call) -> Response:
    tenant = call.tenant
    body = read_body(call.req, CREATE_USERS_EXPORT) or {}
    connections = tenant.data["connections"]
    if "connection_id" in body:
        connection = next((c for c in connections if c["id"] == body["connection_id"]), None)
        if connection is None:
            raise bad_request("The connection does not exist", "inexistent_connection")
    else:
        connection = connections[0]
    job: dict[str, Any] = {
        "id": tenant.new_prefixed_id("job"),
        "connection_id": connection["id"],
        "connection": connection["name"],
        "format": body.get("format", "json"),
        "fields": body.get("fields", DEFAULT_FIELDS),
        "created_at": tenant.now_iso(),
        "started_at": tenant.now(),
    }
    if "limit" in body:
        job["limit"] = body["limit"]
    tenant.data["jobs"][job["id"]] = job
    return json_response(job_view(tenant, job))


def get_job(call: Call) -> Response:
    job = call.tenant.data["jobs"].get(call.params["id"])
    if job is None:
        raise not_found(JOB_NOT_FOUND, "inexistent_job")
    return json_response(job_view(call.tenant, job))


def _value_at(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def export_file(tenant: Tenant, job: dict[str, Any]) -> bytes:
    """The export's content, made from the users as they are when it is downloaded."""
    connection = job["connection"]
    users = [
        user_view(u)
        for u in tenant.data["users"].values()
        if any(i["connection"] == connection for i in u["identities"])
    ][: job.get("limit")]
    columns = [(f["name"], f.get("export_as", f["name"])) for f in job["fields"]]
    if job["format"] == "json":
        lines = []
        for user in users:
            row = {alias: _value_at(user, name) for name, alias in columns}
            lines.append(json.dumps({k: v for k, v in row.items() if v is not None}))
        text = "".join(line + "\n" for line in lines)
    else:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(alias for _, alias in columns)
        for user in users:
            values = (_value_at(user, name) for name, _ in columns)
            writer.writerow(
                "" if v is None else v if isinstance(v, str) else json.dumps(v) for v in values
            )
        text = out.getvalue()
    return gzip.compress(text.encode(), mtime=0)


def download(tenant: Tenant, req: Request) -> Response:
    """`GET /_auth0_exports/{job}.json.gz?expires&signature` (pre-signed, like S3's)."""
    name = req.segments()[-1]
    job_id = name.split(".", 1)[0]
    job = tenant.data["jobs"].get(job_id)
    try:
        expires = int(req.arg("expires") or "")
    except ValueError:
        expires = 0
    signature = req.arg("signature") or ""
    if job is None or not hmac.compare_digest(signature, _signature(tenant, job_id, expires)):
        return Response(403, b"Access Denied", {"content-type": "text/plain"})
    if tenant.now() > expires:
        return Response(403, b"Request has expired", {"content-type": "text/plain"})
    return Response(200, export_file(tenant, job), {"content-type": "application/gzip"})


ROUTES = [
    Route("POST", "/jobs/users-exports", ("read:users",), post_users_export),
    Route("GET", "/jobs/{id}", ("create:users", "read:users"), get_job),
]
