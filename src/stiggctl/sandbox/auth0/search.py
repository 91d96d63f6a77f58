"""The part of Auth0's user search syntax (`q`, search engine v3, Lucene-like) the sandbox
understands: `field:value`, `field:"quoted value"`, `*` wildcards, `_exists_:field`,
`NOT`/`-` negation, and `AND`/`OR` (AND binds tighter; juxtaposition means OR, as in
Lucene). Fields are dotted paths into the user (`app_metadata.plan`, `identities.connection`).
Anything else is refused the way Auth0 refuses a malformed query.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from stiggctl.sandbox.auth0.errors import ApiError

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>AND|OR|NOT|&&|\|\|)(?=\s|$)
      | (?P<term>-?(?:[A-Za-z0-9_.$]+:)?(?:"[^"]*"|[^\s"()\[\]{}]+))
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
FREE_TEXT_FIELDS = ("name", "email", "nickname", "user_id")


def invalid_query(q: str) -> ApiError:
    return ApiError(400, f"Invalid query string: {q}", "invalid_query_string")


def _values_at(record: Any, path: list[str]) -> list[Any]:
    if not path:
        return record if isinstance(record, list) else [record]
    if isinstance(record, list):
        return [v for item in record for v in _values_at(item, path)]
    if isinstance(record, dict) and path[0] in record:
        return _values_at(record[path[0]], path[1:])
    return []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _term(term: str) -> Predicate:
    negated = term.startswith("-")
    term = term.lstrip("-")
    field, sep, value = term.partition(":")
    if not sep:
        field, value = "", term
    value = value[1:-1] if value.startswith('"') and value.endswith('"') else value
    wanted = value.lower()

    def matches(candidate: Any) -> bool:
        text = _text(candidate).lower()
        return fnmatch.fnmatchcase(text, wanted) if "*" in wanted else text == wanted

    if field == "_exists_":
        path = value.split(".")

        def predicate(user: dict[str, Any]) -> bool:
            return bool(_values_at(user, path))
    elif field:
        path = field.split(".")

        def predicate(user: dict[str, Any]) -> bool:
            return any(matches(v) for v in _values_at(user, path) if not isinstance(v, dict))
    else:

        def predicate(user: dict[str, Any]) -> bool:
            return any(matches(user[f]) for f in FREE_TEXT_FIELDS if f in user)

    return (lambda user: not predicate(user)) if negated else predicate


def compile_query(q: str) -> Predicate:
    """A predicate over user records for the query `q`; raises 400 for what it cannot read."""
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(q):
        if match.group("bad"):
            raise invalid_query(q)
        if match.group("op"):
            tokens.append(
                ("op", {"&&": "AND", "||": "OR"}.get(match.group("op"), match.group("op")))
            )
        elif match.group("term"):
            tokens.append(("term", match.group("term")))
    if not tokens:
        raise invalid_query(q)

    # OR of AND-groups; a NOT applies to the term that follows it.
    groups: list[list[Predicate]] = [[]]
    negate_next = False
    expect_term = True
    for kind, text in tokens:
        if kind == "op" and text == "NOT":
            negate_next = not negate_next
            continue
        if kind == "op":
            if expect_term:
                raise invalid_query(q)
            if text == "OR":
                groups.append([])
            expect_term = True
            continue
        predicate = _term(text)
        if negate_next:
            predicate = (lambda p: lambda user: not p(user))(predicate)
            negate_next = False
        if not expect_term:  # juxtaposition: Lucene's default operator, OR
            groups.append([])
        groups[-1].append(predicate)
        expect_term = False
    if expect_term or negate_next:
        raise invalid_query(q)
    return lambda user: any(all(p(user) for p in group) for group in groups)
