"""The one user-data renderer and hostname validator: pure functions, no API calls, no Airflow task logic.

OCI rules honoured here:
- A VNIC's `hostname_label` is an RFC 952/1123 label: 1 to 63 letters, digits and hyphens, starting with a letter
  and not ending with a hyphen; it must be unique in its subnet (checked against the subnet by the launch
  operator; within a fleet by `validate_fleet`).
- Linux honours `hostname_label` and cloud-init user data; a Windows instance launched from an image, a clone
  or a restore does not get the custom hostname, so it gets cloudbase-init user data that renames the computer
  and reboots once. Windows names follow NetBIOS: at most 15 characters, letters, digits and hyphens, not all
  digits.
- `metadata["user_data"]` is base64-encoded, and an instance's metadata is at most 32,000 bytes in all.

Templates live in `include/user_data/` (the repo's include/, or `OCI_AIRFLOW_INCLUDE_DIR`). Every error is an
OciInputError that names the field, the value and the rule.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache

from common import config
from common.errors import OciInputError

OS_TYPES = ("linux", "windows")
METADATA_LIMIT_BYTES = 32_000
LABEL_RE = re.compile(r"^[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
NETBIOS_RE = re.compile(r"^[A-Za-z0-9-]{1,15}$")
TEMPLATES = {"linux": "cloud-init.yaml.j2", "windows": "cloudbase-init.ps1.j2"}
INCLUDE_ENV = config.INCLUDE_DIR.name


# -- hostnames --------------------------------------------------------------------------------------------
def validate_os_type(os_type) -> str:
    if os_type not in OS_TYPES:
        raise OciInputError(f"os_type {os_type!r}: one of {OS_TYPES}")
    return os_type


def validate_hostname(hostname, os_type: str = "linux", field: str = "hostname") -> str:
    """A name OCI accepts as `hostname_label`; for Windows also a NetBIOS computer name."""
    validate_os_type(os_type)
    if not isinstance(hostname, str) or not hostname:
        raise OciInputError(f"{field} {hostname!r}: required, a non-empty string")
    if os_type == "windows":
        if not NETBIOS_RE.match(hostname):
            raise OciInputError(f"{field} {hostname!r}: Windows names allow letters, digits and hyphens, "
                                f"at most 15 characters")
        if hostname.isdigit():
            raise OciInputError(f"{field} {hostname!r}: Windows names cannot be all digits")
    if not LABEL_RE.match(hostname):
        raise OciInputError(f"{field} {hostname!r}: a hostname is 1 to 63 letters, digits and hyphens, starts "
                            f"with a letter and does not end with a hyphen (RFC 952/1123 label, OCI hostname_label)")
    return hostname


def validate_fleet(hostnames: list[str], os_type: str = "linux", field: str = "hostnames") -> list[str]:
    """Every name valid, and none twice: OCI refuses a second VNIC with the same hostname in a subnet
    (case-insensitive, as DNS and NetBIOS are), and would fail that launch only after it was accepted."""
    if not isinstance(hostnames, list | tuple) or not hostnames:
        raise OciInputError(f"{field} {hostnames!r}: a non-empty list of hostnames")
    for i, name in enumerate(hostnames):
        validate_hostname(name, os_type, f"{field}[{i}]")
    spellings: dict[str, list[str]] = {}
    for name in hostnames:
        spellings.setdefault(name.lower(), []).append(name)
    duplicates = [names for names in spellings.values() if len(names) > 1]
    if duplicates:
        listed = ", ".join(f"{'/'.join(sorted(set(names)))} ({len(names)}x)" for names in duplicates)
        raise OciInputError(f"{field}: duplicate hostnames in the fleet: {listed}; hostnames must be unique in a "
                            f"subnet (compared without case)")
    return list(hostnames)


PATTERN_FIELD_RE = re.compile(r"^(?:0?[<>=^]?|[^{}]?[<>=^])[+ -]?0?(?P<width>[0-9]{0,2})[dxXob]?$")
MAX_PATTERN_WIDTH = 15  # a hostname label is at most 63 characters; a NetBIOS name 15


def check_hostname_pattern(pattern, field: str = "hostname_pattern") -> str:
    """A hostname pattern is text with `{index}` fields, each with at most a format spec of a fill, an alignment,
    a width up to 15 and an integer type (`web-{index:02d}`). Nothing else reaches `str.format`: no attribute or
    item access (`{index.real}`, `{index[0]}`), no other names, no conversions, no nested fields."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > 63:
        raise OciInputError(f"{field} {str(pattern)[:80]!r}: a hostname pattern of 1 to 63 characters like "
                            f"web-{{index:02d}}")
    import string

    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise OciInputError(f"{field} {pattern!r}: unbalanced braces ({exc}); write {{index}} or "
                            f"{{index:02d}}") from None
    for _text, name, spec, conversion in parts:
        if name is None:
            continue
        if name != "index" or conversion:
            raise OciInputError(f"{field} {pattern!r}: not a format pattern with only {{index}} and a format spec "
                                f"({{{name}{'!' + conversion if conversion else ''}}} is not allowed)")
        match = PATTERN_FIELD_RE.match(spec or "")
        if not match or "{" in (spec or "") or int(match.group("width") or 0) > MAX_PATTERN_WIDTH:
            raise OciInputError(f"{field} {pattern!r}: the format spec {spec!r} of {{index}} must be a fill, an "
                                f"alignment, a width up to {MAX_PATTERN_WIDTH} and d/x/o/b, like 02d")
    return pattern


