"""Changing a scenario by path: ``accounts.GLOBEX.money=5``, ``calls[ID].refresh_fails=false``.

Used by ``vossim run --set``, ``vossim live --set`` and ``vossim explain --what-if``. A path walks
the scenario as it is written: mapping keys separated by dots, list items by ``[index]`` or, for
lists of named items (``calls``), by ``[id]``. A bare key that names a ``switch:`` setting
(``SS_SIP_SESSION_TTL=0``) means ``switch.SS_SIP_SESSION_TTL``. The value is read as YAML. The
changed scenario is validated again as a whole, so a bad value gets the loader's own message, and
a path that names nothing gets the closest valid path.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import yaml
from pydantic import ValidationError

from simulator.scenario._loader import (
    Problem,
    ScenarioError,
    _field_names,
    _merge,
    _Positions,
    _problem_from_pydantic,
    format_path,
    load_value,
)
from simulator.scenario._schema import Scenario, SwitchSettings, cross_reference_errors

_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


def parse_path(text: str) -> list[str | tuple[str]]:
    """``calls[disputed].caller_does`` -> ``["calls", ("disputed",), "caller_does"]``."""
    parts: list[str | tuple[str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        if text[position] == "." and parts:
            position += 1
        match = _SEGMENT.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"expected a path such as accounts.ACME.money or calls[ID].at, "
                             f"found {text!r}")
        key, item = match.groups()
        parts.append(key if key is not None else (item,))
        position = match.end()
    if not parts:
        raise ValueError("expected a path such as accounts.ACME.money, found nothing")
    return parts


def _closest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return close[0] if close else None


def _is_model_level(location: tuple[Any, ...]) -> bool:
    return bool(_field_names(location)) or location == ()


def _walk(data: dict[str, Any], parts: list[str | tuple[str]], value: Any) -> tuple[Any, ...]:
    """Set ``value`` at ``parts`` in ``data``; the resolved location (keys and list indexes)."""
    node: Any = data
    location: tuple[Any, ...] = ()
    for number, part in enumerate(parts):
        last = number == len(parts) - 1
        where = format_path(location) or "the scenario"
        if isinstance(part, tuple):
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list: write {where}.KEY, not [{part[0]}]")
            wanted = part[0]
            index = _list_index(node, wanted, where)
            if last:
                node[index] = value
            node, location = node[index], (*location, index)
            continue
        fields = _field_names(location) if _is_model_level(location) else []
        if isinstance(node, dict) and fields:
            if part not in fields:
                close = _closest(part, fields)
                hint = f"; did you mean {format_path((*location, close))}?" if close else ""
                raise ValueError(f"unknown key {part!r} under {where} (expected one of: "
                                 f"{', '.join(fields)}){hint}")
        elif isinstance(node, dict):
            if part not in node and not last:
                names = [str(k) for k in node]
                close = _closest(part, names)
                hint = f"; did you mean {format_path((*location, close))}?" if close else ""
                raise ValueError(f"no {part!r} under {where} (it has: "
                                 f"{', '.join(names) or 'nothing'}){hint}")
        else:
            raise ValueError(f"{where} holds a value, not keys: {part!r} cannot go under it")
        if last:
            node[part] = value
        else:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        location = (*location, part)
    return location


def _list_index(items: list[Any], wanted: str, where: str) -> int:
    if re.fullmatch(r"-?\d+", wanted.strip()):
        index = int(wanted)
        if -len(items) <= index < len(items):
            return index % len(items)
        raise ValueError(f"{where}[{wanted}]: expected an index 0-{len(items) - 1}, "
                         f"found {wanted}")
    ids = [str(item.get("id", item.get("name", ""))) for item in items
           if isinstance(item, dict)]
    if wanted in ids:
        return ids.index(wanted)
    close = _closest(wanted, ids)
    hint = f"; did you mean {where}[{close}]?" if close else ""
    raise ValueError(f"no item with id {wanted!r} in {where} (ids: {', '.join(ids) or 'none'})"
                     + hint)


def apply_paths(scenario: Scenario, overrides: list[str], source: str = "--set") -> Scenario:
    """``scenario`` with every ``PATH=VALUE`` of ``overrides`` applied, validated again."""
    if not overrides:
        return scenario
    data = scenario.model_dump(by_alias=True, exclude_unset=True)
    problems: list[Problem] = []
    switch_keys = list(SwitchSettings.model_fields)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(Problem(source, 1, 1, item, "expected PATH=VALUE such as "
                                                        "accounts.ACME.money=5"))
            continue
        try:
            value = load_value(text, source, (key,)) if text.strip() else ""
        except ScenarioError as exc:
            problems.extend(exc.problems)
            continue
        try:
            parts = parse_path(key)
            if len(parts) == 1 and parts[0] in switch_keys:
                parts = ["switch", parts[0]]  # the historical form: --set SWITCH_KEY=VALUE
            elif len(parts) == 1 and isinstance(parts[0], str) \
                    and parts[0] not in Scenario.model_fields:
                close = _closest(parts[0], switch_keys + list(Scenario.model_fields))
                hint = ""
                if close:
                    hint = f"; did you mean {'switch.' if close in switch_keys else ''}{close}?"
                raise ValueError(f"unknown key {parts[0]!r}: expected a switch setting or a "
                                 f"scenario path such as accounts.ACME.money{hint}")
            _walk(data, parts, value)
        except ValueError as exc:
            problems.append(Problem(source, 1, 1, key, str(exc)))
    if problems:
        raise ScenarioError(problems)
    try:
        changed = Scenario.model_validate(data)
    except ValidationError as exc:
        positions = _Positions(yaml.SafeLoader(""), source)
        positions.data = data
        raise ScenarioError(_merge([_problem_from_pydantic(e, positions)
                                    for e in exc.errors()])) from None
    cross = cross_reference_errors(changed)
    if cross:
        raise ScenarioError([Problem(source, 1, 1, format_path(path), message)
                             for path, message in cross])
    return changed

