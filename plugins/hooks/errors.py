"""Errors users see: bad input (raised before any API call) and failed waits (with OCI's text)."""

from airflow.exceptions import AirflowException


class OciInputError(AirflowException, ValueError):
    """Bad input: names the field, the value (never a secret) and the rule."""


class OciWaitError(AirflowException):
    """A wait that ended badly: a FAILED work request, a terminal state, a 404 or a deadline."""
