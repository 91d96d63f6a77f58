"""`stiggctl mau report` against the sandbox over real HTTP: rows in JSON, CSV and the table,
paging, filters, `--fail-over`, and the reconciliation with Auth0 (members and export)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.stigg_models import Customer, Entitlement
from stiggctl.commands.mau import report_rows, write_csv
from stiggctl.core.mau import ReportTotals
from stiggctl.sandbox.auth0.seed import ACME, GLOBEX, INITECH, UMBRELLA
from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.stigg.emulator import ACTIVE_USERS_FEATURE_ID
from stiggctl.sandbox.stigg.model import PlanEntitlement
from stiggctl.sandbox.stigg.seed import PRODUCT_ID
from tests.cli_helpers import run_cli
from tests.sandbox_helpers import running_sandbox, sandbox_env

T0 = 1_717_243_200.0  # 2024-06-01T12:00:00Z: every subscription starts now, monthly periods
T0_MS = int(T0 * 1000)
PERIOD = {"start": "2024-06-01T12:00:00Z", "end": "2024-07-01T12:00:00Z"}
EXPORTS = ("POST", "/api/v2/jobs/users-exports")


def user(name: str) -> str:
    return f"auth0|demo-{name}"


@pytest.fixture
def server(monkeypatch):
    # build_seconds=0: export jobs complete at once on the frozen clock.
    with running_sandbox(clock=Clock(start=T0), build_seconds=0) as server:
        for name, value in sandbox_env(server).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("STIGGCTL_NO_INPUT", "1")
        yield server


def seed_customers(server) -> None:
    """One customer per status; the organizations are the seed's Auth0 organizations."""
    stigg = server.sandbox.stigg
    stigg.add_plan(
        "plan-soft",
        product_ref_id=PRODUCT_ID,
        entitlements=[
            PlanEntitlement(
                feature_ref_id=ACTIVE_USERS_FEATURE_ID,
                usage_limit=2,
                has_soft_limit=True,
                reset_period="MONTH",
            )
        ],
    )
    stigg.add_plan("plan-bare", product_ref_id=PRODUCT_ID)
    stigg.add_customer(ACME, name="Acme Corp", plan_ref_id="plan-free")
    stigg.record_logins(ACME, [user("alice"), user("bob"), user("carol")])
    stigg.add_customer(GLOBEX, name="Globex", plan_ref_id="plan-pro")
    stigg.record_logins(GLOBEX, [user("heidi"), *(f"auth0|g{n}" for n in range(39))])
    stigg.add_customer(INITECH, name="Initech", plan_ref_id="plan-soft")
    stigg.record_logins(INITECH, [user("judy"), "auth0|i1", "auth0|i2"])
    stigg.add_customer(UMBRELLA, name="Umbrella", plan_ref_id="plan-enterprise")
    stigg.record_logins(UMBRELLA, ["auth0|u1"])
    stigg.add_customer(user("mallory"), name="Mallory", plan_ref_id="plan-bare")
    stigg.add_customer(user("niaj"), name="Niaj")


def row(customer_id, name, kind, plan, active, limit, limit_kind, percent, status):
    with_period = limit_kind is not None
    return {
        "customer_id": customer_id,
        "name": name,
        "kind": kind,
        "plan": plan,
        "active_users": active,
        "limit": limit,
        "limit_kind": limit_kind,
        "use_percent": percent,
        "period_start": PERIOD["start"] if with_period else None,
        "period_end": PERIOD["end"] if with_period else None,
        "status": status,
    }


EXPECTED_ROWS = [
    row(ACME, "Acme Corp", "organization", "plan-free", 3, 3, "hard", 100.0, "at_limit"),
    row(GLOBEX, "Globex", "organization", "plan-pro", 40, 50, "hard", 80.0, "near"),
    row(INITECH, "Initech", "organization", "plan-soft", 3, 2, "soft", 150.0, "over"),
    row(UMBRELLA, "Umbrella", "organization", "plan-enterprise", 1, None, "unlimited", None, "ok"),
    row(
        user("mallory"),
        "Mallory",
        "individual",
        "plan-bare",
        None,
        None,
        None,
        None,
        "no_entitlement",
    ),
    row(user("niaj"), "Niaj", "individual", None, None, None, None, None, "no_subscription"),
]


