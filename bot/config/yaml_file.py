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
    """Plain data from a YAML file plus the line of every key path."""

    def __init__(self, data: Any, lines: dict[Path_, int], source: str) -> None:
        self.data = data
        self.lines = lines
        self.source = source

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
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path.name}{where}: {problem}") from None
    lines: dict[Path_, int] = {}
    data = _build(node, (), lines, env, path.name) if node is not None else {}
    return LoadedYaml(data, lines, path.name)


def _build(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], env: Mapping[str, str], source: str
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
            result[key] = _build(value_node, (*path, key), lines, env, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, (*path, i), lines, env, source) for i, v in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    if node.tag == "tag:yaml.org,2002:str" and "${" in node.value:
        return _substitute(node.value, path, lines[path], env, source)
    return yaml.SafeLoader(stream="").construct_object(node)  # type: ignore[no-untyped-call]


def _substitute(value: str, path: Path_, line: int, env: Mapping[str, str], source: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            dotted = ".".join(str(p) for p in path)
            raise ConfigError(
                f"{dotted} ({source}, line {line}): environment variable {name} is not set"
            )
        return env[name]

    return _VAR_RE.sub(replace, value)
