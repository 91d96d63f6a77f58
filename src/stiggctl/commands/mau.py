"""`stiggctl mau`: monthly active users per customer.

`mau report` streams Stigg's customers (cursor paging), reads each one's Active Users
entitlement with a few threads, and writes rows as they come: CSV row by row, JSON and the
table once all are in. `--reconcile` compares Stigg's counts with the login records that the
Action keeps in Auth0, through organization members and one request per user on a small
tenant, or one users export job on a large one. The decisions live in `core/mau.py`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from rich.console import Console

    from stiggctl.app import AppContext
    from stiggctl.clients.auth0 import Auth0Client
    from stiggctl.clients.stigg import StiggClient
    from stiggctl.clients.stigg_models import Customer
    from stiggctl.core.mau import ExportIndex, Reconciliation, ReportTotals, UsageRow
    from stiggctl.output import Output

    Reconciler = Callable[[UsageRow], Reconciliation | None]

# Auth0's offset paging stops at 1000 users; beyond, an export job is the way.
DEFAULT_EXPORT_THRESHOLD = 1000
DEFAULT_CONCURRENCY = 4
MEMBERS_PAGE_SIZE = 100
EXPORT_FIELDS = ("user_id", "app_metadata")
EXPORT_POLL_SECONDS = 2.0
EXPORT_TIMEOUT_SECONDS = 3600.0
TABLE_BAR_WIDTH = 8


class ReportFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


app = typer.Typer(help="Monthly active users per customer.", no_args_is_help=True)


@app.command("report")
def report(
    ctx: typer.Context,
    customers: list[str] = typer.Option(
        None,
        "--customer",
        "-c",
        metavar="ID",
        help="Only this customer (repeatable): an organization id (org_...) or a user id.",
    ),
    output_format: ReportFormat | None = typer.Option(
        None,
        "--format",
        "-f",
        case_sensitive=False,
        help="table (default), json, or csv (streamed row by row). --json means json.",
    ),
    reconcile: bool = typer.Option(
        False,
        "--reconcile",
        help="Compare each customer with Auth0: users with a login record this period "
        "(organizations), the user exists (individuals).",
    ),
    concurrency: int = typer.Option(
        DEFAULT_CONCURRENCY,
        "--concurrency",
        min=1,
        max=16,
        help="Customers fetched at once.",
    ),
    export_threshold: int = typer.Option(
        DEFAULT_EXPORT_THRESHOLD,
        "--export-threshold",
        min=0,
        metavar="USERS",
        help="With --reconcile: read Auth0 through a users export job when more users "
        "are involved than this, else member by member.",
    ),
    page_size: int = typer.Option(
        100, "--page-size", min=1, max=100, help="Customers per Stigg page."
    ),
    fail_over: bool = typer.Option(
        False,
        "--fail-over",
        help="Exit 3 when a customer is at or over its limit (for CI alerts).",
    ),
) -> None:
    """Active users per customer this period: plan, active users, limit, use, period end
    and status (ok, near from 80 %, at_limit, over, no_entitlement, no_subscription).

    Examples:

      stiggctl mau report

      stiggctl mau report --format csv > mau.csv

      stiggctl mau report --customer org_acme000000000001 --reconcile --json

      stiggctl mau report --fail-over --no-input
    """
    import contextlib
    import sys

    from stiggctl.core.mau import ReportTotals
    from stiggctl.errors import ExitCode

    app_ctx: AppContext = ctx.obj
    fmt = _resolve_format(app_ctx.json, output_format)
    feature_id = app_ctx.settings.active_users_feature
    selected = list(dict.fromkeys(customers or []))
    totals = ReportTotals()
    collected: list[UsageRow] = []
    with contextlib.ExitStack() as clients:
        stigg = clients.enter_context(app_ctx.stigg())
        reconciler, source_info = None, None
        if reconcile:
            auth0 = clients.enter_context(app_ctx.auth0())
            reconciler, source_info = prepare_reconciliation(
                app_ctx.out, auth0, selected, export_threshold
            )
        items: Iterable[Customer | str] = selected or stigg.iter_customers(page_size=page_size)
        with CustomerProgress(app_ctx.out, stigg, len(selected) or None) as advance:
            rows = _advancing(
                report_rows(stigg, items, feature_id, concurrency, reconciler), advance
            )
            if fmt is ReportFormat.CSV:
                write_csv(rows, sys.stdout, reconcile=reconcile, totals=totals)
            else:
                for row in rows:
                    totals.add(row)
                    collected.append(row)
    # Printed once the progress bar is gone, so the two never share the terminal.
    if fmt is ReportFormat.JSON:
        from stiggctl.output import dumps

        payload = report_payload(collected, totals, feature_id, source_info)
        sys.stdout.write(dumps({"data": payload}) + "\n")
        sys.stdout.flush()
    elif fmt is ReportFormat.TABLE:
        app_ctx.out.result(
            None, lambda console: print_table(console, collected, totals, feature_id, reconcile)
        )
    if fail_over and totals.alerting:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


def _resolve_format(json_flag: bool, requested: ReportFormat | None) -> ReportFormat:
    from stiggctl.errors import ErrorCode, StiggctlError

    if json_flag and requested not in (None, ReportFormat.JSON):
        raise StiggctlError(
            ErrorCode.USAGE_ERROR,
            f"--json and --format {requested.value} ask for two different outputs.",
            "Use one of them.",
        )
    if json_flag:
        return ReportFormat.JSON
    return requested or ReportFormat.TABLE


# -- rows ------------------------------------------------------------------------------------


def report_rows(
    stigg: StiggClient,
    customers: Iterable[Customer | str],
    feature_id: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    reconciler: Reconciler | None = None,
) -> Iterator[UsageRow]:
    """One row per customer, in input order, `concurrency` customers at a time.

    A customer given by id is read first. The customers are taken lazily (a bounded window
    ahead of the rows), so a row can be written before the last customer is even fetched.
    """
    from stiggctl.clients.concurrency import map_concurrent
    from stiggctl.core.mau import usage_row

    def row_of(item: Customer | str) -> UsageRow:
        customer = _customer(stigg, item) if isinstance(item, str) else item
        row = usage_row(customer, stigg.get_entitlements(customer.customer_id), feature_id)
        return row if reconciler is None else row.with_reconciliation(reconciler(row))

    return map_concurrent(row_of, customers, max_workers=concurrency)


def _customer(stigg: StiggClient, customer_id: str) -> Customer:
    from stiggctl.errors import ErrorCode, StiggctlError

    customer = stigg.get_customer(customer_id)
    if customer is None:
        raise StiggctlError(
            ErrorCode.NOT_FOUND,
            f"Stigg has no customer {customer_id!r}.",
            "Organizations are customers under their Auth0 organization id (org_...), "
            "individuals under their Auth0 user id; `stiggctl mau report` lists them all.",
        )
    return customer


def _advancing(rows: Iterable[UsageRow], advance: Callable[[], None]) -> Iterator[UsageRow]:
    for row in rows:
        advance()
        yield row


# -- output ----------------------------------------------------------------------------------


def write_csv(
    rows: Iterable[UsageRow], stream: Any, *, reconcile: bool, totals: ReportTotals
) -> None:
    """The header at once, then each row as soon as it is known (flushed: a pipe sees it)."""
    import csv

    from stiggctl.core.mau import csv_header, csv_record

    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(csv_header(reconcile))
    stream.flush()
    for row in rows:
        totals.add(row)
        writer.writerow(csv_record(row, reconcile))
        stream.flush()


def report_payload(
    rows: Sequence[UsageRow],
    totals: ReportTotals,
    feature_id: str,
    source_info: dict[str, Any] | None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "feature": feature_id,
        "period": totals.period_dict(),
        "customers": [row.to_dict() for row in rows],
        "totals": totals.to_dict(reconcile=source_info is not None),
    }
    if source_info is not None:
        payload["reconciliation"] = source_info
    return payload


_STATUS_STYLES = {
    "ok": "green",
    "near": "yellow",
    "at_limit": "red",
    "over": "bold red",
    "no_entitlement": "dim",
    "no_subscription": "dim",
}


def print_table(
    console: Console,
    rows: Sequence[UsageRow],
    totals: ReportTotals,
    feature_id: str,
    reconcile: bool,
) -> None:
    """The report for a person: the fullest customers first, then the totals and period."""
    from rich.table import Table
    from rich.text import Text

    from stiggctl.core.mau import table_order, usage_bar

    if not rows:
        console.print("No customers.")
        return
    table = Table(
        title=f"Active users ({feature_id})",
        title_justify="left",
        box=None,
        header_style="bold underline",
        pad_edge=False,
    )
    # Only names may wrap: the figures keep their width on a narrow terminal.
    table.add_column("Customer", overflow="fold", min_width=16)
    table.add_column("Plan", overflow="fold", min_width=9)
    table.add_column("Active", justify="right", no_wrap=True)
    table.add_column("Use", no_wrap=True)
    table.add_column("Period end", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    if reconcile:
        table.add_column("Auth0", justify="right", no_wrap=True)
        table.add_column("Diff", justify="right", no_wrap=True)
        table.add_column("Check", no_wrap=True)
    for row in table_order(rows):
        customer = Text(row.customer_id)
        if row.name:
            customer.append(f"\n{row.name}", style="dim")
        percent = row.use_percent
        cells = [
            customer,
            Text(row.plan or "-"),
            Text(_active_of_limit(row)),
            Text("" if percent is None else f"{usage_bar(percent, TABLE_BAR_WIDTH)} {percent:g}%"),
            Text(row.period_end.strftime("%Y-%m-%d") if row.period_end else "-"),
            Text(row.status.value, style=_STATUS_STYLES[row.status.value]),
        ]
        if reconcile:
            cells += _reconciliation_cells(row.reconciliation)
        table.add_row(*cells)
    console.print(table)
    console.print(Text(totals.summary(reconcile)))
    period = totals.period_dict()
    if period["end"]:
        span = "Period" if period["same_for_all"] else "Periods span"
        console.print(Text(f"{span}: {period['start'] or '?'} to {period['end']}", style="dim"))


def _active_of_limit(row: UsageRow) -> str:
    from stiggctl.core.mau import LimitKind

    if row.active_users is None:
        return "-"
    if row.limit_kind is LimitKind.UNLIMITED or row.limit is None:
        return f"{_count(row.active_users)} / unlimited"
    soft = " soft" if row.limit_kind is LimitKind.SOFT else ""
    return f"{_count(row.active_users)} / {_count(row.limit)}{soft}"


def _reconciliation_cells(reconciliation: Reconciliation | None) -> list[Any]:
    from rich.text import Text

    if reconciliation is None:
        return [Text("-"), Text(""), Text("-")]
    difference = reconciliation.difference
    check = Text(
        reconciliation.status.value,
        style="green" if reconciliation.status.value == "match" else "bold red",
    )
    return [
        Text(str(reconciliation.auth0_count)),
        Text("" if difference is None else f"{difference:+g}"),
        check,
    ]


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class CustomerProgress:
    """Customers processed (of the total, when known) on stderr, only for a person."""

    def __init__(self, out: Output, stigg: StiggClient, total: int | None) -> None:
        self._out = out
        self._stigg = stigg
        self._total = total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[], None]:
        if self._out.json_mode or not self._out.err.is_terminal:
            return lambda: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        total = self._total if self._total is not None else _customer_total(self._stigg)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("Customers"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._out.err,
            transient=True,
            # Rows go to stdout themselves; rich would otherwise reroute stdout to stderr.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("customers", total=total)
        return lambda: self._progress.advance(self._task)

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _customer_total(stigg: StiggClient) -> int | None:
    """Stigg's count of customers: one single-item page, asked only to size the progress bar."""
    from stiggctl.clients import stigg_operations as ops

    data = stigg.execute(
        ops.CUSTOMERS, {"paging": {"first": 1}}, operation_name="Customers", idempotent=True
    )
    total = (data.get("customers") or {}).get("totalCount")
    return int(total) if isinstance(total, int | float) else None


