"""Users, organizations, members, clients and user exports in the Auth0 emulator."""

from __future__ import annotations

import csv
import gzip
import io
import json
from urllib.parse import urlsplit

import pytest

from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.seed import (
    ACME,
    BUSINESS_APP_ID,
    CONSUMER_APP_ID,
    GLOBEX,
    INITECH,
    UMBRELLA,
    WORKSPACE_APP_ID,
)
from stiggctl.sandbox.http import Request
from tests.test_sandbox_auth0_support import (
    M2M_ID,
    M2M_SECRET,
    Api,
    api_error,
    make_emulator,
    user_path,
)

ALICE = "auth0|demo-alice"
PAGING = (
    "You can only page through the first 1000 records. "
    "See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation"
)


@pytest.fixture
def tenant():
    emu, clock = make_emulator()
    return emu, clock, Api(emu)


def bulk_tenant(users: int = 0, orgs: int = 0):
    emu, clock = make_emulator(seed=None)
    emu.add_client(
        M2M_ID,
        "stiggctl",
        "non_interactive",
        client_secret=M2M_SECRET,
        grant_scopes=STIGGCTL_SCOPES,
    )
    for n in range(users):
        emu.add_user(f"auth0|bulk-{n:04d}", email=f"user{n:04d}@example.com")
    for n in range(orgs):
        emu.add_org(f"bulk-{n:04d}", f"Bulk {n}")
    return emu, clock, Api(emu)


# ---- clients -------------------------------------------------------------------------------


def test_clients_list_is_a_bare_array_without_totals(tenant):
    _, _, api = tenant
    clients = api.get("/clients").body
    assert [(c["client_id"], c["app_type"], c.get("organization_usage")) for c in clients] == [
        (CONSUMER_APP_ID, "regular_web", "deny"),
        (BUSINESS_APP_ID, "regular_web", "require"),
        (WORKSPACE_APP_ID, "spa", "allow"),
        (M2M_ID, "non_interactive", None),
    ]
    assert all(c["tenant"] == "sandbox" for c in clients)


def test_clients_with_totals_paging_filter_and_fields(tenant):
    _, _, api = tenant
    page = api.get("/clients", include_totals="true", page=1, per_page=2).body
    assert (page["start"], page["limit"], page["total"]) == (2, 2, 4)
    assert [c["client_id"] for c in page["clients"]] == [WORKSPACE_APP_ID, M2M_ID]
    spas = api.get("/clients", app_type="spa,native", fields="client_id,name").body
    assert spas == [{"client_id": WORKSPACE_APP_ID, "name": "Acme Workspace"}]
    without = api.get(
        f"/clients/{BUSINESS_APP_ID}", fields="callbacks,jwt_configuration", include_fields="false"
    )
    assert "callbacks" not in without.body and without.body["client_id"] == BUSINESS_APP_ID
    assert api.get("/clients", per_page=101).status == 400


def test_client_get_and_404(tenant):
    _, _, api = tenant
    assert api.get(f"/clients/{BUSINESS_APP_ID}").body["organization_usage"] == "require"
    missing = api.get("/clients/nope")
    assert missing.status == 404
    assert missing.body == api_error(
        404, "Not Found", "The client does not exist", "inexistent_client"
    )


# ---- users ---------------------------------------------------------------------------------


def test_get_user_by_url_encoded_id(tenant):
    _, _, api = tenant
    response = api.get(user_path(ALICE))
    assert response.status == 200
    user = response.body
    assert (user["user_id"], user["email"], user["name"]) == (
        ALICE,
        "alice@example.com",
        "Alice Example",
    )
    assert user["identities"] == [
        {
            "connection": "Username-Password-Authentication",
            "provider": "auth0",
            "user_id": "demo-alice",
            "isSocial": False,
        }
    ]
    # Absent until the first login.
    assert not {"last_login", "last_ip", "logins_count"} & set(user)
    assert api.get(user_path(ALICE), fields="user_id,email").body == {
        "user_id": ALICE,
        "email": "alice@example.com",
    }


def test_unknown_user_is_auth0s_404(tenant):
    _, _, api = tenant
    response = api.get(user_path("auth0|nobody"))
    assert (response.status, response.body) == (
        404,
        api_error(404, "Not Found", "The user does not exist.", "inexistent_user"),
    )
    assert api.patch(user_path("auth0|nobody"), {"app_metadata": {}}).status == 404