def fleet_hostnames(pattern: str, count: int, os_type: str = "linux", start: int = 1) -> list[str]:
    """The hostnames of a fleet from a pattern with `{index}` (`web-{index:02d}` → web-01, web-02, ...),
    validated as a whole: every name valid for `os_type`, no duplicates (a pattern without `{index}` names
    every instance alike). For DAG validation tasks and mapped launches (`.expand(hostname=...)`)."""
    validate_os_type(os_type)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise OciInputError(f"count {count!r}: a fleet has 1 or more instances")
    check_hostname_pattern(pattern)
    names = [pattern.format(index=i) for i in range(start, start + count)]
    try:
        return validate_fleet(names, os_type, f"hostnames from pattern {pattern!r}")
    except OciInputError as err:
        if "{index" in pattern:
            raise
        raise OciInputError(f"{err} (put {{index}} in the pattern, like web-{{index:02d}})") from None


# -- templates --------------------------------------------------------------------------------------------
def _yaml_str(value) -> str:
    """A YAML double-quoted scalar: JSON string syntax is a subset of it, so any text is safe."""
    return json.dumps(str(value), ensure_ascii=False)


def _ps_str(value) -> str:
    """A PowerShell single-quoted string (no interpolation; a quote is doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


@lru_cache(maxsize=4)
def _environment(folder: str):
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(yaml_str=_yaml_str, ps_str=_ps_str)
    return env


def render_template(name: str, **values) -> str:
    import jinja2

    folder = config.include_dir() / "user_data"
    try:
        return _environment(str(folder)).get_template(name).render(**values)
    except jinja2.TemplateNotFound:
        raise OciInputError(f"user data template {name!r}: not found in {folder} (set {INCLUDE_ENV} to the "
                            f"include/ folder)") from None


def _commands(extra, field: str = "extra_user_data") -> list[str]:
    if extra is None:
        return []
    items = [extra] if isinstance(extra, str) else extra
    if not isinstance(items, list | tuple) or not all(isinstance(c, str) and c.strip() for c in items):
        raise OciInputError(f"{field}: a command or a list of commands (non-empty strings)")
    return list(items)


def render_user_data(hostname: str, os_type: str = "linux", domain: str | None = None, extra=None) -> str:
    """The user data text: cloud-init for Linux (hostname, fqdn when the subnet's domain is known,
    `preserve_hostname: false`, `extra` as runcmd), cloudbase-init PowerShell for Windows (`extra` runs
    first, then the rename and its single guarded reboot)."""
    validate_hostname(hostname, os_type)
    commands = _commands(extra)
    if os_type == "windows":
        return render_template(TEMPLATES["windows"], hostname=hostname, commands=commands)
    fqdn = f"{hostname}.{domain}" if domain else None
    return render_template(TEMPLATES["linux"], hostname=hostname, fqdn=fqdn, runcmd=commands)


def encode_user_data(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode_user_data(value: str) -> str:
    return base64.b64decode(value, validate=True).decode("utf-8")


def check_metadata_size(metadata: dict) -> int:
    """OCI limits an instance's metadata to 32,000 bytes in all (keys and values, user_data base64-encoded);
    returns the size, raises naming user_data and the sizes when over."""
    total = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in metadata.items())
    if total > METADATA_LIMIT_BYTES:
        user_data = len(str(metadata.get("user_data", "")).encode())
        raise OciInputError(f"user_data: {user_data:,} bytes base64-encoded, {total:,} bytes of metadata in all; "
                            f"OCI allows at most {METADATA_LIMIT_BYTES:,} bytes of instance metadata")
    return total


def build_metadata(hostname: str, os_type: str = "linux", domain: str | None = None, extra=None,
                   ssh_authorized_keys=None, metadata: dict | None = None) -> dict[str, str]:
    """The instance metadata: rendered, base64-encoded `user_data`, SSH keys (Linux), and other keys given;
    checked against the 32,000-byte limit."""
    result: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if key == "user_data":
            raise OciInputError("metadata['user_data']: rendered from the hostname and extra_user_data; "
                                "pass extra commands as extra_user_data")
        if not isinstance(key, str) or not isinstance(value, str):
            raise OciInputError(f"metadata[{key!r}]: keys and values are strings")
        result[key] = value
    if ssh_authorized_keys:
        if os_type == "windows":
            raise OciInputError("ssh_authorized_keys: Windows instances take no SSH keys (OCI sets an initial "
                                "opc password instead)")
        keys = [ssh_authorized_keys] if isinstance(ssh_authorized_keys, str) else list(ssh_authorized_keys)
        for key in keys:
            if not isinstance(key, str) or not key.startswith(("ssh-", "ecdsa-", "sk-")):
                shown = key[:20] if isinstance(key, str) else key
                raise OciInputError(f"ssh_authorized_keys {shown!r}: an OpenSSH public key (ssh-ed25519 AAAA...)")
        result["ssh_authorized_keys"] = "\n".join(k.strip() for k in keys)
    result["user_data"] = encode_user_data(render_user_data(hostname, os_type, domain, extra))
    check_metadata_size(result)
    return result
