"""The Management API's two ways to page: offset (`page`, `per_page`, `include_totals`) that
stops at the first 1000 records, and checkpoint (`from`, `take`) that goes on with `next`."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from stiggctl.sandbox.auth0.errors import ApiError
from stiggctl.sandbox.auth0.validation import query_bool, query_int, query_violation
from stiggctl.sandbox.http import Request, Response, json_response

T = TypeVar("T")

RECORD_LIMIT = 1000
INVALID_PAGING_MESSAGE = (
    "You can only page through the first 1000 records. "
    "See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation"
)


@dataclass(frozen=True)
class OffsetPage:
    page: int
    per_page: int
    include_totals: bool

    @property
    def start(self) -> int:
        return self.page * self.per_page

    def slice(self, items: Sequence[T]) -> list[T]:
        return list(items[self.start : self.start + self.per_page])

    def body(self, key: str, page_items: list[Any], total: int) -> Any:
        """A bare array, or with totals `{"start", "limit", "total", key: [...]}`."""
        if not self.include_totals:
            return page_items
        return {"start": self.start, "limit": self.per_page, "total": total, key: page_items}


def offset_page(
    req: Request, *, default_per_page: int = 50, min_per_page: int = 1, limited: bool = True
) -> OffsetPage:
    page = query_int(req, "page", 0, minimum=0)
    per_page = query_int(req, "per_page", default_per_page, minimum=min_per_page, maximum=100)
    if limited and (page + 1) * per_page > RECORD_LIMIT:
        raise ApiError(400, INVALID_PAGING_MESSAGE, "invalid_paging")
    return OffsetPage(page, per_page, query_bool(req, "include_totals"))


def is_checkpoint(req: Request) -> bool:
    return req.arg("from") is not None or req.arg("take") is not None


@dataclass(frozen=True)
class CheckpointPage:
    start_seq: int
    take: int

    def select(self, keyed: Sequence[tuple[int, T]]) -> tuple[list[T], str | None]:
        """The items from the checkpoint on, and `next` (present whenever the page is full:
        like Auth0, a full last page is followed by an empty one)."""
        chosen = [(seq, item) for seq, item in keyed if seq >= self.start_seq][: self.take]
        following = encode_checkpoint(chosen[-1][0] + 1) if len(chosen) == self.take else None
        return [item for _, item in chosen], following


def checkpoint_page(req: Request, *, default_take: int = 50) -> CheckpointPage:
    take = query_int(req, "take", default_take, minimum=1, maximum=100)
    raw = req.arg("from")
    return CheckpointPage(decode_checkpoint(raw) if raw else 0, take)


def paged_list(
    req: Request, key: str, keyed: Sequence[tuple[int, T]], view: Callable[[T], Any]
) -> Response:
    """The items (ordered by sequence number) as `view` shows them, by checkpoint when the
    request pages so, else by offset."""
    if is_checkpoint(req):
        chosen, following = checkpoint_page(req).select(keyed)
        body: dict[str, Any] = {key: [view(item) for item in chosen]}
        if following:
            body["next"] = following
        return json_response(body)
    offset = offset_page(req)
    items = [item for _, item in keyed]
    return json_response(offset.body(key, [view(item) for item in offset.slice(items)], len(items)))


def encode_checkpoint(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode("ascii").rstrip("=")


def decode_checkpoint(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        label, _, number = text.partition(":")
        if label != "seq":
            raise ValueError(token)
        return int(number)
    except ValueError:
        raise query_violation("from", f"Invalid checkpoint: {token}") from None