# -- reconciliation --------------------------------------------------------------------------


def prepare_reconciliation(
    out: Output, auth0: Auth0Client, customer_ids: Sequence[str], export_threshold: int
) -> tuple[Reconciler, dict[str, Any]]:
    """Choose how to read Auth0 by the number of users involved, and get ready to compare.

    Involved: with `--customer`, the individuals named plus the members of the organizations
    named (counted by paging them, stopping past the threshold); else every user of the
    tenant (one request asks Auth0 for the total). Over the threshold: one export job.
    """
    from stiggctl.core.action_settings import ActionSettings
    from stiggctl.core.mau import ReconcileSource

    template = ActionSettings.last_login_key
    involved, members = _involved_users(auth0, customer_ids, export_threshold)
    if involved is None or involved > export_threshold:
        why = "unknown" if involved is None else f"{involved:,} > {export_threshold:,}"
        _verbose(out, f"Reconciling with Auth0 through a users export job ({why} users).")
        index = read_users_export(out, auth0, template)
        info = {"source": ReconcileSource.EXPORT.value, "auth0_users": index.users}
        return index.reconcile, info
    _verbose(
        out,
        f"Reconciling with Auth0 member by member ({involved:,} <= {export_threshold:,} users): "
        "organization members, then one request per user.",
    )
    info = {"source": ReconcileSource.MEMBERS.value, "auth0_users": involved}
    return MemberReconciler(auth0, template, members), info


