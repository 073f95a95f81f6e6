"""The one error type of ocisim, serialised in one place (server.py) as OCI's {"code", "message"} body."""


class OciError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(what: str = "resource") -> OciError:
    # OCI answers the same for "absent" and "not yours", so callers learn nothing about other tenancies.
    return OciError(404, "NotAuthorizedOrNotFound", f"Authorization failed or requested {what} not found.")


def invalid(message: str) -> OciError:
    return OciError(400, "InvalidParameter", message)


def missing(field: str) -> OciError:
    return OciError(400, "MissingParameter", f"Missing required parameter '{field}'.")


def conflict(message: str, code: str = "Conflict") -> OciError:
    return OciError(409, code, message)


def incorrect_state(message: str) -> OciError:
    return OciError(409, "IncorrectState", message)
