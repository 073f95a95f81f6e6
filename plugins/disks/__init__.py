"""Disk image files: what their first bytes say they are, and OCI's limits on them."""