def _involved_users(
    auth0: Auth0Client, customer_ids: Sequence[str], threshold: int
) -> tuple[int | None, dict[str, list[str]]]:
    """How many users the comparison reads (None: unknown), and the members already paged."""
    from stiggctl.core.mau import CustomerKind, customer_kind
    from stiggctl.errors import ErrorCode, StiggctlError

    if not customer_ids:
        listing = auth0.list_users(per_page=1)
        next(iter(listing), None)
        return listing.total, {}
    kinds = {cid: customer_kind(cid) for cid in customer_ids}
    involved = sum(1 for kind in kinds.values() if kind is CustomerKind.INDIVIDUAL)
    members: dict[str, list[str]] = {}
    organization_ids = [cid for cid, kind in kinds.items() if kind is CustomerKind.ORGANIZATION]
    for organization_id in organization_ids:
        user_ids: list[str] = []
        try:
            for member in auth0.iter_organization_members(organization_id, take=MEMBERS_PAGE_SIZE):
                user_ids.append(member.user_id)
                involved += 1
                if involved > threshold:
                    return involved, {}
        except StiggctlError as error:
            if error.code is not ErrorCode.NOT_FOUND:
                raise
            continue  # the reconciler reports the missing organization
        members[organization_id] = user_ids
    return involved, members


