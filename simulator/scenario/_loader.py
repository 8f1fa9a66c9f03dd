"""Reading scenario files: YAML with positions, and errors a person can act on.

Every problem is reported as ``file:line:column: key.path: expected …, found …`` (with a "did you
mean" where a known name is close), all problems of a file at once.
"""

from __future__ import annotations

import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from simulator._files import NotRegularFile, read_regular
from simulator.scenario._schema import Scenario, cross_reference_errors

Path_ = tuple[Any, ...]

# Bounds on the YAML itself, so that a hostile or broken file fails fast instead of exhausting
# the stack (deep nesting) or the memory ("billion laughs": aliases of aliases of aliases).
MAX_NESTING = 32           # a real scenario nests 6 levels deep
MAX_ALIAS_EXPANSION = 100_000  # nodes that aliases may add, all aliases of the file together


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario file cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class SourceMap:
    """Where the keys of a loaded scenario are in its file (kept on the scenario)."""

    file: str
    positions: _Positions

    def where(self, path: Path_) -> str:
        line, column = self.positions.where(path)
        return f"{self.file}:{line}:{column}: {format_path(path)}"


def source_of(scenario: Scenario) -> SourceMap | None:
    return scenario._source


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` with bounded nesting, bounded alias expansion and no recursive aliases."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._expanded = 0
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = self.anchors.get(event.anchor)
            if node is not None:
                if event.anchor in self._open_anchors:
                    raise yaml.composer.ComposerError(
                        None, None, f"expected an alias to a finished anchor, found *{event.anchor}"
                        " inside its own anchor (a recursive alias)", event.start_mark)
                self._expanded += self._size(node)
                if self._expanded > MAX_ALIAS_EXPANSION:
                    raise yaml.composer.ComposerError(
                        None, None, f"expected aliases that expand to at most "
                        f"{MAX_ALIAS_EXPANSION:,} nodes in all, found more at *{event.anchor}",
                        event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise yaml.composer.ComposerError(
                None, None, f"expected at most {MAX_NESTING} levels of nesting, found more",
                event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)

    def _size(self, node: yaml.Node) -> int:
        """How many nodes ``node`` stands for once every alias in it is expanded."""
        size = self._sizes.get(id(node))
        if size is None:
            if isinstance(node, yaml.SequenceNode):
                size = 1 + sum(self._size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            else:
                size = 1
            self._sizes[id(node)] = size
        return size


_SURROGATE = re.compile("[\ud800-\udfff]")
_TAG_NAMES = {"int": "an integer", "float": "a number", "timestamp": "a real date and time "
              "(YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SSZ)", "bool": "true or false"}


class _ScalarError(Exception):
    """A scalar YAML cannot turn into a value of its (explicit or implied) type."""

    def __init__(self, node: yaml.Node, path: Path_, reason: str) -> None:
        self.node = node
        self.path = path
        super().__init__(reason)


def _scalar_problem(node: yaml.Node, exc: Exception) -> str:
    kind = str(node.tag).rsplit(":", 1)[-1]
    text = str(node.value)
    shown = _found(text)
    if kind == "int" and len(text) > 4000:
        return (f"expected an integer (no key takes more than 20 digits), found one of "
                f"{len(text):,} characters")
    # ValueError texts say what is wrong (``day is out of range for month``); others are noise
    reason = f" ({str(exc).split(';')[0]})" if isinstance(exc, ValueError) else ""
    return f"expected {_TAG_NAMES.get(kind, f'a valid !!{kind}')}, found {shown}{reason}"


class _Positions:
    """Builds plain Python data from a YAML node tree, remembering where each key path was."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.marks: dict[Path_, tuple[int, int]] = {}
        self.key_marks: dict[Path_, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.data: Any = None

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
            self.loader.flatten_mapping(node)
            merged = len(node.value) - own  # `<<: *anchor` entries come first; own keys override
            out: dict[Any, Any] = {}
            explicit: set[Any] = set()
            for position, (key_node, value_node) in enumerate(node.value):
                key = self._construct(key_node, path)
                if isinstance(key, list | dict):
                    key = str(key)
                child = (*path, key)
                self.key_marks[child] = (key_node.start_mark.line + 1,
                                         key_node.start_mark.column + 1)
                if key in explicit:
                    line, column = self.key_marks[child]
                    self.problems.append(Problem(
                        self.file, line, column, format_path(child),
                        "expected each key once in a mapping, found it a second time"))
                if position >= merged:
                    explicit.add(key)
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._construct(node, path)

    def _construct(self, node: yaml.Node, path: Path_) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            # PyYAML lets these out unmarked, e.g. for 2026-02-30 or an int of 5,000 digits
            raise _ScalarError(node, path, _scalar_problem(node, exc)) from None
        if isinstance(value, str):
            surrogate = _SURROGATE.search(value)
            if surrogate is not None:  # "\ud800" is a valid YAML escape, yet no file can hold it
                raise _ScalarError(node, path, "expected text that UTF-8 can encode, found the "
                                   f"lone surrogate U+{ord(surrogate.group()):04X} in "
                                   f"{_found(value)}")
        return value

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        if key and path in self.key_marks:
            return self.key_marks[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.marks:
                return self.marks[path[:end]]
        return (1, 1)


def _found(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _resolve(annotation: Any) -> Any:
    """The model (or ("dict"|"list", inner)) an annotation validates with."""
    import typing

    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is dict:
        return ("dict", _resolve(args[1]))
    if origin is list:
        return ("list", _resolve(args[0]))
    if args and origin is not typing.Annotated and origin is not typing.Literal:
        for arg in args:
            resolved = _resolve(arg)
            if isinstance(resolved, type) and issubclass(resolved, BaseModel):
                return resolved
        return None
    return annotation


def _field_names(path: Path_) -> list[str]:
    """Known keys of the mapping at ``path`` in the schema."""
    node: Any = Scenario
    for part in path:
        if isinstance(node, tuple):
            node = node[1]
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            return []
        field = next((f for name, f in node.model_fields.items()
                      if (f.alias or name) == part), None)
        if field is None:
            return []
        node = _resolve(field.annotation)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or name for name, f in node.model_fields.items()]
    return []


def _problem_from_pydantic(error: dict[str, Any], positions: _Positions) -> Problem:
    loc: Path_ = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        known = _field_names(loc[:-1])
        hint = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        message = f"unknown key {key!r}; expected one of: {', '.join(known)}" if known else \
            f"unknown key {key!r}"
        if hint:
            message += f"; did you mean {hint[0]!r}?"
        line, column = positions.where(loc, key=True)
        return Problem(positions.file, line, column, format_path(loc), message)
    if kind == "missing":
        line, column = positions.where(loc[:-1])
        return Problem(positions.file, line, column, format_path(loc),
                       f"missing required key {loc[-1]!r}")
    loc = _data_path(loc, positions.data)
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    elif message.startswith("Assertion failed, "):
        message = message[len("Assertion failed, "):]
    else:
        message = "expected " + message[0].lower() + message[1:].replace("Input should be ", "")
        message = message.replace("expected input should be ", "expected ")
    if "found" not in message:
        message += f", found {_found(error.get('input'))}"
    line, column = positions.where(loc)
    return Problem(positions.file, line, column, format_path(loc), message)


def _data_path(loc: Path_, data: Any) -> Path_:
    """Keep the parts of a pydantic location that name real keys (drops union-branch tags)."""
    out: list[Any] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            continue
        node = node[part]
        out.append(part)
    return tuple(out)


def _merge(problems: list[Problem]) -> list[Problem]:
    """One problem per place: alternatives of a union are joined with "or"."""
    merged: dict[tuple[str, int, int, str], list[str]] = {}
    for problem in problems:
        key = (problem.file, problem.line, problem.column, problem.path)
        messages = merged.setdefault(key, [])
        if problem.message not in messages:
            messages.append(problem.message)
    return [Problem(*key, " or ".join(messages)) for key, messages in merged.items()]


def _load_node_tree(text: str, file: str, path: Path_ = ()) -> tuple[Any, _Positions] | None:
    """The plain data of YAML ``text`` and where each key was (None for an empty document),
    through the bounded loader; every failure is a ``ScenarioError`` placed in ``file``."""
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        raise ScenarioError([Problem(file, line, column, format_path(path),
                                     "expected printable text, found "
                                     f"the control character U+{exc.character:04X}; write it "
                                     "as an escape in a double-quoted string")]) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            kind = "YAML error" if isinstance(exc, yaml.composer.ComposerError) else \
                "YAML syntax error"
            raise ScenarioError([Problem(file, line, column, format_path(path),
                                         f"{kind}: {exc.problem or exc}")]) from None
        except yaml.YAMLError as exc:  # e.g. a reader error found past the first buffer
            raise ScenarioError([Problem(file, 1, 1, format_path(path),
                                         f"YAML error: {exc}")]) from None
        if node is None:
            return None
        positions = _Positions(loader, file)
        try:
            positions.data = positions.build(node, path)
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark
            raise ScenarioError([Problem(file, mark.line + 1 if mark else 1,
                                         mark.column + 1 if mark else 1, format_path(path),
                                         f"YAML error: {exc.problem}")]) from None
        except _ScalarError as exc:
            mark = exc.node.start_mark
            raise ScenarioError([Problem(file, mark.line + 1, mark.column + 1,
                                         format_path(exc.path), str(exc))]) from None
    finally:
        loader.dispose()
    return positions.data, positions


def load_value(text: str, file: str, path: Path_) -> Any:
    """One value written outside a file (``--set PATH=VALUE``), read by the same bounded loader
    as a scenario file, so ``!!float x`` or a 5,000-digit integer get the file's messages."""
    loaded = _load_node_tree(text, file, path)
    if loaded is None:
        return None
    data, positions = loaded
    if positions.problems:
        raise ScenarioError(positions.problems)
    return data


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Validate scenario text; raises ``ScenarioError`` with every problem found."""
    loaded = _load_node_tree(text, file)
    if loaded is None:
        raise ScenarioError([Problem(file, 1, 1, "", "expected a scenario mapping with "
                                                     "'version: 1', found an empty file")])
    data, positions = loaded
    if positions.problems:
        raise ScenarioError(positions.problems)
    if not isinstance(data, dict):
        raise ScenarioError([Problem(file, 1, 1, "", "expected a scenario mapping with "
                                                     f"'version: 1', found {_found(data)}")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [_problem_from_pydantic(e, positions) for e in exc.errors()]
        raise ScenarioError(_merge(problems)) from None
    cross = cross_reference_errors(scenario)
    if cross:
        problems = []
        for path, message in cross:
            line, column = positions.where(path)
            problems.append(Problem(file, line, column, format_path(path), message))
        raise ScenarioError(problems)
    scenario._source = SourceMap(file, positions)
    return scenario


def _line_column(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        # opened non-blocking and refused unless a regular file: a FIFO nobody writes to
        # would block for ever; read as path.read_text would (universal newlines)
        text = io.TextIOWrapper(io.BytesIO(read_regular(path)), encoding="utf-8").read()
    except NotRegularFile as exc:
        raise ScenarioError([Problem(str(path), 1, 1, "", f"expected a scenario file (YAML "
                                                          f"text), found {exc}")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(str(path), 1, 1, "", f"cannot read the file: "
                                                          f"{exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(str(path), 1, 1, "", f"expected UTF-8 text: {exc}")]) \
            from None
    return parse_scenario(text, str(path))
