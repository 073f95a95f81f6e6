"""Backends: state and OCI's rules, one module per service; no HTTP in here."""
