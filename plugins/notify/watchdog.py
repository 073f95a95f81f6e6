"""The freshness watchdog's logic (dags/oci_freshness_watchdog.py): which protected volumes are past their RPO
target, read through the OCI Protection page's own catalogue and rules, and what to mail given what was mailed
before. It catches what a deadline cannot: the nightly paused or deleted, the scheduler down for a day, a volume
newly tagged. State (the breaches already mailed) lives in an Airflow Variable, not in a file."""

from __future__ import annotations

from notify.message import PREFIX, Mail, plain_mail, protection_url

STATE_VARIABLE = "oci_freshness_watchdog_state"


def breaches(page: dict) -> dict[str, dict]:
    """The page's protected rows past their RPO target (or with no verified backup at all), by volume OCID."""
    return {r["volume_id"]: {"display_name": r["display_name"], "policy": r["policy"],
                             "rpo_seconds": r["rpo_seconds"], "rpo_target_seconds": r["rpo_target_seconds"]}
            for r in page.get("protected") or [] if not r.get("compliant")}


def changes(mailed: dict[str, dict], now: dict[str, dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """(new breaches, cleared breaches): a breach already mailed is not mailed again until it clears."""
    new = {vid: row for vid, row in now.items() if vid not in mailed}
    cleared = {vid: row for vid, row in mailed.items() if vid not in now}
    return new, cleared


def _age(seconds) -> str:
    return "no verified backup" if seconds is None else f"newest verified backup {seconds / 3600:.1f} h old"


def mails(new: dict[str, dict], cleared: dict[str, dict], base_url: str) -> list[Mail]:
    """At most two mails: one naming every new breach, one naming every cleared one."""
    out = []
    if new:
        lines = [f"{len(new)} protected volume(s) past their RPO target:"]
        lines += [f"- {r['display_name']} ({vid}), policy {r['policy']}: {_age(r['rpo_seconds'])}, target "
                  f"{r['rpo_target_seconds'] / 3600:g} h" for vid, r in sorted(new.items(),
                                                                           key=lambda kv: kv[1]["display_name"])]
        lines += ["", "Is the nightly paused, failing or not scheduled? This mail is sent once per breach.",
                  f"OCI Protection: {protection_url(base_url)}"]
        out.append(plain_mail(f"{PREFIX} RPO breached: {len(new)} volume(s)", lines))
    if cleared:
        lines = [f"{len(cleared)} volume(s) back within their RPO target:"]
        lines += [f"- {r['display_name']} ({vid})" for vid, r in sorted(cleared.items(),
                                                                        key=lambda kv: kv[1]["display_name"])]
        lines += ["", f"OCI Protection: {protection_url(base_url)}"]
        out.append(plain_mail(f"{PREFIX} RPO cleared: {len(cleared)} volume(s)", lines))
    return out
