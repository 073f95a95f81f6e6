"""Errors users see: bad input (raised before any API call) and failed waits (with OCI's text)."""

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class OciInputError(AirflowFailException, ValueError):
    """Bad input: names the field, the value (never a secret) and the rule. Fails without retries: another try
    with the same input cannot succeed."""


class OciWaitError(AirflowException):
    """A wait that ended badly: a FAILED work request, a terminal state, a 404 or a deadline."""
