"""ocisim: a local emulator of the OCI APIs this project uses, for the real `oci` SDK and CLI.

Layout follows moto: `api/` holds route tables and thin handlers per service, `backend/` holds state and
OCI's rules with no knowledge of HTTP, `server.py` is the one HTTP front door (auth, faults, counters).
"""
