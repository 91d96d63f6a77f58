"""Login path: network calls, sequential round trips and wall time of the post-login Action,
side by side with a baseline that calls Stigg and Auth0 the way Stigg's earlier public action
did (bench/baseline_action.js), in the sandbox with latency added to every vendor request.

Targets: a returning user counted this period costs 0 calls; a new active user at most 2
sequential round trips; the first login of a new organization at most 3; over a mix of 90%
returning and 10% new users, the Action's total wall time at most 20% of the baseline's.

    python bench/login_path.py [--latency-ms 25] [--logins 50] [--samples 3] [--markdown]

Each contender runs in a sandbox of its own with the same tenant, and their logins alternate,
so a noisy moment hurts both alike. Calls and round trips are observed on the sandbox's side:
every vendor request's interval runs from its arrival to its answer, and a call's round trip
is one more than the longest chain of calls answered before it arrived. Concurrent calls
overlap there only while the added latency exceeds the gap between their arrivals: at 2 ms
or less, round trips can read high (at 0 ms, concurrent calls look sequential).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stiggctl.core.action_settings import M2M_TOKEN_CACHE_KEY, ActionSettings, Mode
from stiggctl.core.render import render_action
from stiggctl.sandbox.auth0.seed import BUSINESS_APP_ID
from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.faults import FaultPlan, FaultRule
from stiggctl.sandbox.server import SandboxOptions, SandboxServer
from stiggctl.sandbox.stigg.emulator import ACTIVE_USERS_FEATURE_ID

BASELINE_CODE_PATH = Path(__file__).with_name("baseline_action.js")
OURS = "stiggctl Action"
BASELINE = "earlier action (baseline)"
# Mid-month, so that no run crosses the end of a monthly usage period.
SANDBOX_EPOCH = 1_749_988_800.0  # 2025-06-15T12:00:00Z
NEW_USER_SHARE = 0.1
MIX_TARGET_RATIO = 0.2
# Each returning user of the mix logs in about this many times.
LOGINS_PER_RETURNING_USER = 5
FREE_PLAN_LIMIT = 3  # plan-free's Active Users limit in the demo seed


class BenchmarkError(Exception):
    """A contender did not behave as the scenario requires: its figures would mean nothing."""


# Observing calls --------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservedCall:
    method: str
    path: str
    arrived: float  # perf_counter seconds
    answered: float


def sequential_round_trips(calls: list[ObservedCall]) -> int:
    """The longest chain of calls each of which arrived after the previous one was answered:
    calls that overlap in time share a round trip."""
    depth: dict[int, int] = {}
    ordered = sorted(calls, key=lambda call: call.arrived)
    for index, call in enumerate(ordered):
        before = [
            depth[i] for i, other in enumerate(ordered[:index]) if other.answered < call.arrived
        ]
        depth[index] = 1 + max(before, default=0)
    return max(depth.values(), default=0)


class CallTimeline:
    """Every vendor request a sandbox answers, with its arrival and answer times (the
    sandbox records both for each request; control paths are not recorded)."""

    def __init__(self, server: SandboxServer) -> None:
        self._requests = server.sandbox.requests
        self._requests.clear()

    def take(self) -> list[ObservedCall]:
        taken = []
        while self._requests:
            entry = self._requests.popleft()
            taken.append(
                ObservedCall(entry["method"], entry["path"], entry["arrived"], entry["answered"])
            )
        return taken


# The contenders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """One login by one contender, as observed."""

    allowed: bool
    calls: int
    round_trips: int
    wall_ms: float  # the Action's handler, measured inside Node
    reason: str | None  # from the stiggctl Action's log line; the baseline logs none


@dataclass
class Contender:
    label: str
    server: SandboxServer
    timeline: CallTimeline
    org_ids: dict[str, str] = field(default_factory=dict)

    def login(self, user_id: str, org: str) -> Login:
        self.timeline.take()  # nothing from before this login
        result = self.server.sandbox.login(
            user_id, org_id=self.org_ids[org], client_id=BUSINESS_APP_ID
        )
        # The demo seed's unrelated action runs first: only this contender's entry counts.
        run = next(a for a in result["actions"] if a["name"] == self.label)
        if run["status"] not in ("ok", "denied"):
            raise BenchmarkError(f"{self.label}, {user_id}: {run['status']}: {run['error']}")
        calls = self.timeline.take()
        if len(calls) != len(run["http_calls"]):
            raise BenchmarkError(
                f"{self.label}, {user_id}: the sandbox answered {len(calls)} requests, "
                f"the Action made {len(run['http_calls'])}"
            )
        reason, logged_calls = parse_log_line(run["console"])
        if logged_calls is not None and logged_calls != len(calls):
            raise BenchmarkError(
                f"{self.label}, {user_id}: the Action logged calls={logged_calls}, "
                f"the sandbox answered {len(calls)}"
            )
        return Login(
            allowed=bool(result["allowed"]),
            calls=len(calls),
            round_trips=sequential_round_trips(calls),
            wall_ms=float(run["duration_ms"]),
            reason=reason,
        )

    def forget_cached_token(self) -> None:
        self.server.sandbox.cache.delete(M2M_TOKEN_CACHE_KEY)

    def active_users(self, org: str) -> list[str]:
        stigg = self.server.sandbox.stigg
        assert stigg is not None
        return sorted(stigg.active_users(self.org_ids[org], ACTIVE_USERS_FEATURE_ID))


def parse_log_line(console: list[str]) -> tuple[str | None, int | None]:
    """Reason and call count from `stiggctl <version> <verdict> <reason> ... calls=<n>`."""
    for line in console:
        words = line.split()
        if len(words) >= 4 and words[0] == "stiggctl":
            calls = next((w.removeprefix("calls=") for w in words if w.startswith("calls=")), None)
            return words[3], int(calls) if calls is not None else None
    return None, None


def our_action(server: SandboxServer) -> tuple[str, dict[str, str]]:
    info = server.info()
    settings = ActionSettings(
        mode=Mode.B2B,
        application_id=BUSINESS_APP_ID,
        b2b_plan_id="plan-pro",
        auth0_domain=server.base_url,
        stigg_api_url=info["stigg"]["api_url"],
    )
    secrets = {
        "STIGG_API_KEY": info["stigg"]["api_key"],
        "AUTH0_M2M_CLIENT_ID": info["auth0"]["client_id"],
        "AUTH0_M2M_CLIENT_SECRET": info["auth0"]["client_secret"],
    }
    return render_action(settings).code, secrets


def baseline_action(server: SandboxServer) -> tuple[str, dict[str, str]]:
    info = server.info()
    # The earlier action's secret names (../shared/reference/stigg.md), plus the API URL.
    secrets = {
        "STIGG_API_KEY": info["stigg"]["api_key"],
        "STIGG_API_URL": info["stigg"]["api_url"],
        "STIGG_BUSINESS_PLAN_ID": "plan-pro",
        "STIGG_ACTIVE_USERS_FEATURE_ID": ACTIVE_USERS_FEATURE_ID,
        "DOMAIN": server.base_url,
        "CLIENT_ID": info["auth0"]["client_id"],
        "CLIENT_SECRET": info["auth0"]["client_secret"],
    }
    return BASELINE_CODE_PATH.read_text(encoding="utf-8"), secrets


# The tenant -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    """Who logs in, in which organization. The same in both contenders' sandboxes."""

    samples: int
    mix: list[tuple[str, bool]]  # (user id, is a new active user), in login order
    returning_pool: list[str]

    @classmethod
    def build(cls, samples: int, logins: int, seed: int) -> Cast:
        new = max(1, round(logins * NEW_USER_SHARE))
        returning = logins - new
        pool = [
            f"auth0|bench-member-{i}"
            for i in range(max(1, math.ceil(returning / LOGINS_PER_RETURNING_USER)))
        ]
        mix = [(f"auth0|bench-joiner-{i}", True) for i in range(new)]
        mix += [(pool[i % len(pool)], False) for i in range(returning)]
        random.Random(seed).shuffle(mix)
        return cls(samples=samples, mix=mix, returning_pool=pool)

    def users(self, role: str) -> list[str]:
        return [f"auth0|bench-{role}-{i}" for i in range(self.samples)]

    def founder(self, org: str) -> str:
        return f"auth0|bench-founder-{org}"

    def new_orgs(self) -> list[str]:
        return [f"bench-new-{i}" for i in range(self.samples)]