def test_users_list_with_and_without_totals(tenant):
    _, _, api = tenant
    bare = api.get("/users", per_page=3).body
    assert [u["user_id"] for u in bare] == [
        "auth0|demo-alice",
        "auth0|demo-bob",
        "auth0|demo-carol",
    ]
    page = api.get("/users", per_page=5, page=2, include_totals="true").body
    assert (page["start"], page["limit"], page["length"], page["total"]) == (10, 5, 2, 12)
    assert [u["user_id"] for u in page["users"]] == ["auth0|demo-mallory", "auth0|demo-niaj"]


def test_users_paging_stops_at_1000_records():
    _, _, api = bulk_tenant(users=1001)
    last = api.get("/users", page=9, per_page=100, include_totals="true")
    assert last.status == 200
    assert (last.body["total"], last.body["users"][-1]["user_id"]) == (1001, "auth0|bulk-0999")
    beyond = api.get("/users", page=10, per_page=100)
    assert beyond.status == 400
    assert beyond.body == api_error(400, "Bad Request", PAGING, "invalid_paging")
    assert api.get("/users", page=0, per_page=1000).status == 400


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"per_page": 101},
            "Query validation error: 'Value 101 is greater than maximum 100' on property per_page.",
        ),
        (
            {"page": -1},
            "Query validation error: 'Value -1 is less than minimum 0' on property page.",
        ),
        (
            {"page": "x"},
            "Query validation error: 'Expected type integer but found type string' "
            "on property page.",
        ),
        (
            {"include_totals": "maybe"},
            "Query validation error: 'Expected type boolean but found type string' "
            "on property include_totals.",
        ),
    ],
)
def test_bad_query_strings_are_400(tenant, query, message):
    _, _, api = tenant
    response = api.get("/users", **query)
    assert response.body == api_error(400, "Bad Request", message, "invalid_query_string")


def test_user_search_subset(tenant):
    emu, _, api = tenant
    api.patch(
        user_path("auth0|demo-bob"), {"app_metadata": {"plan": "pro", "stigg": {"customer": "c1"}}}
    )
    api.patch(user_path("auth0|demo-carol"), {"app_metadata": {"plan": "free"}})

    def ids(q: str) -> list[str]:
        response = api.get("/users", q=q, search_engine="v3")
        assert response.status == 200, response.body
        return [u["user_id"].removeprefix("auth0|demo-") for u in response.body]

    assert ids('email:"alice@example.com"') == ["alice"]
    assert ids("app_metadata.plan:pro") == ["bob"]
    assert ids("app_metadata.stigg.customer:c1") == ["bob"]
    assert ids("_exists_:app_metadata.plan") == ["bob", "carol"]
    assert ids("_exists_:app_metadata.plan AND NOT app_metadata.plan:free") == ["bob"]
    assert ids("app_metadata.plan:pro OR app_metadata.plan:free") == ["bob", "carol"]
    assert ids("-_exists_:app_metadata.plan AND email:a*") == ["alice"]
    assert ids('user_id:"auth0|demo-judy"') == ["judy"]
    assert ids("name:ivan*") == ["ivan"]
    assert ids("mallory") == ["mallory"]
    bad = api.get("/users", q="name:(a")
    assert bad.body == api_error(
        400, "Bad Request", "Invalid query string: name:(a", "invalid_query_string"
    )
    assert api.get("/users", q="AND x").status == 400
    assert api.get("/users", search_engine="v1").status == 400
    assert len(emu.list_users()) == 12


def test_users_sort_and_connection_filter(tenant):
    _, _, api = tenant
    by_email = api.get("/users", sort="email:-1", per_page=2).body
    assert [u["email"] for u in by_email] == ["niaj@example.com", "mallory@example.com"]
    assert (
        api.get("/users", connection="Username-Password-Authentication", per_page=1).body[0][
            "user_id"
        ]
        == ALICE
    )
    assert api.get("/users", connection="google-oauth2").body == []
    assert api.get("/users", sort="email").status == 400


