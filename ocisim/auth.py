"""OCI request signatures (draft-cavage HTTP signatures, rsa-sha256), checked as OCI checks them.

The SDK signs `date (request-target) host` and, for bodies it hashes, `content-length content-type
x-content-sha256`. We rebuild the signing string from what arrived: the host header with its port, the raw
request target, the body hash; and reject a date more than five minutes from now.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from .errors import OciError

MAX_SKEW_SECONDS = 300
REQUIRED = ("date", "(request-target)", "host")
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def unauthenticated(reason: str) -> OciError:
    # OCI's message stays generic; the reason goes to ocisim's log to help whoever debugs a client.
    err = OciError(401, "NotAuthenticated",
                   "The required information to complete authentication was not provided or was incorrect.")
    err.reason = reason
    return err


def verify(method: str, target: str, headers, body: bytes, lookup_key) -> str:
    """Return the keyId of a validly signed request, or raise 401 NotAuthenticated."""
    auth = headers.get("authorization") or ""
    if not auth.startswith("Signature "):
        raise unauthenticated("no Signature authorization header")
    params = dict(_PARAM.findall(auth))
    key_id, signature = params.get("keyId"), params.get("signature")
    signed = params.get("headers", "date").lower().split()
    if not key_id or not signature:
        raise unauthenticated("keyId or signature missing")
    if params.get("algorithm", "rsa-sha256") != "rsa-sha256":
        raise unauthenticated("algorithm is not rsa-sha256")
    if any(h not in signed for h in REQUIRED):
        raise unauthenticated(f"signed headers {signed} lack one of {REQUIRED}")
    pem = lookup_key(key_id)
    if pem is None:
        raise unauthenticated(f"unknown keyId {key_id}")

    lines = []
    for name in signed:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
        else:
            value = headers.get(name)
            if value is None:
                raise unauthenticated(f"signed header {name} not sent")
            lines.append(f"{name}: {value}")
    public_key = serialization.load_pem_public_key(pem.encode())
    try:
        public_key.verify(base64.b64decode(signature), "\n".join(lines).encode(),
                          padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise unauthenticated("signature does not verify") from exc

    if "x-content-sha256" in signed:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if digest != headers.get("x-content-sha256"):
            raise unauthenticated("x-content-sha256 does not match the body")
    date = headers.get("x-date") or headers.get("date")
    try:
        sent = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError) as exc:
        raise unauthenticated("date header unparsable") from exc
    if abs(time.time() - sent) > MAX_SKEW_SECONDS:
        raise unauthenticated("date header more than 5 minutes from now")
    return key_id


def fingerprint(public_pem: str) -> str:
    """OCI's key fingerprint: MD5 of the DER public key, colon-separated."""
    der = serialization.load_pem_public_key(public_pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.md5(der).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