def seed_tenant(contender: Contender, cast: Cast) -> None:
    """Organizations and users on top of the demo seed:
    - bench-team: provisioned, on plan-enterprise (unlimited), so nobody is denied;
    - bench-full: provisioned, on plan-free with its limit already reached;
    - bench-warmup and bench-new-*: not provisioned yet, one founder each."""
    sandbox = contender.server.sandbox
    auth0, stigg = sandbox.auth0, sandbox.stigg
    assert stigg is not None

    def add_org(name: str, plan: str | None) -> str:
        metadata = {"customer_provisioned": "true"} if plan else {}
        org_id = auth0.add_org(name, name.title(), metadata=metadata)["id"]
        contender.org_ids[name] = org_id
        if plan:
            stigg.add_customer(org_id, name=name.title(), plan_ref_id=plan)
        return org_id

    def add_users(org_id: str, user_ids: list[str]) -> None:
        for user_id in user_ids:
            auth0.add_user(user_id, email=f"{user_id.split('|')[1]}@example.com")
            auth0.add_member(org_id, user_id)

    team = add_org("bench-team", "plan-enterprise")
    joiners = [user for user, new in cast.mix if new]
    add_users(team, cast.users("regular") + cast.users("newcomer") + cast.returning_pool + joiners)
    full = add_org("bench-full", "plan-free")
    stigg.record_logins(full, [f"auth0|bench-earlier-{i}" for i in range(FREE_PLAN_LIMIT)])
    add_users(full, cast.users("latecomer"))
    for org in ["bench-warmup", *cast.new_orgs()]:
        add_users(add_org(org, None), [cast.founder(org)])


