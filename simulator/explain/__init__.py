"""Explaining one call: why it ended the way it did, shown as data first, then rendered.

``explain_call`` runs the scenario with the trace on and builds an ``Explanation``: the call's
header, its ladder (messages and the core's own events, in order) and its CDR field by field
with the provenance of each value. Renderers turn that one object into a terminal view
(``render_terminal``), one JSON document (``Explanation.to_dict``), a self-contained HTML page
(``render_html``) and a pcap of real SIP and H.225.0 (``write_pcap``).
"""

from simulator.explain._build import ExplainError, explain_call, explain_trace
from simulator.explain._cli import add_parser
from simulator.explain._model import CdrField, Entry, Explanation
from simulator.explain._terminal import render_terminal

__all__ = [
    "CdrField",
    "Entry",
    "ExplainError",
    "Explanation",
    "add_parser",
    "explain_call",
    "explain_trace",
    "render_terminal",
]

