"""`common.masking.mask` registers key material with Airflow's masker, whose default sensitive names miss
`key_content` and `pass_phrase`, so the worker's log redaction catches a careless line that prints it."""

from __future__ import annotations

import json
import secrets

from common.masking import mask


def test_mask_registers_key_material_with_airflows_masker():
    from airflow.sdk._shared.secrets_masker import redact
    from airflow.sdk.log import mask_logs

    body = [secrets.token_urlsafe(48) for _ in range(4)]
    pem = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n"
    passphrase = secrets.token_urlsafe(18)
    config = {"key_content": pem, "pass_phrase": passphrase, "fingerprint": "aa:bb:cc"}
    # Airflow's sensitive names do not cover these: nothing would be hidden without our mask()
    before = redact(f"careless {config}")
    assert all(line in before for line in body) and passphrase in before
    assert all(line in redact(config)["key_content"] for line in body)

    mask(pem, passphrase, None, "")
    assert redact(passphrase) == "***"
    assert redact(body[1]) == "***"
    assert redact(f"line two is {body[1]}") == "line two is ***"  # a PEM logged line by line
    masked = redact(f"careless {config}")  # a repr escapes the newlines: each line is still a pattern
    assert not any(line in masked for line in body) and passphrase not in masked
    assert redact(config)["fingerprint"] == "aa:bb:cc"  # what is not secret stays readable
    # the worker's log processor (what Airflow runs over every task log event) now hides a careless line
    event = mask_logs(None, "info", {"event": f"careless extras={config}", "config": config})
    assert not any(line in json.dumps(event) for line in body) and passphrase not in json.dumps(event)
