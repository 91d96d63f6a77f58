"""Stigg GraphQL client (sync, httpx), safe to share across threads.

The documents live in `stigg_operations.py`. GraphQL reports most failures with HTTP 200 and
an `errors` list; both those and HTTP errors come out as `StiggctlError`s of the error
vocabulary. A bad API key is an authentication error (exit 4) whatever shape Stigg gives it:
HTTP 401/403 (Stigg's documented answer), or an error coded `Unauthenticated` (what Stigg's
Node SDK checks), `UNAUTHENTICATED`, `ApiKeyNotFound`, `ApiKeyExpired`, or a message saying
the key is invalid. The API key never appears in an exception, a repr or a log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import httpx

from stiggctl.clients import stigg_operations as ops
from stiggctl.clients.common import ModelT, http_client, json_or_none, parse_model
from stiggctl.clients.retry import RetryPolicy
from stiggctl.clients.stigg_models import (
    Customer,
    Entitlement,
    Feature,
    Plan,
    Product,
    ProvisionResult,
    Subscription,
    UsageHistory,
    UsageMeasurement,
)
from stiggctl.errors import ErrorCode, StiggctlError, from_exception, from_http_status

SERVICE = "Stigg"
API_KEY_SETTING = "STIGGCTL_STIGG_API_KEY"
_API_KEY_HINT = (
    f"Check the Stigg server API key ({API_KEY_SETTING}, or `stiggctl setup`): it must be a "
    "server key (server-...) of the environment, not a publishable client key."
)
_AUTHENTICATION_CODES = frozenset({"UNAUTHENTICATED", "APIKEYNOTFOUND", "APIKEYEXPIRED"})
_PERMISSION_CODES = frozenset(
    {"FORBIDDEN", "IDENTITYFORBIDDEN", "ACCESSDENIEDERROR", "AUTHCUSTOMERREADONLY"}
)
_INPUT_CODES = frozenset({"BADUSERINPUT", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"})
_INVALID_KEY_PHRASES = ("invalid api key", "api key not found", "api key expired")


class StiggClient:
    """The Stigg operations stiggctl needs, typed, retried and mapped to our errors."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.api_url = api_url
        self._api_key = api_key
        self._retry = retry or RetryPolicy()
        self._http = http_client(
            transport=transport,
            timeout=timeout,
            headers={"X-API-KEY": api_key, "X-API-VERSION": "1", "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"StiggClient(api_url={self.api_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StiggClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------

    def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        operation_name: str,
        idempotent: bool,
    ) -> dict[str, Any]:
        """Run one GraphQL document; its `data`, or a `StiggctlError`.

        `idempotent` says whether a try that may have reached Stigg can be sent again.
        """
        body = {
            "query": document,
            "variables": dict(variables or {}),
            "operationName": operation_name,
        }
        request = self._http.build_request("POST", self.api_url, json=body)
        try:
            response = self._retry.send(
                lambda: self._http.send(request),
                method="POST",
                idempotent=idempotent,
                service=SERVICE,
            )
        except httpx.TransportError as exc:
            raise from_exception(exc, service=SERVICE) from exc
        payload = json_or_none(response)
        errors = payload.get("errors") if isinstance(payload, dict) else None
        status = response.status_code
        # GraphQL errors explain a 200 or a 400 (invalid document); the HTTP status says more
        # for a rejected key, a rate limit or a server failure.
        if response.is_error and (status in (401, 403, 429) or status >= 500 or not errors):
            raise self._http_error(response, errors, operation_name)
        if errors:
            raise self._graphql_error(errors, operation_name, response.status_code)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise StiggctlError(
                ErrorCode.API_ERROR,
                f"Stigg: {operation_name} answered without data.",
                "Check that the Stigg API URL points at the GraphQL endpoint.",
                status=response.status_code,
            )
        return data

    def _http_error(
        self, response: httpx.Response, errors: Any, operation_name: str
    ) -> StiggctlError:
        status = response.status_code
        message = _first_message(errors) or response.reason_phrase or f"HTTP {status}"
        message = self._redact(message)
        details = {"operation": operation_name}
        if status == 401:
            return from_http_status(
                status,
                f"the API key was rejected ({message})",
                service=SERVICE,
                hint=_API_KEY_HINT,
                details=details,
            )
        if status == 403:
            # A valid scoped key without the permission, or a key of the wrong kind.
            return from_http_status(
                status,
                f"the API key may not run {operation_name} ({message})",
                service=SERVICE,
                hint=_API_KEY_HINT,
                details=details,
            )
        return from_http_status(status, message, service=SERVICE, details=details)

    def _graphql_error(self, errors: Any, operation_name: str, status: int) -> StiggctlError:
        first = errors[0] if isinstance(errors, list) and errors else {}
        first = first if isinstance(first, dict) else {}
        code = _error_code(first)
        message = self._redact("; ".join(_messages(errors)) or "unknown error")
        normalized = (code or "").upper()
        lowered = message.lower()
        details: dict[str, Any] = {"operation": operation_name}
        if code:
            details["graphql_code"] = code
        hint: str | None = None
        if normalized in _AUTHENTICATION_CODES or any(p in lowered for p in _INVALID_KEY_PHRASES):
            error_code, hint = ErrorCode.AUTHENTICATION_FAILED, _API_KEY_HINT
        elif normalized in _PERMISSION_CODES:
            error_code, hint = ErrorCode.PERMISSION_DENIED, _API_KEY_HINT
        elif normalized == "DUPLICATEDENTITYNOTALLOWED" or "duplicate" in lowered:
            error_code = ErrorCode.CONFLICT
        elif normalized.endswith(("NOTFOUND", "NOTFOUNDERROR", "NOT_FOUND")):
            error_code = ErrorCode.NOT_FOUND
        elif normalized == "RATELIMITEXCEEDED":
            error_code = ErrorCode.RATE_LIMITED
            hint = "Stigg rate limit reached; try again in a moment."
        elif normalized in _INPUT_CODES:
            error_code = ErrorCode.INVALID_INPUT
        else:
            error_code = ErrorCode.API_ERROR
        return StiggctlError(error_code, f"Stigg: {message}", hint, status=status, details=details)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _connection_nodes(
        self,
        document: str,
        field: str,
        variables: Mapping[str, Any],
        *,
        operation_name: str,
        page_size: int,
    ) -> Iterator[dict[str, Any]]:
        """Nodes of a cursor-paged connection, streamed page by page."""
        after: str | None = None
        while True:
            paging: dict[str, Any] = {"first": page_size}
            if after:
                paging["after"] = after
            data = self.execute(
                document,
                {**variables, "paging": paging},
                operation_name=operation_name,
                idempotent=True,
            )
            connection = data.get(field) or {}
            edges = connection.get("edges") or []
            for edge in edges:
                yield edge["node"]
            page_info = connection.get("pageInfo") or {}
            after = page_info.get("endCursor")
            if not edges or not page_info.get("hasNextPage") or not after:
                return

    # -- customers ---------------------------------------------------------------------

    def provision_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        plan_id: str | None = None,
        billing_period: Literal["MONTHLY", "ANNUALLY"] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ProvisionResult:
        """Create the customer (on `plan_id` when given); an existing one is not an error."""
        customer_input: dict[str, Any] = {"customerId": customer_id}
        if name is not None:
            customer_input["name"] = name
        if email is not None:
            customer_input["email"] = email
        if metadata is not None:
            customer_input["additionalMetaData"] = dict(metadata)
        if plan_id is not None:
            subscription: dict[str, Any] = {"planId": plan_id}
            if billing_period is not None:
                subscription["billingPeriod"] = billing_period
            customer_input["subscriptionParams"] = subscription
        try:
            data = self.execute(
                ops.PROVISION_CUSTOMER,
                {"input": customer_input},
                operation_name="ProvisionCustomer",
                idempotent=False,
            )
        except StiggctlError as error:
            if error.code is ErrorCode.CONFLICT:
                return ProvisionResult(customer_id=customer_id, created=False)
            raise
        provisioned = data.get("provisionCustomer") or {}
        subscription_data = provisioned.get("subscription")
        return ProvisionResult(
            customer_id=customer_id,
            created=True,
            customer=_parse(Customer, provisioned.get("customer")),
            subscription=_parse(Subscription, subscription_data) if subscription_data else None,
            decision_strategy=provisioned.get("subscriptionDecisionStrategy"),
        )

    def get_customer(self, customer_id: str) -> Customer | None:
        """The customer, or None when Stigg has no customer with that id."""
        try:
            data = self.execute(
                ops.GET_CUSTOMER_BY_REF_ID,
                {"input": {"customerId": customer_id}},
                operation_name="GetCustomerByRefId",
                idempotent=True,
            )
        except StiggctlError as error:
            if error.code is ErrorCode.NOT_FOUND:
                return None
            raise
        found = data.get("getCustomerByRefId")
        return _parse(Customer, found) if found else None

    def iter_customers(self, *, page_size: int = 100) -> Iterator[Customer]:
        for node in self._connection_nodes(
            ops.CUSTOMERS, "customers", {}, operation_name="Customers", page_size=page_size
        ):
            yield _parse(Customer, node)

    # -- entitlements and usage --------------------------------------------------------

    def get_entitlement(
        self, customer_id: str, feature_id: str, *, requested_usage: float = 1
    ) -> Entitlement:
        query = {
            "customerId": customer_id,
            "featureId": feature_id,
            "options": {"requestedUsage": requested_usage},
        }
        data = self.execute(
            ops.ENTITLEMENT, {"query": query}, operation_name="Entitlement", idempotent=True
        )
        return _parse(Entitlement, data.get("entitlement"))

    def get_entitlements(self, customer_id: str) -> list[Entitlement]:
        """All of a customer's entitlements (Stigg's cached view)."""
        data = self.execute(
            ops.CACHED_ENTITLEMENTS,
            {"query": {"customerId": customer_id}},
            operation_name="CachedEntitlements",
            idempotent=True,
        )
        return [_parse(Entitlement, e) for e in data.get("cachedEntitlements") or []]

    def report_event(
        self,
        customer_id: str,
        event_name: str,
        *,
        idempotency_key: str,
        dimensions: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        """Report one raw usage event; Stigg drops repeats of `idempotency_key` for 7 days."""
        event: dict[str, Any] = {
            "customerId": customer_id,
            "eventName": event_name,
            "idempotencyKey": idempotency_key,
            "dimensions": dict(dimensions or {}),
        }
        if timestamp is not None:
            event["timestamp"] = _iso(timestamp)
        # The idempotency key makes a repeated send harmless.
        self.execute(
            ops.REPORT_EVENT,
            {"events": {"usageEvents": [event]}},
            operation_name="ReportEvent",
            idempotent=True,
        )

    def report_usage(
        self,
        customer_id: str,
        feature_id: str,
        value: float,
        *,
        update_behavior: Literal["DELTA", "SET"] = "DELTA",
        idempotency_key: str | None = None,
    ) -> UsageMeasurement:
        """Report calculated usage (add `value`, or set the usage to it)."""
        usage: dict[str, Any] = {
            "customerId": customer_id,
            "featureId": feature_id,
            "value": value,
            "updateBehavior": update_behavior,
        }
        if idempotency_key is not None:
            usage["idempotencyKey"] = idempotency_key
        data = self.execute(
            ops.REPORT_USAGE,
            {"input": usage},
            operation_name="ReportUsage",
            idempotent=update_behavior == "SET" or idempotency_key is not None,
        )
        return _parse(UsageMeasurement, data.get("reportUsage"))

    def usage_history(
        self,
        customer_id: str,
        feature_id: str,
        *,
        start: datetime,
        end: datetime | None = None,
        group_by: Sequence[str] | None = None,
    ) -> UsageHistory:
        history_input: dict[str, Any] = {
            "customerId": customer_id,
            "featureId": feature_id,
            "startDate": _iso(start),
        }
        if end is not None:
            history_input["endDate"] = _iso(end)
        if group_by:
            history_input["groupBy"] = list(group_by)
        data = self.execute(
            ops.USAGE_HISTORY,
            {"input": history_input},
            operation_name="UsageHistory",
            idempotent=True,
        )
        return _parse(UsageHistory, data.get("usageHistoryV2"))

    # -- catalogue ---------------------------------------------------------------------

    def environment_id(self) -> str:
        """The environment of the API key, read from any product, plan, feature or customer."""
        data = self.execute(ops.ENVIRONMENT_ID, operation_name="EnvironmentId", idempotent=True)
        for field in ("products", "plans", "features", "customers"):
            for edge in (data.get(field) or {}).get("edges") or []:
                environment = edge["node"].get("environmentId")
                if environment:
                    return str(environment)
        raise StiggctlError(
            ErrorCode.NOT_FOUND,
            "Stigg: the environment has no product, plan, feature or customer to read its id from.",
            "Create the product and its plans in the Stigg app first.",
        )

    def find_feature(self, ref_id: str) -> Feature | None:
        data = self.execute(
            ops.FEATURES,
            {"filter": {"refId": {"eq": ref_id}}, "paging": {"first": 1}},
            operation_name="Features",
            idempotent=True,
        )
        edges = (data.get("features") or {}).get("edges") or []
        return _parse(Feature, edges[0]["node"]) if edges else None

    def create_feature(
        self,
        *,
        ref_id: str,
        display_name: str,
        environment_id: str | None = None,
        feature_type: Literal["BOOLEAN", "NUMBER", "ENUM"] = "NUMBER",
        meter_type: Literal["None", "Fluctuating", "Incremental"] | None = "Incremental",
        units: str | None = None,
        units_plural: str | None = None,
        description: str | None = None,
        meter: Mapping[str, Any] | None = None,
    ) -> Feature:
        """Create a feature; the environment is read from the catalogue when not given."""
        feature_input: dict[str, Any] = {
            "refId": ref_id,
            "displayName": display_name,
            "featureType": feature_type,
            "environmentId": environment_id or self.environment_id(),
        }
        optional = {
            "meterType": meter_type,
            "featureUnits": units,
            "featureUnitsPlural": units_plural,
            "description": description,
            "meter": dict(meter) if meter is not None else None,
        }
        feature_input.update({k: v for k, v in optional.items() if v is not None})
        data = self.execute(
            ops.CREATE_FEATURE,
            {"input": feature_input},
            operation_name="CreateFeature",
            idempotent=False,
        )
        return _parse(Feature, data.get("createFeature"))

    def list_products(self, *, page_size: int = 50) -> list[Product]:
        return [
            _parse(Product, node)
            for node in self._connection_nodes(
                ops.PRODUCTS, "products", {}, operation_name="Products", page_size=page_size
            )
        ]

    def list_plans(self, *, product_ref_id: str | None = None, page_size: int = 50) -> list[Plan]:
        """The published, latest version of every plan, with their usage limits."""
        plan_filter: dict[str, Any] = {"status": {"eq": "PUBLISHED"}, "isLatest": {"is": True}}
        if product_ref_id is not None:
            plan_filter["product"] = {"refId": {"eq": product_ref_id}}
        return [
            _parse(Plan, node)
            for node in self._connection_nodes(
                ops.PLANS,
                "plans",
                {"filter": plan_filter},
                operation_name="Plans",
                page_size=page_size,
            )
        ]


def unique_count_meter(event_name: str, field: str) -> dict[str, Any]:
    """A meter counting each distinct `field` value once among events named `event_name`.

    This is how an "Active Users" feature counts each user once per usage period.
    """
    return {
        "aggregation": {"function": "UNIQUE", "field": field},
        "filters": [
            {"conditions": [{"field": "eventName", "operation": "EQUALS", "value": event_name}]}
        ],
    }


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.isoformat().replace("+00:00", "Z")


def _error_code(error: Mapping[str, Any]) -> str | None:
    extensions = error.get("extensions") or {}
    for candidate in (extensions.get("code"), extensions.get("errorCode"), error.get("code")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _messages(errors: Any) -> list[str]:
    if not isinstance(errors, list):
        return []
    return [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]


def _first_message(errors: Any) -> str | None:
    messages = _messages(errors)
    return messages[0] if messages else None


def _parse(model: type[ModelT], payload: Any) -> ModelT:
    return parse_model(
        model,
        payload,
        service="Stigg",
        hint="Check that the Stigg API URL is Stigg's GraphQL endpoint.",
    )
