"""Config problems in plain words: what is wrong, what is expected, the nearest known key.

pydantic's own messages ("Extra inputs are not permitted", "String should match pattern
'^[UWS][A-Z0-9]{2,}$'") describe its machinery, not the config. Each is rewritten here from
its type and the key it is about, so every config error reads the same way.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

__all__ = ["describe", "known_keys", "nearest"]

Loc = tuple[str | int, ...]

# What a value of these keys looks like, for a value that does not match its pattern.
_EXPECTED = {
    "approvers": "a Slack user or user-group ID like U0123ABCD or S0123ABCD",
    "requesters": "a Slack user or user-group ID like U0123ABCD or S0123ABCD",
    "channel": "a Slack channel ID like C0123ABCD (the channel's About tab)",
    "channels": "a Slack channel ID like C0123ABCD (the channel's About tab)",
    "domains": "a lowercase domain like example.com",
    "url": "an https:// URL of the server with no path, like https://whm.example.com:2087",
    "username": "a lowercase account name like root",
    "organization": "the tenant's initial domain, like contoso.onmicrosoft.com",
    "app_id": "the app's client ID, a GUID like 11111111-2222-3333-4444-555555555555",
    "certificate_thumbprint": "the certificate's thumbprint: 40 hexadecimal digits",
    "allowed_team_ids": "a Slack team ID like T0123ABCD",
    "tenant_id": "the tenant's ID, a GUID like 8f1c2b4e-1111-4a5b-9c3d-0123456789ab, or its "
    "*.onmicrosoft.com domain like contoso.onmicrosoft.com",
    "authority_host": "an https:// URL with no path, like https://login.microsoftonline.us",
    "exchange_url": "an https:// URL with no path, like https://outlook.office365.us",
    "graph_url": "an https:// URL with no path, like https://graph.microsoft.us",
}


def nearest(word: str, known: Sequence[str]) -> str | None:
    """The known key a typo most likely meant, if one is close enough."""
    found = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return found[0] if found else None


def known_keys(root: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the model at ``loc`` (a pydantic error location, parent of the bad key)
    accepts; empty if ``loc`` does not lead to a model."""
    current: Any = root
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    model = _model_of(current)
    return sorted(model.model_fields) if model is not None else []


def describe(err: dict[str, Any], root: type[BaseModel]) -> str:
    """One problem, said for a person: ``unknown key `chanel`; did you mean `channel`?``."""
    loc: Loc = tuple(err["loc"])
    key = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        known = known_keys(root, loc[:-1])
        guess = nearest(key, known)
        hint = f"; did you mean `{guess}`?" if guess else ""
        listed = f" (known keys: {', '.join(known)})" if known and not guess else ""
        return f"unknown key `{key}`{hint}{listed}"
    if kind == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t]
        tag = str(ctx.get("tag", ""))
        guess = nearest(tag, tags)
        hint = f" (did you mean `{guess}`?)" if guess else ""
        return f"unknown provider `{tag}`{hint}: expected {_either(tags)}"
    if kind == "union_tag_not_found":
        return "`provider` is missing: write `provider: whm` or `provider: exchange`"
    if kind == "missing":
        return f"`{key}` is required here"
    if kind == "string_pattern_mismatch":
        expected = _EXPECTED.get(key, "a value of the documented form")
        return f"not a valid value: expected {expected}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected a whole number"
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false"
    if kind in ("string_type",):
        return "expected text"
    if kind in ("list_type",):
        return "expected a list, like [U0123ABCD, U0456EFGH]"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping of keys to values"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} entry"
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} entries"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ",")
        options = [o.strip(" '") for o in expected.split(",")]
        return f"expected {_either([o for o in options if o])}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def _either(options: Sequence[str]) -> str:
    quoted = [f"`{o}`" for o in options]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _step(current: Any, part: str | int) -> Any:
    """Follow one step of an error location through models, dicts, lists and unions."""
    model = _model_of(current)
    if model is not None:
        field = model.model_fields.get(str(part))
        return None if field is None else _unwrap(field.annotation)
    origin = typing.get_origin(current)
    args = typing.get_args(current)
    if origin is dict and len(args) == 2:
        return _unwrap(args[1])
    if origin is list and args:
        return _unwrap(args[0])
    if origin in (typing.Union, types.UnionType):  # a tagged union: the tag is the step
        for arg in args:
            arg_model = _model_of(_unwrap(arg))
            provider = arg_model.model_fields.get("provider") if arg_model else None
            if provider is not None and part in typing.get_args(provider.annotation):
                return arg_model
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the type that holds keys."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _unwrap(rest[0])
    return annotation
