"""Key material must never reach a log: register it with Airflow's masker, whose default names miss
`key_content` and `pass_phrase`."""

from __future__ import annotations


def mask(*secrets: str | None) -> None:
    from airflow.sdk.log import mask_secret

    for secret in secrets:
        if secret:
            mask_secret(secret)
            # a PEM is logged line by line too (tracebacks, repr of dicts with \n escaped)
            for line in str(secret).splitlines():
                if len(line) > 16:
                    mask_secret(line)