def test_patch_app_metadata_merges_at_the_first_level(tenant):
    _, clock, api = tenant
    path = user_path(ALICE)
    first = api.patch(path, {"app_metadata": {"a": 1, "b": {"x": 1, "y": 2}, "c": "keep"}})
    assert first.body["app_metadata"] == {"a": 1, "b": {"x": 1, "y": 2}, "c": "keep"}
    clock.advance(5)
    second = api.patch(path, {"app_metadata": {"a": None, "b": {"z": 3}, "d": [1, 2]}})
    # a deleted, b replaced whole (not deep-merged), c kept, d added.
    assert second.body["app_metadata"] == {"b": {"z": 3}, "c": "keep", "d": [1, 2]}
    assert second.body["updated_at"] == "2023-11-14T22:13:25.000Z"
    assert (
        api.patch(path, {"user_metadata": {"theme": "dark"}}).body["app_metadata"]
        == second.body["app_metadata"]
    )
    cleared = api.patch(path, {"app_metadata": {}})
    assert cleared.body["app_metadata"] == {}
    assert cleared.body["user_metadata"] == {"theme": "dark"}


@pytest.mark.parametrize("key", ["org.acme", "$where"])
def test_metadata_keys_with_dots_or_dollars_are_refused(tenant, key):
    _, _, api = tenant
    response = api.patch(user_path(ALICE), {"app_metadata": {key: 1}})
    assert response.status == 400
    assert response.body["errorCode"] == "invalid_body"
    assert api.get(user_path(ALICE)).body["app_metadata"] == {}


def test_patch_user_profile_fields_and_type_errors(tenant):
    _, _, api = tenant
    path = user_path(ALICE)
    updated = api.patch(
        path, {"name": "Alice A.", "blocked": True, "family_name": None, "unknown_field": 1}
    )
    assert updated.status == 200
    assert (updated.body["name"], updated.body["blocked"]) == ("Alice A.", True)
    assert "family_name" not in updated.body
    assert "unknown_field" not in updated.body
    wrong = api.patch(path, {"app_metadata": "pro"})
    assert wrong.body == api_error(
        400,
        "Bad Request",
        "Payload validation error: 'Expected type object but found type string' "
        "on property app_metadata.",
        "invalid_body",
    )
    assert api.patch(path, {}).status == 400
    assert api.patch(path, {"app_metadata": {"blob": "x" * 11000}}).status == 400


def test_user_organizations(tenant):
    _, _, api = tenant
    orgs = api.get(f"{user_path(ALICE)}/organizations").body
    assert [o["id"] for o in orgs] == [ACME]
    with_totals = api.get(
        f"{user_path('auth0|demo-mallory')}/organizations", include_totals="true"
    ).body
    assert with_totals == {"start": 0, "limit": 50, "total": 0, "organizations": []}
    assert api.get(f"{user_path('auth0|nobody')}/organizations").status == 404


# ---- organizations -------------------------------------------------------------------------


def test_organizations_offset_paging(tenant):
    _, _, api = tenant
    bare = api.get("/organizations").body
    assert [o["id"] for o in bare] == [ACME, GLOBEX, INITECH, UMBRELLA]
    page = api.get("/organizations", page=1, per_page=3, include_totals="true").body
    assert page == {
        "start": 3,
        "limit": 3,
        "total": 4,
        "organizations": [
            {
                "id": UMBRELLA,
                "name": "umbrella",
                "display_name": "Umbrella Health",
                "metadata": {"industry": "healthcare", "region": "jp"},
            }
        ],
    }


def test_organizations_checkpoint_paging_follows_next():
    _, _, api = bulk_tenant(orgs=5)
    seen, token, pages = [], None, 0
    while True:
        query = {"take": 2, **({"from": token} if token else {})}
        body = api.get("/organizations", **query).body
        pages += 1
        seen += [o["name"] for o in body["organizations"]]
        token = body.get("next")
        if token is None:
            break
    assert seen == [f"bulk-{n:04d}" for n in range(5)]
    assert pages == 3


def test_a_full_last_checkpoint_page_is_followed_by_an_empty_one():
    _, _, api = bulk_tenant(orgs=4)
    first = api.get("/organizations", take=2).body
    second = api.get("/organizations", take=2, **{"from": first["next"]}).body
    assert [o["name"] for o in second["organizations"]] == ["bulk-0002", "bulk-0003"]
    third = api.get("/organizations", take=2, **{"from": second["next"]}).body
    assert third == {"organizations": []}


def test_checkpoint_errors(tenant):
    _, _, api = tenant
    assert api.get("/organizations", take=101).status == 400
    bad = api.get("/organizations", **{"from": "not-a-checkpoint"})
    assert (bad.status, bad.body["errorCode"]) == (400, "invalid_query_string")


