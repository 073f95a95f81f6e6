"""Disk image files: what their first bytes say they are, and what OCI accepts of an image (formats, size,
launch modes)."""
