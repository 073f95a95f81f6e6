"""First start of a state directory: the tenancy, an API key registered with ocisim, and the files a client
needs (`config`, the private key, `tenancy.json`), so any SDK or CLI user starts with `--config-file DIR/config`."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .auth import fingerprint
from .ids import new_ocid
from .sim import Sim

KEY_FILE = "oci_api_key.pem"


def ensure_identity(sim: Sim) -> dict:
    """Tenancy, user and key: made once, then read back on every restart."""
    identity = sim.store.meta_get("identity")
    if identity:
        return identity
    tenancy = sim.identity.tenancy() or sim.identity.create_tenancy()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    user = new_ocid("user")
    fp = fingerprint(public_pem)
    sim.store.add_key(f"{tenancy['id']}/{user}/{fp}", public_pem)
    key_path = sim.state_dir / KEY_FILE
    key_path.write_text(private_pem)
    key_path.chmod(0o600)
    identity = {"tenancy": tenancy["id"], "user": user, "fingerprint": fp, "key_file": str(key_path)}
    sim.store.meta_set("identity", identity)
    return identity


def write_client_files(sim: Sim, endpoints: dict[str, str], summary: dict) -> None:
    """DIR/config (profile DEFAULT, home region) and DIR/tenancy.json (ids and region endpoints)."""
    identity = ensure_identity(sim)
    home = sim.regions[0].name
    config = (
        "[DEFAULT]\n"
        f"user={identity['user']}\n"
        f"fingerprint={identity['fingerprint']}\n"
        f"tenancy={identity['tenancy']}\n"
        f"region={home}\n"
        f"key_file={identity['key_file']}\n"
    )
    path = sim.state_dir / "config"
    path.write_text(config)
    path.chmod(0o600)
    info = {"tenancy_id": identity["tenancy"], "user_id": identity["user"],
            "fingerprint": identity["fingerprint"], "home_region": home,
            "regions": endpoints, **summary}
    (sim.state_dir / "tenancy.json").write_text(json.dumps(info, indent=2) + "\n")


def read_tenancy(state_dir: Path) -> dict:
    return json.loads((Path(state_dir) / "tenancy.json").read_text())