def test_organizations_offset_paging_stops_at_1000(tenant):
    _, _, api = tenant
    response = api.get("/organizations", page=20, per_page=50)
    assert response.body == api_error(400, "Bad Request", PAGING, "invalid_paging")


def test_get_organization_omits_empty_metadata(tenant):
    emu, _, api = tenant
    emu.add_org("plain", "Plain Org", org_id="org_plain00000000001")
    assert api.get("/organizations/org_plain00000000001").body == {
        "id": "org_plain00000000001",
        "name": "plain",
        "display_name": "Plain Org",
    }
    assert api.get("/organizations/name/acme").body["id"] == ACME
    for path in ("/organizations/org_nope", "/organizations/name/nope"):
        response = api.get(path)
        assert response.body == api_error(
            404, "Not Found", "No organization found by that id or name"
        )


def test_patch_organization_replaces_metadata_whole(tenant):
    _, _, api = tenant
    path = f"/organizations/{ACME}"
    response = api.patch(path, {"metadata": {"stigg_provisioned": "true"}})
    assert response.status == 200
    assert response.body["metadata"] == {"stigg_provisioned": "true"}  # industry and region gone
    assert api.get(path).body["metadata"] == {"stigg_provisioned": "true"}
    emptied = api.patch(path, {"metadata": {}})
    assert "metadata" not in emptied.body
    renamed = api.patch(path, {"display_name": "ACME Corporation"})
    assert renamed.body["display_name"] == "ACME Corporation"
    assert api.patch(path, {"name": "globex"}).status == 409
    assert api.patch("/organizations/org_nope", {"metadata": {}}).status == 404


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            {f"k{i}": "v" for i in range(26)},
            "Payload validation error: 'Too many properties defined (26), maximum 25' "
            "on property metadata.",
        ),
        (
            {"k": "x" * 256},
            "Payload validation error: 'String is too long (256 chars), maximum 255' "
            "on property metadata.k.",
        ),
        (
            {"k": 5},
            "Payload validation error: 'Expected type string or null but found type integer' "
            "on property metadata.k.",
        ),
    ],
)
def test_organization_metadata_limits(tenant, metadata, message):
    _, _, api = tenant
    response = api.patch(f"/organizations/{ACME}", {"metadata": metadata})
    assert response.body == api_error(400, "Bad Request", message, "invalid_body")
    assert api.get(f"/organizations/{ACME}").body["metadata"] == {
        "industry": "manufacturing",
        "region": "eu",
    }


def test_organization_metadata_at_the_limits_is_accepted(tenant):
    _, _, api = tenant
    metadata = {f"k{i}": "x" * 255 for i in range(25)}
    assert api.patch(f"/organizations/{ACME}", {"metadata": metadata}).body["metadata"] == metadata


def test_patch_organization_rejects_unknown_fields(tenant):
    _, _, api = tenant
    response = api.patch(f"/organizations/{ACME}", {"metadata": {}, "plan": "pro"})
    assert (
        response.body["message"]
        == "Payload validation error: 'Additional properties not allowed: plan'."
    )


def test_members_checkpoint_and_offset_paging(tenant):
    _, _, api = tenant
    path = f"/organizations/{ACME}/members"
    first = api.get(path, take=4).body
    assert [m["user_id"] for m in first["members"]] == [
        f"auth0|demo-{n}" for n in ("alice", "bob", "carol", "dave")
    ]
    assert first["members"][0] == {
        "user_id": ALICE,
        "email": "alice@example.com",
        "picture": first["members"][0]["picture"],
        "name": "Alice Example",
    }
    rest = api.get(path, take=4, **{"from": first["next"]}).body
    assert [m["user_id"] for m in rest["members"]] == [
        f"auth0|demo-{n}" for n in ("erin", "frank", "grace")
    ]
    assert "next" not in rest
    offset = api.get(path, per_page=5, page=1, include_totals="true").body
    assert (offset["total"], len(offset["members"])) == (7, 2)
    roles = api.get(path, take=1, fields="user_id,roles").body
    assert roles["members"] == [{"user_id": ALICE, "roles": []}]
    assert api.get("/organizations/org_nope/members").status == 404


