"""One CDR row as reproduce and audit read it: typed, with the fields a scenario can act on.

The rows themselves come from the readers of ``vossim analyze`` (``read_rows``, one adapter so
that every shape they take reaches reproduce and audit the same way); ``Row.from_fields`` turns
one row of lower-case e_cdr names into numbers, money and text, and says what it could not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

_DIGITS = re.compile(r"^[0-9]+$")
_MANGLED = re.compile(r"^\d(?:\.(\d+))?[eE]\+?(\d+)$")


class RowError(ValueError):
    """A row (or a file of rows) that cannot be reproduced: says where and what was expected."""


def read_rows(source: str | Path, warnings: list[str] | None = None
              ) -> Iterator[dict[str, object]]:
    """The rows of a CDR file, keyed by lower-case e_cdr names (the readers of ``analyze``)."""
    from simulator.analyze import SourceError, read_cdr_rows

    try:
        yield from read_cdr_rows(source, warnings)
    except SourceError as exc:
        raise RowError(str(exc)) from None


def parse_row(text: str) -> dict[str, object]:
    """One row given as text: a CSV/TSV line, a JSON object or a pipe line."""
    from simulator.analyze import SourceError, parse_cdr_row

    try:
        return parse_cdr_row(text)
    except SourceError as exc:
        raise RowError(str(exc)) from None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _int(value: object, name: str, where: str, default: int | None = 0) -> int:
    text = _text(value)
    if not text:
        if default is None:
            raise RowError(f"{where}: {name}: expected a whole number, found nothing")
        return default
    try:
        return int(text)
    except ValueError:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise RowError(f"{where}: {name}: expected a whole number, found {text!r}") from None
    if number != number.to_integral_value():
        raise RowError(f"{where}: {name}: expected a whole number, found {text!r}")
    return int(number)


def _money(value: object, name: str, where: str) -> Decimal:
    text = _text(value) if not isinstance(value, float) else repr(value)
    if not text:
        return Decimal(0)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise RowError(f"{where}: {name}: expected an amount, found {text!r}") from None
    if not amount.is_finite():
        raise RowError(f"{where}: {name}: expected an amount, found {text!r}")
    return amount


def number_of(text: str) -> tuple[str, bool]:
    """(digits, mangled): a number as digits; a spreadsheet's ``8.8017E+012`` is expanded (its
    lost digits become zeros, and ``mangled`` says so)."""
    text = text.strip()
    if _DIGITS.fullmatch(text):
        return text, False
    match = _MANGLED.fullmatch(text)
    if match:
        decimals, exponent = match.group(1) or "", int(match.group(2))
        if exponent <= 30:
            digits = text[0] + decimals
            return (digits + "0" * max(0, exponent - len(decimals)))[:exponent + 1], True
    return "", False


@dataclass(slots=True)
class Row:
    """The fields of one CDR row that a scenario decides or takes (times in ms, money Decimal)."""

    where: str
    fields: dict[str, object]
    flowno: int | None
    caller: str
    callee: str
    callee_mangled: bool
    callerip: str
    callergatewayid: str
    calleeip: str
    calleegatewayid: str
    customeraccount: str
    customername: str
    agentaccount: str
    agentname: str
    starttime: int
    stoptime: int
    callerpdd: int
    calleepdd: int
    holdtime: int
    feetime: int
    fee: Decimal
    agentfeetime: int
    agentfee: Decimal
    enddirection: int
    endreason: int
    sipreasonheader: str
    recordstarttime: int
    calllevel: int
    calleetype: int
    notes: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.stoptime > self.starttime or self.holdtime > 0

    @property
    def label(self) -> str:
        return f"flowno {self.flowno}" if self.flowno is not None else self.where

    @classmethod
    def from_fields(cls, fields: dict[str, object], where: str) -> Row:
        def text(name: str) -> str:
            return _text(fields.get(name))

        def whole(name: str, default: int | None = 0) -> int:
            return _int(fields.get(name), name, where, default)

        notes: list[str] = []
        caller, caller_mangled = number_of(text("callere164") or text("calleraccesse164"))
        callee, mangled = "", False
        for name in ("calleee164", "calleeaccesse164", "calleetogatewaye164"):
            digits, was_mangled = number_of(text(name))
            if digits and not was_mangled:
                callee, mangled = digits, False
                break
            if digits and not callee:
                callee, mangled = digits, was_mangled
        if mangled:
            notes.append(f"the callee number was mangled by a spreadsheet "
                         f"({text('calleee164')!r}); its lost digits are zeros here")
        if caller_mangled:
            notes.append("the caller number was mangled by a spreadsheet; its lost digits are "
                         "zeros here")
        flowno_text = text("flowno") or text("id")
        starttime = whole("starttime", None)
        stoptime = whole("stoptime", None)
        if stoptime < starttime:
            raise RowError(f"{where}: stoptime: expected a time at or after starttime "
                           f"({starttime}), found {stoptime}")
        return cls(
            where=where, fields=fields,
            flowno=_int(flowno_text, "flowno", where) if flowno_text else None,
            caller=caller or "0", callee=callee or "0", callee_mangled=mangled,
            callerip=text("callerip"), callergatewayid=text("callergatewayid"),
            calleeip=text("calleeip"), calleegatewayid=text("calleegatewayid"),
            customeraccount=text("customeraccount"), customername=text("customername"),
            agentaccount=text("agentaccount"), agentname=text("agentname"),
            starttime=starttime, stoptime=stoptime,
            callerpdd=whole("callerpdd"), calleepdd=whole("calleepdd", -1),
            holdtime=whole("holdtime"), feetime=whole("feetime"),
            fee=_money(fields.get("fee"), "fee", where),
            agentfeetime=whole("agentfeetime"),
            agentfee=_money(fields.get("agentfee"), "agentfee", where),
            enddirection=whole("enddirection", None), endreason=whole("endreason", None),
            sipreasonheader=text("sipreasonheader"), recordstarttime=whole("recordstarttime"),
            calllevel=whole("calllevel"), calleetype=whole("calleetype"), notes=notes,
        )