@contextlib.contextmanager
def contenders(latency_ms: int, cast: Cast) -> Iterator[list[Contender]]:
    origin = time.monotonic()
    clock = Clock(source=lambda: SANDBOX_EPOCH + time.monotonic() - origin)
    with contextlib.ExitStack() as stack:
        started = []
        for label, action in ((OURS, our_action), (BASELINE, baseline_action)):
            latency = FaultPlan(rules=[FaultRule(latency_ms=latency_ms).validate()])
            server = stack.enter_context(
                SandboxServer(SandboxOptions(seed="demo", faults=latency, clock=clock))
            )
            code, secrets = action(server)
            # Bound after the demo seed's unrelated action, as a real tenant would have it.
            server.sandbox.auth0.add_action(label, code, secrets=secrets)
            contender = Contender(label, server, CallTimeline(server))
            seed_tenant(contender, cast)
            started.append(contender)
        yield started


# Scenarios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    calls: int
    round_trips: int
    wall_ms: float


@dataclass(frozen=True)
class Row:
    scenario: str
    ours: Figures
    baseline: Figures
    target: str | None = None
    met: bool | None = None

    @property
    def ratio(self) -> float:
        return self.ours.wall_ms / self.baseline.wall_ms if self.baseline.wall_ms else math.nan


@dataclass(frozen=True)
class Report:
    latency_ms: int
    logins: int
    samples: int
    rows: list[Row]
    active_users: dict[str, int]  # in bench-team after the run, per contender


@dataclass(frozen=True)
class Scenario:
    name: str
    org: Callable[[int], str]  # sample index -> organization
    user: Callable[[Cast, int], str]
    allowed: bool
    reason: str  # the stiggctl Action's logged reason
    target: str | None = None
    meets: Callable[[Figures], bool] | None = None  # judged on the stiggctl Action's figures
    cold_token: bool = False  # no Management API token cached when the login starts