def read_users_export(out: Output, auth0: Auth0Client, template: str) -> ExportIndex:
    """Run one users export job (user_id and app_metadata) and index it while streaming it."""
    from stiggctl.core.mau import ExportIndex

    index = ExportIndex(template)
    job = auth0.create_users_export(fields=EXPORT_FIELDS)
    with out.status(f"Auth0 users export {job.id}: {job.status}") as show:

        def on_progress(current: Any) -> None:
            done = getattr(current, "percentage_done", None)
            suffix = f" ({done}%)" if done is not None else ""
            show(f"Auth0 users export {job.id}: {current.status}{suffix}")

        done = auth0.wait_for_job(
            job.id,
            poll_interval=EXPORT_POLL_SECONDS,
            timeout=EXPORT_TIMEOUT_SECONDS,
            on_progress=on_progress,
        )
        if not done.location:
            from stiggctl.errors import ErrorCode, StiggctlError

            raise StiggctlError(
                ErrorCode.API_ERROR,
                f"Auth0: export job {job.id} completed without a file location.",
                "Run the report again.",
            )
        for user in auth0.iter_export_users(done.location):
            index.add(user.user_id, user.app_metadata)
            if index.users % 1000 == 0:
                show(f"Reading the Auth0 users export: {index.users:,} users")
    return index


class MemberReconciler:
    """Small tenants: each organization's members (checkpoint paging), then one GET per user.

    A user's login records are fetched once and shared by every organization it belongs to;
    the cache stays below the export threshold, since past it the export is used instead.
    """

    def __init__(
        self, auth0: Auth0Client, template: str, members: dict[str, list[str]] | None = None
    ) -> None:
        import threading

        self._auth0 = auth0
        self._template = template
        self._members = dict(members or {})
        self._records: dict[str, dict[str, float] | None] = {}
        self._lock = threading.Lock()

    def __call__(self, row: UsageRow) -> Reconciliation | None:
        from stiggctl.core.mau import (
            CustomerKind,
            ReconcileSource,
            counted_in,
            reconcile_active_users,
            reconcile_user_exists,
        )
        from stiggctl.errors import ErrorCode, StiggctlError

        source = ReconcileSource.MEMBERS
        if row.kind is CustomerKind.INDIVIDUAL:
            exists = self._login_records(row.customer_id) is not None
            return reconcile_user_exists(row, exists, source)
        window = row.counting_window_ms()
        if window is None:
            return None
        try:
            member_ids = self._member_ids(row.customer_id)
        except StiggctlError as error:
            if error.code is not ErrorCode.NOT_FOUND:
                raise
            return reconcile_active_users(row, 0, source, "no such Auth0 organization")
        count = 0
        for user_id in member_ids:
            records = self._login_records(user_id) or {}
            moment = records.get(row.customer_id)
            if moment is not None and counted_in(moment, window):
                count += 1
        return reconcile_active_users(row, count, source)

    def _member_ids(self, organization_id: str) -> list[str]:
        if organization_id in self._members:
            return self._members[organization_id]
        return [
            m.user_id
            for m in self._auth0.iter_organization_members(organization_id, take=MEMBERS_PAGE_SIZE)
        ]

    def _login_records(self, user_id: str) -> dict[str, float] | None:
        """The user's login records by organization; None when Auth0 has no such user."""
        from stiggctl.core.mau import login_records
        from stiggctl.errors import ErrorCode, StiggctlError

        with self._lock:
            if user_id in self._records:
                return self._records[user_id]
        try:
            user = self._auth0.get_user(user_id)
        except StiggctlError as error:
            if error.code is not ErrorCode.NOT_FOUND:
                raise
            records = None
        else:
            records = dict(login_records(user.app_metadata, self._template))
        with self._lock:
            self._records[user_id] = records
        return records


def _verbose(out: Output, message: str) -> None:
    if out.verbose:
        out.note(message)
