"""Telling people: the failure mail of every DAG, the nightly's summary, the RPO deadline and the freshness
watchdog's mails, and the chat webhook beside them (docs/notifications.md)."""