SCENARIOS = (
    Scenario(
        "returning user, counted this period",
        org=lambda i: "bench-team",
        user=lambda cast, i: cast.users("regular")[i],
        allowed=True,
        reason="counted_this_period",
        target="0 calls",
        meets=lambda ours: ours.calls == 0,
    ),
    Scenario(
        "new active user",
        org=lambda i: "bench-team",
        user=lambda cast, i: cast.users("newcomer")[i],
        allowed=True,
        reason="granted",
        target="<= 2 round trips",
        meets=lambda ours: ours.round_trips <= 2,
    ),
    Scenario(
        "first login of a new organization",
        org=lambda i: f"bench-new-{i}",
        user=lambda cast, i: cast.founder(f"bench-new-{i}"),
        allowed=True,
        reason="granted",
        target="<= 3 round trips",
        meets=lambda ours: ours.round_trips <= 3,
        cold_token=True,
    ),
    Scenario(
        "new user over the limit (denied)",
        org=lambda i: "bench-full",
        user=lambda cast, i: cast.users("latecomer")[i],
        allowed=False,
        reason="limit_reached",
    ),
)


def expect(contender: Contender, login: Login, allowed: bool, reason: str, what: str) -> None:
    expected_reason = reason if contender.label == OURS else None
    if (login.allowed, login.reason) != (allowed, expected_reason):
        raise BenchmarkError(
            f"{contender.label}, {what}: allowed={login.allowed} reason={login.reason}, "
            f"expected allowed={allowed} reason={expected_reason}"
        )


def alternating(pair: list[Contender], index: int) -> list[Contender]:
    # Who goes first alternates, so that whatever comes of running right after the other
    # contender's login (a busy CPU, warm caches) falls on both alike.
    return pair if index % 2 == 0 else pair[::-1]


def warm_up(pair: list[Contender], cast: Cast) -> None:
    """Unmeasured logins: each sandbox's first GraphQL, token and organization requests (cold
    code paths in the emulators), and the first, counting login of every returning user."""
    for contender in pair:
        first = contender.login(cast.founder("bench-warmup"), "bench-warmup")
        expect(contender, first, True, "granted", "warm-up")
        for user in cast.users("regular") + cast.returning_pool:
            expect(contender, contender.login(user, "bench-team"), True, "granted", "warm-up")


def summarise(logins: list[Login]) -> Figures:
    """Samples of one scenario: the most calls and round trips seen, the median wall time."""
    return Figures(
        calls=max(login.calls for login in logins),
        round_trips=max(login.round_trips for login in logins),
        wall_ms=statistics.median(login.wall_ms for login in logins),
    )


def run_scenario(pair: list[Contender], cast: Cast, scenario: Scenario) -> Row:
    seen: dict[str, list[Login]] = {c.label: [] for c in pair}
    for index in range(cast.samples):
        for contender in alternating(pair, index):
            if scenario.cold_token:
                contender.forget_cached_token()
            login = contender.login(scenario.user(cast, index), scenario.org(index))
            expect(contender, login, scenario.allowed, scenario.reason, scenario.name)
            seen[contender.label].append(login)
    ours, baseline = summarise(seen[OURS]), summarise(seen[BASELINE])
    met = scenario.meets(ours) if scenario.meets else None
    return Row(scenario.name, ours, baseline, scenario.target, met)


def run_mix(pair: list[Contender], cast: Cast) -> Row:
    seen: dict[str, list[Login]] = {c.label: [] for c in pair}
    for index, (user, new) in enumerate(cast.mix):
        for contender in alternating(pair, index):
            login = contender.login(user, "bench-team")
            expect(contender, login, True, "granted" if new else "counted_this_period", "mix")
            seen[contender.label].append(login)

    def total(logins: list[Login]) -> Figures:
        return Figures(
            calls=sum(login.calls for login in logins),
            round_trips=sum(login.round_trips for login in logins),
            wall_ms=sum(login.wall_ms for login in logins),
        )

    ours, baseline = total(seen[OURS]), total(seen[BASELINE])
    new = sum(1 for _, is_new in cast.mix if is_new)
    return Row(
        f"mix: {len(cast.mix) - new} returning + {new} new logins (totals)",
        ours,
        baseline,
        f"wall <= {MIX_TARGET_RATIO:.0%} of baseline",
        ours.wall_ms <= MIX_TARGET_RATIO * baseline.wall_ms,
    )