def test_json_rows_period_and_totals(server, capsys):
    seed_customers(server)
    result = run_cli(capsys, "mau", "report", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {
        "data": {
            "feature": "feature-active-users",
            "period": {**PERIOD, "same_for_all": True},
            "customers": EXPECTED_ROWS,
            "totals": {
                "customers": 6,
                "active_users": 47,
                "by_status": {
                    "ok": 1,
                    "near": 1,
                    "at_limit": 1,
                    "over": 1,
                    "no_entitlement": 1,
                    "no_subscription": 1,
                },
            },
        }
    }
    # Read only: the customers page and one entitlements query per customer.
    seen = [(r["method"], r["path"]) for r in server.sandbox.requests]
    assert seen == [("POST", "/graphql")] * 7


def test_format_json_without_the_global_flag_is_the_same_document(server, capsys):
    seed_customers(server)
    flagged = run_cli(capsys, "mau", "report", "--json").json()
    assert run_cli(capsys, "mau", "report", "--format", "json").json() == flagged


def test_csv_rows(server, capsys):
    seed_customers(server)
    result = run_cli(capsys, "mau", "report", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    start, end = PERIOD["start"], PERIOD["end"]
    assert result.stdout.splitlines() == [
        "customer_id,name,kind,plan,active_users,limit,limit_kind,use_percent,"
        "period_start,period_end,status",
        f"{ACME},Acme Corp,organization,plan-free,3,3,hard,100.0,{start},{end},at_limit",
        f"{GLOBEX},Globex,organization,plan-pro,40,50,hard,80.0,{start},{end},near",
        f"{INITECH},Initech,organization,plan-soft,3,2,soft,150.0,{start},{end},over",
        f"{UMBRELLA},Umbrella,organization,plan-enterprise,1,,unlimited,,{start},{end},ok",
        "auth0|demo-mallory,Mallory,individual,plan-bare,,,,,,,no_entitlement",
        "auth0|demo-niaj,Niaj,individual,,,,,,,,no_subscription",
    ]


def test_table_sorted_by_use_with_a_summary(server, capsys):
    seed_customers(server)
    result = run_cli(capsys, "mau", "report")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    firsts = [line.split()[0] for line in lines if line.startswith(("org_", "auth0|"))]
    assert firsts == [INITECH, ACME, GLOBEX, UMBRELLA, user("mallory"), user("niaj")]
    acme = next(line for line in lines if line.startswith(ACME))
    assert acme.split() == [
        ACME,
        "plan-free",
        "3",
        "/",
        "3",
        "█" * 8,
        "100%",
        "2024-07-01",
        "at_limit",
    ]
    assert lines[-2] == (
        "6 customers · 47 active users · 1 over · 1 at limit · 1 near · 1 no entitlement · "
        "1 no subscription"
    )
    assert lines[-1] == "Period: 2024-06-01T12:00:00Z to 2024-07-01T12:00:00Z"


def test_paging_over_several_pages_in_stigg_order(server, capsys):
    ids = [f"org_paged{n:02d}" for n in range(25)]
    for n, customer_id in enumerate(ids):
        server.sandbox.stigg.add_customer(customer_id, plan_ref_id="plan-pro")
        server.sandbox.stigg.record_logins(customer_id, [f"auth0|p{k}" for k in range(n)])
    result = run_cli(capsys, "mau", "report", "--json", "--page-size", "10", "--concurrency", "3")
    assert result.exit_code == 0, result.stderr
    customers = result.json()["data"]["customers"]
    assert [c["customer_id"] for c in customers] == ids
    assert [c["active_users"] for c in customers] == list(range(25))
    assert {c["status"] for c in customers} == {"ok"}  # 24 of plan-pro's 50 at most
    assert result.json()["data"]["totals"]["active_users"] == sum(range(25))
    # Three pages of 10, 10 and 5 customers, then one entitlements query each.
    assert len(server.sandbox.requests) == 3 + 25


def test_customer_filter_keeps_the_given_order(server, capsys):
    seed_customers(server)
    result = run_cli(
        capsys, "mau", "report", "--json", "-c", user("niaj"), "--customer", ACME, "-c", ACME
    )
    assert result.exit_code == 0, result.stderr
    rows = result.json()["data"]["customers"]
    assert rows == [EXPECTED_ROWS[5], EXPECTED_ROWS[0]]


def test_unknown_customer_is_not_found(server, capsys):
    seed_customers(server)
    result = run_cli(capsys, "mau", "report", "--json", "--customer", "org_nobody")
    assert result.exit_code == 1
    error = result.json()["error"]
    assert (error["code"], error["message"]) == ("not_found", "Stigg has no customer 'org_nobody'.")


def test_fail_over_exits_3_only_when_a_customer_is_at_or_over_its_limit(server, capsys):
    seed_customers(server)
    failing = run_cli(capsys, "mau", "report", "--format", "csv", "--fail-over")
    assert failing.exit_code == 3
    assert len(failing.stdout.splitlines()) == 7  # the report is printed all the same
    healthy = run_cli(capsys, "mau", "report", "--json", "--fail-over", "-c", GLOBEX)
    assert healthy.exit_code == 0
    assert run_cli(capsys, "mau", "report", "--json").exit_code == 0


def test_json_and_another_format_conflict(server, capsys):
    result = run_cli(capsys, "mau", "report", "--json", "--format", "csv")
    assert result.exit_code == 2
    assert result.json()["error"]["code"] == "usage_error"


# ---- reconciliation ------------------------------------------------------------------------


def seed_logins_in_auth0(server) -> None:
    """Stigg counted alice, bob and carol in Acme and heidi in Globex; Auth0's records say
    alice and bob (carol's record is lost), heidi, and ivan in the previous period."""
    stigg = server.sandbox.stigg
    stigg.add_customer(ACME, name="Acme Corp", plan_ref_id="plan-free")
    stigg.record_logins(ACME, [user("alice"), user("bob"), user("carol")])
    stigg.add_customer(GLOBEX, name="Globex", plan_ref_id="plan-pro")
    stigg.record_logins(GLOBEX, [user("heidi")])
    stigg.add_customer(user("mallory"), name="Mallory", plan_ref_id="plan-enterprise")
    stigg.add_customer("auth0|gone", name="Gone", plan_ref_id="plan-free")
    info = server.info()["auth0"]
    with Auth0Client(server.base_url, info["client_id"], info["client_secret"]) as auth0:
        for name in ("alice", "bob"):
            auth0.update_user_app_metadata(user(name), {f"{ACME}:last_login": T0_MS + 1000})
        auth0.update_user_app_metadata(
            user("heidi"), {f"{GLOBEX}:last_login": T0_MS, f"{ACME}:last_login": T0_MS}
        )
        auth0.update_user_app_metadata(user("ivan"), {f"{GLOBEX}:last_login": T0_MS - 86_400_000})
    server.sandbox.requests.clear()


def reconciliations(data) -> dict[str, tuple]:
    return {
        c["customer_id"]: (
            c["reconciliation"]["stigg_count"],
            c["reconciliation"]["auth0_count"],
            c["reconciliation"]["difference"],
            c["reconciliation"]["status"],
            c["reconciliation"]["detail"],
        )
        for c in data["customers"]
    }


EXPECTED_RECONCILIATION = {
    ACME: (3, 2, -1, "mismatch", None),
    GLOBEX: (1, 1, 0, "match", None),
    user("mallory"): (0, 1, None, "match", None),
    "auth0|gone": (0, 0, None, "mismatch", "no such Auth0 user"),
}


def test_reconcile_member_by_member_on_a_small_tenant(server, capsys):
    seed_logins_in_auth0(server)
    result = run_cli(capsys, "mau", "report", "--json", "--reconcile", "--verbose")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert reconciliations(data) == EXPECTED_RECONCILIATION
    # heidi's Acme record is no count for Acme: she is not an Acme member.
    assert data["reconciliation"] == {"source": "members", "auth0_users": 12}
    assert data["totals"]["reconciliation"] == {"match": 2, "mismatch": 2}
    assert {c["reconciliation"]["source"] for c in data["customers"]} == {"members"}
    assert "member by member (12 <= 1,000 users)" in result.stderr
    paths = [(r["method"], r["path"]) for r in server.sandbox.requests]
    assert EXPORTS not in paths
    # Each user read once: 7 Acme members, 2 Globex members, 2 individuals.
    user_reads = [p for m, p in paths if m == "GET" and p.startswith("/api/v2/users/")]
    assert len(user_reads) == len(set(user_reads)) == 11


def test_reconcile_through_an_export_when_over_the_threshold(server, capsys):
    seed_logins_in_auth0(server)
    result = run_cli(
        capsys, "mau", "report", "--json", "--reconcile", "--export-threshold", "5", "-v"
    )
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    # The export does not say who is a member: heidi's record counts for Acme.
    assert reconciliations(data) == {**EXPECTED_RECONCILIATION, ACME: (3, 3, 0, "match", None)}
    assert data["reconciliation"] == {"source": "export", "auth0_users": 12}
    assert {c["reconciliation"]["source"] for c in data["customers"]} == {"export"}
    assert "users export job (12 > 5 users)" in result.stderr
    paths = [(r["method"], r["path"]) for r in server.sandbox.requests]
    assert paths.count(EXPORTS) == 1
    assert not [p for m, p in paths if p.startswith(("/api/v2/users/", "/api/v2/organizations"))]


def test_reconcile_chooses_by_the_members_of_the_customers_named(server, capsys):
    seed_logins_in_auth0(server)
    small = run_cli(
        capsys, "mau", "report", "--json", "--reconcile", "-c", GLOBEX, "-c", user("mallory")
    )
    assert small.json()["data"]["reconciliation"] == {"source": "members", "auth0_users": 3}
    assert reconciliations(small.json()["data"]) == {
        GLOBEX: EXPECTED_RECONCILIATION[GLOBEX],
        user("mallory"): EXPECTED_RECONCILIATION[user("mallory")],
    }
    # Acme's 7 members are past a threshold of 5: paging stops there and an export runs.
    server.sandbox.requests.clear()
    large = run_cli(
        capsys, "mau", "report", "--json", "--reconcile", "-c", ACME, "--export-threshold", "5"
    )
    assert large.json()["data"]["reconciliation"] == {"source": "export", "auth0_users": 12}
    paths = [(r["method"], r["path"]) for r in server.sandbox.requests]
    assert paths.count(EXPORTS) == 1


def test_reconcile_csv_columns(server, capsys):
    seed_logins_in_auth0(server)
    result = run_cli(capsys, "mau", "report", "--format", "csv", "--reconcile")
    assert result.exit_code == 0, result.stderr
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [
        (
            r["customer_id"],
            r["auth0_count"],
            r["difference"],
            r["reconcile_status"],
            r["reconcile_detail"],
        )
        for r in records
    ] == [
        (ACME, "2", "-1", "mismatch", ""),
        (GLOBEX, "1", "0", "match", ""),
        (user("mallory"), "1", "", "match", ""),
        ("auth0|gone", "0", "", "mismatch", "no such Auth0 user"),
    ]


def test_missing_organization_is_a_mismatch(server, capsys):
    server.sandbox.stigg.add_customer("org_notinauth0", plan_ref_id="plan-free")
    server.sandbox.stigg.record_logins("org_notinauth0", ["auth0|x"])
    result = run_cli(capsys, "mau", "report", "--json", "--reconcile")
    assert reconciliations(result.json()["data"]) == {
        "org_notinauth0": (1, 0, -1, "mismatch", "no such Auth0 organization")
    }


def test_no_secret_reaches_the_output(server, capsys):
    seed_logins_in_auth0(server)
    info = server.info()
    secrets = (info["auth0"]["client_secret"], info["stigg"]["api_key"])
    for args in (("--json",), ("--format", "csv"), ()):
        result = run_cli(capsys, "mau", "report", "--reconcile", "--verbose", *args)
        assert result.exit_code == 0
        for secret in secrets:
            assert secret not in result.stdout + result.stderr


# ---- streaming -----------------------------------------------------------------------------


class RecordingStigg:
    """Customers handed out lazily, every step written to one shared log."""

    def __init__(self, log: list[str], count: int) -> None:
        self.log = log
        self.count = count

    def customers(self) -> Iterator[Customer]:
        for n in range(self.count):
            self.log.append(f"fetch {n}")
            yield Customer.model_validate(
                {
                    "customerId": f"org_{n}",
                    "subscriptions": [{"status": "ACTIVE", "plan": {"refId": "p"}}],
                }
            )

    def get_entitlements(self, customer_id: str) -> list[Entitlement]:
        usage = int(customer_id.removeprefix("org_"))
        return [
            Entitlement.model_validate(
                {
                    "isGranted": True,
                    "usageLimit": 100,
                    "currentUsage": usage,
                    "feature": {"refId": "f"},
                }
            )
        ]


class RecordingStream:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text
        self.log.append(f"write {text.split(',')[0]}")

    def flush(self) -> None:
        self.log.append("flush")


def test_csv_rows_are_written_before_the_last_customer_is_fetched():
    log: list[str] = []
    stigg = RecordingStigg(log, 25)
    stream = RecordingStream(log)
    totals = ReportTotals()
    rows = report_rows(stigg, stigg.customers(), "f", concurrency=2)
    write_csv(rows, stream, reconcile=False, totals=totals)
    assert log[:2] == ["write customer_id", "flush"]  # the header before any fetch
    first_row = log.index("write org_0")
    assert first_row < log.index("fetch 24")
    assert log[first_row + 1] == "flush"
    # A bounded window: at most 2 * concurrency customers taken ahead of the first row.
    assert log[:first_row].count("fetch 0") == 1
    assert sum(1 for entry in log[:first_row] if entry.startswith("fetch")) <= 5
    assert len(stream.text.splitlines()) == 26
    assert totals.customers == 25
    assert totals.active_users == sum(range(25))


# ---- progress ------------------------------------------------------------------------------


class CountingStigg:
    def __init__(self) -> None:
        self.asked = 0

    def execute(self, document, variables, *, operation_name, idempotent):
        self.asked += 1
        assert (operation_name, variables) == ("Customers", {"paging": {"first": 1}})
        return {"customers": {"totalCount": 25}}


def terminal_output(json_mode: bool = False):
    from rich.console import Console

    from stiggctl.output import Output

    out = Output(json_mode=json_mode)
    buffer = io.StringIO()
    out.err = Console(file=buffer, force_terminal=True, width=80)
    return out, buffer


def test_progress_counts_customers_on_a_terminal_and_leaves_stdout_alone():
    import sys

    from stiggctl.commands.mau import CustomerProgress

    out, buffer = terminal_output()
    stdout = sys.stdout
    with CustomerProgress(out, CountingStigg(), 3) as advance:
        for _ in range(3):
            advance()
        assert sys.stdout is stdout  # CSV rows must not be rerouted to stderr
    assert "3/3" in buffer.getvalue()

    stigg = CountingStigg()
    out, buffer = terminal_output()
    with CustomerProgress(out, stigg, None) as advance:
        advance()
    assert stigg.asked == 1  # the total, asked only to size the bar
    assert "1/25" in buffer.getvalue()


def test_no_progress_in_json_mode_or_without_a_terminal():
    from stiggctl.commands.mau import CustomerProgress
    from stiggctl.output import Output

    stigg = CountingStigg()
    out, buffer = terminal_output(json_mode=True)
    with CustomerProgress(out, stigg, None) as advance:
        advance()
    plain = Output()
    with CustomerProgress(plain, stigg, None) as advance:
        advance()
    assert (buffer.getvalue(), stigg.asked) == ("", 0)
