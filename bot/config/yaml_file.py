"""Reading the YAML config: ``${VAR}`` substitution and line numbers for every key.

Errors name the key path and the line, because an operator fixing a config at 3 a.m. should
not have to guess which of five ``token:`` lines is wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError

__all__ = ["LoadedYaml", "load_yaml"]

_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Path_ = tuple[str | int, ...]


class LoadedYaml:
    """Plain data from a YAML file plus the line of every key path, and the problems met
    while reading it (unset ``${VAR}``), reported with the schema's in one list."""

    def __init__(
        self,
        data: Any,
        lines: dict[Path_, int],
        source: str,
        problems: dict[Path_, str] | None = None,
    ) -> None:
        self.data = data
        self.lines = lines
        self.source = source
        self.problems = problems or {}

    def where(self, path: Path_) -> str:
        """``tenants.acme.token (smtp-bot.yml, line 7)`` for the longest known prefix."""
        dotted = ".".join(str(p) for p in path) or "(top level)"
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return f"{dotted} ({self.source}, line {line})"
        return f"{dotted} ({self.source})"


def load_yaml(path: Path, environ: Mapping[str, str] | None = None) -> LoadedYaml:
    env = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found (set SMTP_BOT_CONFIG)") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError.listing([f"{path.name}: not UTF-8 text"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError.listing([f"{path.name}, {_syntax_problem(exc)}"]) from None
    if node is None:
        raise ConfigError.listing(
            [
                f"{path.name}: the file is empty; it needs a `tenants:` mapping "
                "(docs/examples/smtp-bot.yml is a start)"
            ]
        )
    lines: dict[Path_, int] = {}
    problems: dict[Path_, str] = {}
    data = _build(node, (), lines, env, path.name, problems)
    return LoadedYaml(data, lines, path.name, problems)


def _syntax_problem(exc: yaml.YAMLError) -> str:
    """``line 8: …`` for a YAML syntax error, on the line a person has to fix: an unclosed
    ``[`` or ``{`` is reported where it opens, not where the parser gave up."""
    problem = str(getattr(exc, "problem", None) or "not valid YAML")
    context = str(getattr(exc, "context", None) or "")
    mark = getattr(exc, "problem_mark", None)
    opened = getattr(exc, "context_mark", None)
    if opened is not None and context.startswith("while parsing a flow"):
        bracket = "[" if "sequence" in context else "{"
        closing = "]" if bracket == "[" else "}"
        return (
            f"line {opened.line + 1}: the `{bracket}` opened here is never closed with `{closing}`"
        )
    line = f"line {mark.line + 1}" if mark is not None else "somewhere"
    if "\\t" in problem or "\t" in problem:
        return f"{line}: a tab character; indent with spaces"
    if problem == "mapping values are not allowed here":
        return f"{line}: a `:` where none may be (quote a value that contains `: `)"
    return f"{line}: {problem}" + (f" ({context})" if context else "")


def _build(
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    env: Mapping[str, str],
    source: str,
    problems: dict[Path_, str],
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in result:
                raise ConfigError(
                    f"{'.'.join(map(str, (*path, key)))} ({source}, line "
                    f"{key_node.start_mark.line + 1}): duplicate key"
                )
            result[key] = _build(value_node, (*path, key), lines, env, source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(v, (*path, i), lines, env, source, problems) for i, v in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)
    if node.tag == "tag:yaml.org,2002:str" and "${" in node.value:
        return _substitute(node.value, path, env, problems)
    return yaml.SafeLoader(stream="").construct_object(node)  # type: ignore[no-untyped-call]


def _substitute(value: str, path: Path_, env: Mapping[str, str], problems: dict[Path_, str]) -> str:
    """Replace every ``${VAR}``; an unset one is a problem of this key (all are reported)."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            missing.append(name)
            return ""
        return env[name]

    result = _VAR_RE.sub(replace, value)
    if missing:
        if len(missing) == 1:
            problems[path] = f"environment variable {missing[0]} is not set"
        else:
            problems[path] = f"environment variables {', '.join(missing)} are not set"
    return result