def run_benchmark(
    *, latency_ms: int = 25, logins: int = 50, samples: int = 3, seed: int = 0
) -> Report:
    if logins < 10:
        raise ValueError(
            "logins must be at least 10, so that the mix holds returning and new users"
        )
    if samples < 1:
        raise ValueError("samples must be at least 1")
    cast = Cast.build(samples, logins, seed)
    with contenders(latency_ms, cast) as pair:
        warm_up(pair, cast)
        rows = [run_scenario(pair, cast, scenario) for scenario in SCENARIOS]
        rows.append(run_mix(pair, cast))
        counted = {c.label: c.active_users("bench-team") for c in pair}
    if counted[OURS] != counted[BASELINE]:
        raise BenchmarkError(f"The contenders counted different active users: {counted}")
    return Report(
        latency_ms=latency_ms,
        logins=logins,
        samples=samples,
        rows=rows,
        active_users={label: len(users) for label, users in counted.items()},
    )


# Output -----------------------------------------------------------------------------------

GROUPS = (("", 1), (OURS, 3), (BASELINE, 3), ("", 3))
HEADERS = (
    "scenario",
    "calls",
    "round trips",
    "wall ms",
    "calls",
    "round trips",
    "wall ms",
    "ratio",
    "target",
    "verdict",
)
LEFT_ALIGNED = (0, 8, 9)
MARKDOWN_SIDES = ("", "ours", "ours", "ours", "baseline", "baseline", "baseline", "", "", "")


def verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "MISSED")


def cells(row: Row) -> list[str]:
    return [
        row.scenario,
        str(row.ours.calls),
        str(row.ours.round_trips),
        f"{row.ours.wall_ms:.1f}",
        str(row.baseline.calls),
        str(row.baseline.round_trips),
        f"{row.baseline.wall_ms:.1f}",
        f"{row.ratio:.2f}",
        row.target or "",
        verdict(row.met),
    ]


def notes(report: Report) -> list[str]:
    return [
        f"Sandbox with {report.latency_ms} ms added to every Auth0 and Stigg request. "
        f"Per scenario, {report.samples} login(s) each: the median wall time, the most calls "
        "and round trips seen.",
        "Wall: the Action's handler, timed inside Node. Each login runs in a fresh Node "
        "process, so a login's first call includes Node's fetch set-up, for both contenders.",
        "Baseline: the earlier action's calls with plain fetch; its SDKs' start-up cost is "
        "NOT counted. Ratio: stiggctl wall / baseline wall.",
        "First login of a new organization: no Management API token cached (the worst case; "
        "with one cached the stiggctl Action makes one call fewer in the same round trips).",
        f"Active users counted in Stigg (bench-team): {OURS} {report.active_users[OURS]}, "
        f"{BASELINE} {report.active_users[BASELINE]}.",
    ]


def format_table(report: Report) -> str:
    rows = [list(HEADERS), *(cells(row) for row in report.rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    group_line, column = [], 0
    for label, span in GROUPS:
        width = sum(widths[column : column + span]) + 2 * (span - 1)
        group_line.append(f" {label} ".center(width, "-") if label else " " * width)
        column += span
    lines = [
        "  ".join(
            text.ljust(width) if i in LEFT_ALIGNED else text.rjust(width)
            for i, (text, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    return "\n".join(["  ".join(group_line).rstrip(), *lines, "", *notes(report)])


def format_markdown(report: Report) -> str:
    headers = [
        f"{side} {header}" if side else header
        for header, side in zip(HEADERS, MARKDOWN_SIDES, strict=True)
    ]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" if i in LEFT_ALIGNED else "---:" for i in range(len(HEADERS))) + "|",
        *("| " + " | ".join(cells(row)) + " |" for row in report.rows),
    ]
    return "\n".join([*lines, "", *(f"- {note}" for note in notes(report))])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=25, help="added to every request")
    parser.add_argument("--logins", type=int, default=50, help="logins in the 90/10 mix")
    parser.add_argument("--samples", type=int, default=3, help="logins per scenario")
    parser.add_argument("--seed", type=int, default=0, help="order of the mix's logins")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = parser.parse_args(argv)
    try:
        report = run_benchmark(
            latency_ms=args.latency_ms, logins=args.logins, samples=args.samples, seed=args.seed
        )
    except (ValueError, BenchmarkError) as exc:
        parser.exit(1, f"login_path: {exc}\n")
    print(format_markdown(report) if args.markdown else format_table(report))


if __name__ == "__main__":
    main()
