"""The detach and re-attach steps' pure parts: the cleanup script and the row each detached volume leaves."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from common.errors import OciInputError
from operators.detached_volumes import (
    ISCSI_CLEANUP_COMMANDS,
    ISCSI_CLEANUP_PREAMBLE,
    check_cleanup_template,
    cleanup_script,
    detach_entry,
)

ATT = SimpleNamespace(id="ocid1.volumeattachment.oc1.iad.a1", volume_id="ocid1.volume.oc1.iad.v1", iqn="iqn.x:1",
                      ipv4="169.254.2.2", port=3260, device="/dev/oracleoci/oraclevdb", attachment_type="iscsi",
                      is_read_only=None, is_shareable=True, display_name="data", chap_username="u",
                      is_agent_auto_iscsi_login_enabled=None)


def test_cleanup_script_logs_out_of_each_target_once():
    other = SimpleNamespace(**{**vars(ATT), "id": "a2", "iqn": "iqn.x:2", "device": None})
    script = cleanup_script(ISCSI_CLEANUP_COMMANDS, [ATT, other])
    assert script.startswith(ISCSI_CLEANUP_PREAMBLE)
    assert script.count("iscsiadm -m node -T iqn.x:1 -p 169.254.2.2:3260 -u || true") == 1
    assert "iscsiadm -m node -o delete -T iqn.x:2 -p 169.254.2.2:3260 || true" in script
    assert "(, volume ocid1.volume.oc1.iad.v1)" in script  # no device: an empty placeholder, not "None"


def test_cleanup_template_names_only_attachment_fields():
    check_cleanup_template("logout {iqn} {ipv4}:{port} {device} {volume_id} {attachment_id}")
    for bad in ("logout {target}", "{0}", "unbalanced {", None):
        with pytest.raises(OciInputError, match="iscsi_cleanup_script: a per-attachment template"):
            check_cleanup_template(bad)


def test_detach_entry_keeps_what_reattaching_needs():
    assert detach_entry(ATT) == {
        "attachment_id": ATT.id, "volume_id": ATT.volume_id, "device": ATT.device, "type": "iscsi",
        "is_read_only": False, "is_shareable": True, "display_name": "data", "use_chap": True,
        "is_agent_auto_iscsi_login_enabled": False}
