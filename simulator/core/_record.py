"""The VOS3000 CDR record: the 63 ``e_cdr`` columns, the 18-field pipe line and the record itself.

Plain data built from a finished call (``_cdr.cdr_from_call``); ``cdr_writer`` renders it in the
output formats. Standard library only, like the rest of the core.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes

# (column, declared type) in the order of the reference's e_cdr table (2.1.9-era dump).
E_CDR_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (name, kind) for name, kind in (item.split(" ", 1) for item in (
        "id int", "callere164 varchar(64)", "calleraccesse164 varchar(64)",
        "calleee164 varchar(64)", "calleeaccesse164 varchar(64)", "callerip varchar(39)",
        "callerrtpip varchar(39)", "callercodec varchar(64)", "callergatewayid varchar(255)",
        "callerproductid varchar(64)", "callertogatewaye164 varchar(64)", "callertype int",
        "calleeip varchar(39)", "calleertpip varchar(39)", "calleecodec varchar(64)",
        "calleegatewayid varchar(255)", "calleeproductid varchar(64)",
        "calleetogatewaye164 varchar(64)", "calleetype int", "billingmode int", "calllevel int",
        "agentfeetime int", "starttime bigint", "stoptime bigint", "callerpdd int",
        "calleepdd int", "holdtime int", "callerareacode varchar(64)", "feetime int",
        "fee double", "tax double", "suitefee double", "suitefeetime int", "incomefee double",
        "incometax double", "customeraccount varchar(255)", "customername varchar(255)",
        "calleeareacode varchar(64)", "agentfee double", "agenttax double",
        "agentsuitefee double", "agentsuitefeetime int", "agentaccount varchar(255)",
        "agentname varchar(255)", "flowno bigint", "softswitchname varchar(255)",
        "softswitchcallid bigint", "callercallid varchar(255)",
        "calleroriginalcallid varchar(255)", "calleecallid varchar(255)",
        "calleroriginalinfo varchar(255)", "rtpforward int", "enddirection int",
        "endreason int", "billingtype int", "cdrlevel int", "agentcdr_id int",
        "sipreasonheader varchar(64)", "recordstarttime bigint", "transactionid varchar(64)",
        "flownofirst bigint", "additional blob", "dynamicValue json",
    ))
)
E_CDR_NAMES: tuple[str, ...] = tuple(name for name, _ in E_CDR_COLUMNS)

# The shapes real VOS3000 systems give the same columns in, derived here so that the writers
# (``--format vos-csv``) and the readers (``vossim analyze``) share them:
# - the table as exported without the two newest columns (61);
# - the billing export ``cdr_YYYYMMDD_HHMMSS.csv``: table order without the row id, the RTP
#   addresses, the caller's original call, the Reason header and the recording columns (52),
#   and a later version's with ``transactionid`` last (53).
TABLE_61: tuple[str, ...] = tuple(n for n in E_CDR_NAMES if n not in ("additional",
                                                                        "dynamicValue"))
_NOT_EXPORTED = frozenset(("id", "callerrtpip", "calleertpip", "calleroriginalcallid",
                           "calleroriginalinfo", "sipreasonheader", "recordstarttime",
                           "transactionid", "flownofirst", "additional", "dynamicValue"))
EXPORT_52: tuple[str, ...] = tuple(n for n in E_CDR_NAMES if n not in _NOT_EXPORTED)
EXPORT_53: tuple[str, ...] = (*EXPORT_52, "transactionid")

# Pipe-file fields, in file order, with the e_cdr column (or record attribute) each one shows.
PIPE_FIELDS: tuple[tuple[str, str], ...] = (
    ("callerE164", "callere164"), ("calleeE164", "calleee164"), ("startTime", "starttime"),
    ("stopTime", "stoptime"), ("holdTime", "holdtime"), ("endReason", "endreason"),
    ("endDirection", "enddirection"), ("callerGatewayId", "callergatewayid"),
    ("calleeGatewayId", "calleegatewayid"), ("callerIp", "callerip"), ("calleeIp", "calleeip"),
    ("customerAccount", "customeraccount"), ("feePrefix", "feeprefix"), ("feeTime", "feetime"),
    ("fee", "fee"), ("callerPdd", "callerpdd"), ("billingMode", "billingmode"),
    ("flowNo", "flowno"),
)
PIPE_TO_COLUMN: dict[str, str] = dict(PIPE_FIELDS)
# jsonl-only fields beyond the e_cdr columns.
EXTRA_FIELDS: tuple[str, ...] = ("feeprefix", "endReasonName", "endReasonCategory", "recorded",
                                 "callId")
# Every name a scenario's ``expect`` may use.
EXPECTABLE: frozenset[str] = frozenset((*E_CDR_NAMES, *PIPE_TO_COLUMN, *EXTRA_FIELDS))


def column_for(name: str) -> str:
    """The record attribute behind a pipe name, an e_cdr column name or a jsonl extra."""
    return PIPE_TO_COLUMN.get(name, name)


class VendorSide:
    """The vendor's side of a call (``agent*`` columns): the routing gateway's ``account`` and
    what its rate table charges for the call. Written in both profiles."""

    __slots__ = ("agentaccount", "agentfee", "agentfeetime", "agentname")

    def __init__(self, agentaccount: str, agentname: str, agentfeetime: int,
                 agentfee: Decimal) -> None:
        self.agentaccount = agentaccount
        self.agentname = agentname
        self.agentfeetime = agentfeetime
        self.agentfee = agentfee


class VosColumns:
    """The columns the vos3000 profile fills beyond the seeds' record (docs/cdr-formats.md).

    ``flowno`` is the number the call took when its INVITE arrived; the record's own ``flowno``
    slot stays the write order, which this profile shows as ``id``.
    """

    __slots__ = ("calleeareacode", "calleecallid", "calleecodec", "calleeproductid",
                 "calleertpip", "calleetype", "callerareacode", "callercallid", "callercodec",
                 "calleroriginalcallid", "callerproductid", "callerrtpip", "flowno",
                 "rtpforward")

    def __init__(self, *, flowno: int, callerrtpip: str = "", callercodec: str = "",
                 callerproductid: str = "", calleertpip: str = "", calleecodec: str = "",
                 calleeproductid: str = "", calleetype: int = -1, callerareacode: str = "",
                 calleeareacode: str = "", callercallid: str = "",
                 calleroriginalcallid: str = "", calleecallid: str = "",
                 rtpforward: int = 0) -> None:
        self.flowno = flowno
        self.callerrtpip = callerrtpip
        self.callercodec = callercodec
        self.callerproductid = callerproductid
        self.calleertpip = calleertpip
        self.calleecodec = calleecodec
        self.calleeproductid = calleeproductid
        self.calleetype = calleetype
        self.callerareacode = callerareacode
        self.calleeareacode = calleeareacode
        self.callercallid = callercallid
        self.calleroriginalcallid = calleroriginalcallid
        self.calleecallid = calleecallid
        self.rtpforward = rtpforward


_COLUMN_INDEX = {name: i for i, name in enumerate(E_CDR_NAMES)}

# The record's fields, its slots (copy a record, compare two).
CDR_FIELDS: tuple[str, ...] = (
    "billingmode",
    "call_id",
    "calleee164",
    "calleegatewayid",
    "calleeip",
    "calleepdd",
    "callere164",
    "callergatewayid",
    "callerip",
    "callerpdd",
    "calllevel",
    "customeraccount",
    "customername",
    "end_reason_category",
    "end_reason_name",
    "enddirection",
    "endreason",
    "fee",
    "feeprefix",
    "feetime",
    "flowno",
    "holdtime",
    "recorded",
    "recordstarttime",
    "seed_key",
    "sipreasonheader",
    "softswitchname",
    "starttime",
    "stoptime",
    "vendor",
    "vos",
    "wire_call_ids",
)


class Cdr:
    """One call's record. Columns VOS3000 leaves at a constant are filled in by the formats.

    Compiled with the core (a native class): the core fills it and the pipe line is rendered
    from it without the interpreter (``PipeLines``). ``CDR_FIELDS`` names its fields.
    """

    __slots__ = CDR_FIELDS

    # Named parameters rather than **fields: a run builds one record per call, and binding
    # keywords straight to slots costs a third of a setattr loop.
    def __init__(self, *, callere164: str = "", calleee164: str = "", starttime: int = 0,
                 stoptime: int = 0, holdtime: int = 0, endreason: int = 0,
                 enddirection: int = 0, callergatewayid: str = "", calleegatewayid: str = "",
                 callerip: str = "", calleeip: str = "", customeraccount: str = "",
                 customername: str = "", feeprefix: str = "", feetime: int = 0,
                 fee: Decimal = Decimal(0), callerpdd: int = 0, calleepdd: int = 0,
                 billingmode: int = -1, calllevel: int = 0, flowno: int | str | None = None,
                 softswitchname: str = "", recordstarttime: int = 0, sipreasonheader: str = "",
                 end_reason_name: str = "", end_reason_category: str = "",
                 recorded: bool = True, call_id: str = "", seed_key: str = "",
                 vendor: VendorSide | None = None, vos: VosColumns | None = None,
                 wire_call_ids: dict[str, str] | None = None) -> None:
        self.callere164 = callere164
        self.calleee164 = calleee164
        self.starttime = starttime
        self.stoptime = stoptime
        self.holdtime = holdtime
        self.endreason = endreason
        self.enddirection = enddirection
        self.callergatewayid = callergatewayid
        self.calleegatewayid = calleegatewayid
        self.callerip = callerip
        self.calleeip = calleeip
        self.customeraccount = customeraccount
        self.customername = customername
        self.feeprefix = feeprefix
        self.feetime = feetime
        self.fee = fee
        self.callerpdd = callerpdd
        self.calleepdd = calleepdd
        self.billingmode = billingmode
        self.calllevel = calllevel
        # int | str: a ``--workers`` shard renders a record with a placeholder in its place
        self.flowno: int | str | None = flowno
        self.softswitchname = softswitchname
        self.recordstarttime = recordstarttime
        self.sipreasonheader = sipreasonheader
        self.end_reason_name = end_reason_name
        self.end_reason_category = end_reason_category
        self.recorded = recorded
        self.call_id = call_id
        self.seed_key = seed_key
        self.vendor = vendor
        self.vos = vos
        # live mode: the Call-IDs that went over the wire, by leg ("caller", "callee")
        self.wire_call_ids = wire_call_ids

    def get(self, name: str) -> object:
        """A field by pipe name, e_cdr column or jsonl extra (what ``expect`` compares)."""
        name = column_for(name)
        if name == "id":
            return self.flowno
        if name in ("endReasonName", "endReasonCategory", "callId"):
            return {"endReasonName": self.end_reason_name,
                    "endReasonCategory": self.end_reason_category,
                    "callId": self.call_id}[name]
        if self.vos is not None and name in _COLUMN_INDEX:
            return self.e_cdr_row()[_COLUMN_INDEX[name]]  # flowno is the INVITE's number
        if name in CDR_FIELDS and name not in ("vendor", "vos", "wire_call_ids"):
            return getattr(self, name)
        return self.e_cdr_row()[_COLUMN_INDEX[name]]

    def leg_call_id(self, leg: str, host: str) -> str:
        wire = self.wire_call_ids
        if wire is not None and wire.get(leg):
            return wire[leg]
        digest = _blake2b(f"{self.seed_key}/{leg}".encode(), digest_size=12).hexdigest()
        return f"{digest}@{host}"

    def e_cdr_row(self) -> tuple[object, ...]:
        if self.vos is not None:
            return self._vos_row(self.vos)
        caller, callee = self.callere164, self.calleee164
        fee: Decimal = self.fee
        softswitch_call_id = _from_bytes(
            _blake2b(f"{self.seed_key}/switch".encode(), digest_size=7).digest(), "big")
        caller_call_id = self.leg_call_id("caller", self.callerip or "0.0.0.0")
        callee_call_id = self.leg_call_id("callee", self.calleeip) if self.calleegatewayid \
            else ""
        agent_fee_time, agent_fee, agent_account, agent_name = self._vendor_columns()
        return (
            self.flowno, caller, caller, callee, callee, self.callerip, "", "",
            self.callergatewayid, "", caller, 0, self.calleeip, "", "", self.calleegatewayid, "",
            callee, 0, self.billingmode, self.calllevel, agent_fee_time, self.starttime,
            self.stoptime, self.callerpdd, self.calleepdd, self.holdtime, "", self.feetime, fee,
            0, 0, 0, 0, 0, self.customeraccount, self.customername, "", agent_fee, 0, 0, 0,
            agent_account, agent_name, self.flowno, self.softswitchname, softswitch_call_id,
            caller_call_id, "", callee_call_id, "", 0, self.enddirection, self.endreason, 0, 0,
            -1, self.sipreasonheader, self.recordstarttime, "", self.flowno, None, None,
        )

    def _vendor_columns(self) -> tuple[int, object, str, str]:
        """(agentfeetime, agentfee, agentaccount, agentname): the vendor side, or its blanks."""
        vendor = self.vendor
        if vendor is None:
            return 0, 0, "", ""
        return vendor.agentfeetime, vendor.agentfee, vendor.agentaccount, vendor.agentname

    def _vos_row(self, vos: VosColumns) -> tuple[object, ...]:
        """The row under the vos3000 profile: ``id`` the write order, ``flowno`` the INVITE's."""
        caller, callee = self.callere164, self.calleee164
        softswitch_call_id = _from_bytes(
            _blake2b(f"{self.seed_key}/switch".encode(), digest_size=7).digest(), "big")
        agent_fee_time, agent_fee, agent_account, agent_name = self._vendor_columns()
        return (
            self.flowno, caller, caller, callee, callee, self.callerip, vos.callerrtpip,
            vos.callercodec, self.callergatewayid, vos.callerproductid, caller, 1, self.calleeip,
            vos.calleertpip, vos.calleecodec, self.calleegatewayid, vos.calleeproductid, callee,
            vos.calleetype, self.billingmode, self.calllevel, agent_fee_time, self.starttime,
            self.stoptime, self.callerpdd, self.calleepdd, self.holdtime, vos.callerareacode,
            self.feetime, self.fee, 0, 0, 0, 0, 0, self.customeraccount, self.customername,
            vos.calleeareacode, agent_fee, 0, 0, 0, agent_account, agent_name, vos.flowno,
            self.softswitchname, softswitch_call_id, vos.callercallid, vos.calleroriginalcallid,
            vos.calleecallid, "", vos.rtpforward, self.enddirection, self.endreason, 0, 0, -1,
            self.sipreasonheader, self.recordstarttime, "", 0, None, None,
        )


