"""The pure core: the call state machine, the decision table, rating and end reasons.

Sans-I/O: nothing here reads a clock, opens a socket or a file, or imports a SIP stack, simpy,
pjsua2, scapy or a database. Both transports (``simulator.transports``) drive the same ``Call``.
"""
