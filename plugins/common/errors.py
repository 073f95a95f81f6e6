"""Errors users see: bad input (raised before any API call) and failed waits (with OCI's text)."""

from airflow.sdk.exceptions import AirflowException, AirflowFailException

MESSAGE_LIMIT = 2000  # characters: an echoed megabyte of input must not become a megabyte of log
OCI_TEXT_LIMIT = 600  # characters of any one text of OCI's (a ServiceError's message) we raise or log


def bounded(text: object, limit: int = OCI_TEXT_LIMIT) -> str:
    """Error text cut to `limit` characters: an echoed 1 MB value must not become a 1 MB log line."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters in all)"


def shown(value: object, limit: int = 120) -> str:
    """A value as an error message quotes it: its repr, cut short (an input can be a megabyte)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class OciInputError(AirflowFailException, ValueError):
    """Bad input: names the field, the value (never a secret) and the rule. Fails without retries: another try
    with the same input cannot succeed. The message is bounded in size."""

    def __init__(self, message: object = "", *args):
        super().__init__(bounded(message, MESSAGE_LIMIT), *args)


class OciWaitError(AirflowException):
    """A wait that ended badly: a FAILED work request, a terminal state, a 404 or a deadline. Bounded in size."""

    def __init__(self, message: object = "", *args):
        super().__init__(bounded(message, MESSAGE_LIMIT), *args)
