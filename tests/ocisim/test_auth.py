"""Request signatures: what the real signer produces passes; anything altered or unknown is 401."""

from __future__ import annotations

import email.utils
import time

import oci
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _signer(ocisim, key_file: str | None = None, fingerprint: str | None = None):
    cfg = ocisim.config()
    return oci.signer.Signer(cfg["tenancy"], cfg["user"], fingerprint or cfg["fingerprint"],
                             key_file or cfg["key_file"])


def _compartment_url(ocisim) -> str:
    return f"{ocisim.endpoints['us-ashburn-1']}/20160918/compartments/{ocisim.tenancy['compartment_id']}"


def _assert_401(resp):
    assert resp.status_code == 401, resp.text
    assert resp.json()["code"] == "NotAuthenticated"
    assert resp.headers["opc-request-id"]


def test_signed_request_passes(ocisim):
    resp = requests.get(_compartment_url(ocisim), auth=_signer(ocisim))
    assert resp.status_code == 200
    assert resp.json()["id"] == ocisim.tenancy["compartment_id"]


def test_unsigned_request_is_401(ocisim):
    _assert_401(requests.get(_compartment_url(ocisim)))


def test_unknown_key_is_401(ocisim, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "other.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    _assert_401(requests.get(_compartment_url(ocisim), auth=_signer(ocisim, str(path), "aa:bb")))
    # a known keyId with another private key does not verify either
    _assert_401(requests.get(_compartment_url(ocisim), auth=_signer(ocisim, str(path))))


def test_tampered_body_is_401(ocisim):
    url = f"{ocisim.endpoints['us-ashburn-1']}/20160918/volumes"
    body = f'{{"compartmentId": "{ocisim.tenancy["compartment_id"]}", "availabilityDomain": "x"}}'
    prepared = requests.Request("POST", url, data=body, headers={"content-type": "application/json"}).prepare()
    _signer(ocisim)(prepared)
    prepared.body = body.replace('"x"', '"y"')  # same length, different bytes
    before = ocisim.admin.counters().get("CreateVolume", 0)
    _assert_401(requests.Session().send(prepared))
    assert ocisim.admin.counters().get("CreateVolume", 0) == before  # refused before any handler ran


def test_signature_for_other_path_is_401(ocisim):
    prepared = requests.Request("GET", _compartment_url(ocisim)).prepare()
    _signer(ocisim)(prepared)
    prepared.url = f"{ocisim.endpoints['us-ashburn-1']}/20160918/regions"
    _assert_401(requests.Session().send(prepared))


@pytest.mark.parametrize("skew", [-400, 400])
def test_skewed_date_is_401(ocisim, skew):
    prepared = requests.Request("GET", _compartment_url(ocisim)).prepare()
    prepared.headers["date"] = email.utils.formatdate(time.time() + skew, usegmt=True)
    _signer(ocisim)(prepared)
    _assert_401(requests.Session().send(prepared))


def test_small_skew_is_accepted(ocisim):
    prepared = requests.Request("GET", _compartment_url(ocisim)).prepare()
    prepared.headers["date"] = email.utils.formatdate(time.time() - 120, usegmt=True)
    _signer(ocisim)(prepared)
    assert requests.Session().send(prepared).status_code == 200


def test_admin_api_is_never_open(ocisim):
    url = f"{ocisim.endpoints['us-ashburn-1']}/_ocisim/counters"
    _assert_401(requests.get(url))
    _assert_401(requests.get(url, headers={"x-ocisim-admin-token": "wrong"}))
    assert requests.get(url, auth=_signer(ocisim)).status_code == 200  # a valid OCI signature also works
