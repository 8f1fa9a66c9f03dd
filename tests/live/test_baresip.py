"""baresip (a real softphone, Debian's package) as the caller of `vossim live` (issue 23): one call
through the switch to a SIPp gateway, hung up by baresip, with the CDR it must leave."""

from __future__ import annotations

import shutil
import subprocess

import pytest

CONFIG = """\
poll_method epoll
sip_listen 127.0.0.1:{port}
sip_transports udp
audio_player aufile,/dev/null
audio_alert aufile,/dev/null
audio_source ausine,440
ausrc_srate 48000
auplay_srate 48000
ausrc_channels 2
auplay_channels 2
module_path /usr/lib/baresip/modules
module stdio.so
module g711.so
module ausine.so
module aufile.so
module account.so
module menu.so
rtp_ports {rtp}-{rtp_end}
"""
SCENARIO = """\
version: 1
name: baresip
switch: {{media_timeout: 0, SS_SIP_SESSION_TTL: 0}}
accounts:
  ACME: {{type: postpaid, rate_table: retail}}
rate_tables:
  retail: [{{prefix: "880", fee: 0.25, period: 60}}]
mapping_gateways:
  BARESIP: {{account: ACME, ips: ["127.0.0.1:{caller}"], session_timer: false}}
routing_gateways:
  SIPP-UAS: {{ip: "127.0.0.1:{uas}", prefixes: ["880"]}}
"""


def test_baresip_call_through_the_switch(kit):
    baresip = shutil.which("baresip")
    if baresip is None:
        pytest.fail("baresip is not installed (make system-deps installs it)")
    config = kit.tmp / "baresip"
    config.mkdir()
    caller = kit.uac_port
    (config / "config").write_text(CONFIG.format(port=caller, rtp=kit.base + 4,
                                                 rtp_end=kit.base + 9))
    (config / "accounts").write_text("<sip:100@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    (config / "contacts").write_text("")
    scenario = kit.scenario(SCENARIO.format(caller=caller, uas=kit.uas_port))
    switch = kit.switch(scenario, 7)
    kit.uas("-sn", "uas", "-m", "1")
    # baresip dials, the call is answered, and baresip quits (hangs up with BYE) after 3 s
    done = subprocess.run([baresip, "-f", str(config), "-e",
                           f"/dial sip:8801711000001@127.0.0.1:{kit.switch_port}", "-t", "3"],
                          capture_output=True, text=True, timeout=20)
    assert "Call established" in done.stdout, done.stdout[-2000:] + done.stderr[-1000:]
    (cdr,) = switch.finish()
    assert (cdr["enddirection"], cdr["endreason"]) == (0, 11)
    assert cdr["callergatewayid"] == "BARESIP" and cdr["calleegatewayid"] == "SIPP-UAS"
    assert 2 <= cdr["holdtime"] <= 4 and cdr["billingmode"] == 1 and cdr["feeprefix"] == "880"
    assert cdr["callerpdd"] < 500  # the SIPp gateway rings at once