_FEE_TEXTS_KEPT = 4096  # distinct fees a renderer remembers (a run has a few hundred)


class FeeTexts:
    """Fee -> its text with ``places`` decimals, remembered by value: formatting a Decimal
    costs a third of a pipe line, and a run has few distinct fees.

    (-0 equals 0 but reads "-0.00", so a signed zero is never taken from the table.)
    """

    def __init__(self, places: int, kept: int = _FEE_TEXTS_KEPT) -> None:
        self.places = places
        self.kept = kept
        self.known: dict[Decimal, str] = {}

    def text(self, fee: Decimal) -> str:
        text = self.known.get(fee)
        if text is None or (not fee and fee.is_signed()):
            text = f"{fee:.{self.places}f}"
            if fee or not fee.is_signed():
                if len(self.known) >= self.kept:
                    self.known.clear()
                self.known[fee] = text
        return text


class PipeLines:
    """Records as lines of the hourly pipe files: the ``PIPE_FIELDS`` in their order, joined
    by ``|``. ``flowNo`` is the INVITE's number under the vos3000 profile (``cdr.vos``), the
    write order otherwise. Written out field by field, so that the compiled core renders a line
    without the interpreter; ``tests/test_sink_output.py`` holds it to ``PIPE_FIELDS``."""

    def __init__(self, places: int) -> None:
        self.fees = FeeTexts(places)

    def line(self, cdr: Cdr, end: str = "\n") -> str:
        vos = cdr.vos
        flowno = cdr.flowno if vos is None else vos.flowno
        return (f"{cdr.callere164}|{cdr.calleee164}|{cdr.starttime}|{cdr.stoptime}|"
                f"{cdr.holdtime}|{cdr.endreason}|{cdr.enddirection}|{cdr.callergatewayid}|"
                f"{cdr.calleegatewayid}|{cdr.callerip}|{cdr.calleeip}|{cdr.customeraccount}|"
                f"{cdr.feeprefix}|{cdr.feetime}|{self.fees.text(cdr.fee)}|{cdr.callerpdd}|"
                f"{cdr.billingmode}|{flowno}{end}")

    def lines(self, cdrs: list[Cdr]) -> list[str]:
        return [self.line(cdr) for cdr in cdrs]


def stoptimes(cdrs: list[Cdr]) -> list[int]:
    """The records' stoptimes, in order (what a block of them is filed by)."""
    return [cdr.stoptime for cdr in cdrs]


def only_recorded(cdrs: list[Cdr]) -> list[Cdr]:
    """The records a format of recorded CDRs takes: those not suppressed."""
    return [cdr for cdr in cdrs if cdr.recorded]