def test_add_and_remove_members(tenant):
    emu, _, _ = tenant
    member_scopes = ["create:organization_members", "delete:organization_members"]
    emu.set_grant(M2M_ID, [*STIGGCTL_SCOPES, *member_scopes])
    api = Api(emu)
    path = f"/organizations/{INITECH}/members"
    added = api.post(path, {"members": ["auth0|demo-mallory", "auth0|demo-judy"]})
    assert (added.status, added.body) == (204, None)
    assert emu.members(INITECH) == ["auth0|demo-judy", "auth0|demo-mallory"]
    unknown = api.post(path, {"members": ["auth0|ghost"]})
    assert unknown.body == api_error(
        400, "Bad Request", "One or more users do not exist: auth0|ghost"
    )
    assert api.post(path, {"members": []}).status == 400
    removed = api.call("DELETE", path, {"members": ["auth0|demo-judy"]})
    assert removed.status == 204
    assert emu.members(INITECH) == ["auth0|demo-mallory"]


# ---- user exports --------------------------------------------------------------------------


def _download(emu, location: str):
    parts = urlsplit(location)
    return emu.handle(Request.build("GET", f"{parts.path}?{parts.query}"))


def test_export_job_completes_by_the_clock_and_serves_gzip_ndjson(tenant):
    emu, clock, api = tenant
    api.patch(user_path(ALICE), {"app_metadata": {"plan": "pro"}})
    body = {
        "format": "json",
        "fields": [{"name": "user_id"}, {"name": "app_metadata", "export_as": "meta"}],
    }
    created = api.post("/jobs/users-exports", body)
    assert created.status == 200
    job = created.body
    assert (job["type"], job["status"], job["format"]) == ("users_export", "pending", "json")
    assert job["id"].startswith("job_") and len(job["id"]) == 20
    assert (job["connection_id"], job["connection"]) == (
        "con_sandboxDb0000001",
        "Username-Password-Authentication",
    )
    assert "location" not in job
    clock.advance(0.3)
    processing = api.get(f"/jobs/{job['id']}").body
    assert processing["status"] == "processing"
    clock.advance(0.3)
    done = api.get(f"/jobs/{job['id']}").body
    assert done["status"] == "completed"
    assert done["location"].startswith("http://127.0.0.1:48123/_auth0_exports/")
    download = _download(emu, done["location"])
    assert download.status == 200
    assert download.headers["content-type"] == "application/gzip"
    lines = gzip.decompress(download.body).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 12
    assert rows[0] == {"user_id": ALICE, "meta": {"plan": "pro"}}
    assert rows[1] == {"user_id": "auth0|demo-bob", "meta": {}}


def test_export_csv_with_limit(tenant):
    emu, clock, api = tenant
    body = {
        "format": "csv",
        "limit": 2,
        "fields": [{"name": "user_id"}, {"name": "email"}, {"name": "last_login"}],
    }
    job = api.post("/jobs/users-exports", body).body
    clock.advance(0.6)
    location = api.get(f"/jobs/{job['id']}").body["location"]
    assert ".csv.gz?" in location
    text = gzip.decompress(_download(emu, location).body).decode()
    assert list(csv.reader(io.StringIO(text))) == [
        ["user_id", "email", "last_login"],
        [ALICE, "alice@example.com", ""],
        ["auth0|demo-bob", "bob@example.com", ""],
    ]


def test_export_location_expires_after_60_seconds_and_is_signed(tenant):
    emu, clock, api = tenant
    job = api.post("/jobs/users-exports", {"format": "json"}).body
    clock.advance(1)
    location = api.get(f"/jobs/{job['id']}").body["location"]
    clock.advance(60)
    assert _download(emu, location).status == 200
    clock.advance(1)
    expired = _download(emu, location)
    assert (expired.status, expired.body) == (403, b"Request has expired")
    tampered = _download(emu, location.replace("signature=", "signature=0"))
    assert tampered.status == 403
    fresh = api.get(f"/jobs/{job['id']}").body["location"]
    assert _download(emu, fresh).status == 200


def test_export_errors(tenant):
    _, _, api = tenant
    bad = api.post("/jobs/users-exports", {"format": "xml"})
    assert bad.body == api_error(
        400,
        "Bad Request",
        "Payload validation error: 'No enum match for: \"xml\"' on property format.",
        "invalid_body",
    )
    unknown = api.post("/jobs/users-exports", {"connection_id": "con_0000000000000001"})
    assert unknown.body == api_error(
        400, "Bad Request", "The connection does not exist", "inexistent_connection"
    )
    missing = api.get("/jobs/job_0000000000000000")
    assert missing.body == api_error(404, "Not Found", "The job does not exist.", "inexistent_job")
