"""OciBaseHook: the one place that knows OCI auth, regions, endpoints, SDK clients, retries and waiting.

Operators hold no HTTP or auth logic; the hook holds no task logic. The `oci` SDK is imported lazily so DAG
files that import operators stay fast to parse. The service hooks (compute.py, block_storage.py,
object_storage.py, identity.py) build on this class; hooks/oci.py's OciHook combines them for users' code.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from airflow.sdk import BaseHook
from common.errors import OciInputError, OciWaitError, bounded
from common.ids import ocid_kind, validate_region

from hooks.retries import RETRY_BUDGET, RetryBudget, guard_client
from hooks.waiting import Poll, PollResult, WaitSpec

AUTH_MODES = ("api_key", "config_file", "instance_principal", "resource_principal")

# SDK client class by service kind (module path, class name): resolved lazily.
CLIENTS = {
    "compute": ("oci.core", "ComputeClient"),
    "blockstorage": ("oci.core", "BlockstorageClient"),
    "network": ("oci.core", "VirtualNetworkClient"),
    "identity": ("oci.identity", "IdentityClient"),
    "object_storage": ("oci.object_storage", "ObjectStorageClient"),
    "work_requests": ("oci.work_requests", "WorkRequestClient"),
    "instance_agent": ("oci.compute_instance_agent", "ComputeInstanceAgentClient"),
}


# What the hook can read, delete and wait on, by OCID resource type: (service, getter, deleter, gone state).
RESOURCE_API = {
    "volume": ("blockstorage", "get_volume", "delete_volume", "TERMINATED"),
    "bootvolume": ("blockstorage", "get_boot_volume", "delete_boot_volume", "TERMINATED"),
    "volumebackup": ("blockstorage", "get_volume_backup", "delete_volume_backup", "TERMINATED"),
    "bootvolumebackup": ("blockstorage", "get_boot_volume_backup", "delete_boot_volume_backup", "TERMINATED"),
    "volumegroup": ("blockstorage", "get_volume_group", "delete_volume_group", "TERMINATED"),
    "volumegroupbackup": ("blockstorage", "get_volume_group_backup", "delete_volume_group_backup", "TERMINATED"),
    "image": ("compute", "get_image", "delete_image", "DELETED"),
    "instance": ("compute", "get_instance", "terminate_instance", "TERMINATED"),
    "volumeattachment": ("compute", "get_volume_attachment", "detach_volume", "DETACHED"),
}
FAILURE_STATES = {"FAULTY", "FAILED", "TERMINATED", "TERMINATING", "DELETED", "DISABLED", "DETACHED"}

# One SDK client per connection, service and region per process (see OciBaseHook.get_client), and one parsed key.
_SHARED_LOCK = threading.Lock()
_SHARED_AUTH: dict[str, tuple[dict, Any]] = {}
_SHARED_CLIENTS: dict[tuple[str, str, str], Any] = {}


def shared_client_count() -> int:
    """How many SDK clients this process holds (tests read it to show one per connection and region)."""
    with _SHARED_LOCK:
        return len(_SHARED_CLIENTS)


def _key_signer(config: dict):
    """The API-key signer, made once: building it parses the private key, which costs more than the rest of
    a client."""
    import oci

    return oci.signer.Signer(config["tenancy"], config["user"], config["fingerprint"], config.get("key_file"),
                             config.get("pass_phrase"), config.get("key_content"))


class OciBaseHook(BaseHook):
    """What every OCI hook shares: connection `oci_default` (conn_type `oci`, extras choose the auth mode), the
    signer, one SDK client per connection, service and region per process, the retry strategy, listing, resources
    by OCID and waiting. The service hooks (compute, block storage, object storage, identity) add their calls on
    top; `OciHook` (hooks/oci.py) is all of them at once."""

    conn_name_attr = "oci_conn_id"
    default_conn_name = "oci_default"
    conn_type = "oci"
    hook_name = "Oracle Cloud Infrastructure"

    def __init__(self, oci_conn_id: str = default_conn_name, region: str | None = None):
        super().__init__()
        self.oci_conn_id = oci_conn_id
        self._region = region
        self._clients: dict[tuple[str, str], Any] = {}
        self._config: dict | None = None
        self._signer = None
        self._extras: dict | None = None

    # -- connection and auth ---------------------------------------------------------------------------
    @property
    def extras(self) -> dict:
        if self._extras is None:
            conn = self.get_connection(self.oci_conn_id)
            self._extras = dict(conn.extra_dejson)
        return self._extras

    @property
    def region(self) -> str:
        region = self._region or self.extras.get("region") or self._sdk_config().get("region")
        if not region:
            raise OciInputError(f"connection {self.oci_conn_id!r}: no region in the extras and none given")
        return region

    def _auth_key(self) -> str:
        """What identifies one connection's auth in this process: a digest (never the key itself) of the
        connection id and its extras (and the hook's region when the extras have none: it is then the config's)."""
        region = None if self.extras.get("region") else self._region
        raw = json.dumps([self.oci_conn_id, self.extras, region], sort_keys=True, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()

    def _sdk_config(self) -> dict:
        if self._config is None:
            from common.masking import mask

            key = self._auth_key()
            with _SHARED_LOCK:
                if key not in _SHARED_AUTH:
                    _SHARED_AUTH[key] = self._build_auth()
                self._config, self._signer = _SHARED_AUTH[key]
            # registered again per hook: a masker reset (a new task, a test) must not unmask a cached key
            mask(self._config.get("key_content"), self._config.get("pass_phrase"))
        return self._config

    def _build_auth(self) -> tuple[dict, Any]:
        import oci
        from common.masking import mask

        extras = self.extras
        mode = extras.get("auth", "api_key")
        if mode not in AUTH_MODES:
            raise OciInputError(f"connection {self.oci_conn_id!r} extra 'auth' {mode!r}: one of {AUTH_MODES}")
        if mode == "config_file":
            config = oci.config.from_file(extras.get("config_file", oci.config.DEFAULT_LOCATION),
                                          extras.get("profile", "DEFAULT"))
            mask(config.get("key_content"), config.get("pass_phrase"))
            return config, _key_signer(config)
        if mode == "api_key":
            missing = [k for k in ("tenancy", "user", "fingerprint") if not extras.get(k)]
            if not (extras.get("key_content") or extras.get("key_file")):
                missing.append("key_content or key_file")
            if not (extras.get("region") or self._region):
                missing.append("region")
            if missing:
                raise OciInputError(f"connection {self.oci_conn_id!r}: auth api_key needs extras {missing}")
            mask(extras.get("key_content"), extras.get("pass_phrase"))
            config = {k: extras[k] for k in ("tenancy", "user", "fingerprint", "key_content", "key_file",
                                              "pass_phrase") if extras.get(k)}
            config["region"] = extras.get("region") or self._region
            oci.config.validate_config(config)
            return config, _key_signer(config)
        if mode == "instance_principal":
            signer = oci.auth.signers.InstancePrincipalsSecurityTokenSigner()
        else:
            signer = oci.auth.signers.get_resource_principals_signer()
        return {"region": extras.get("region") or signer.region, "tenancy": signer.tenancy_id}, signer

    def endpoint(self, region: str) -> str | None:
        """`service_endpoints` {region: url} or `service_endpoint`: how tests and the demo reach ocisim."""
        per_region = self.extras.get("service_endpoints") or {}
        return per_region.get(region) or (self.extras.get("service_endpoint") if region == self.region else None)

    @property
    def retry_budget(self) -> RetryBudget:
        """RETRY_BUDGET with the connection's `max_attempts` extra, if set."""
        return RetryBudget(int(self.extras.get("max_attempts", RETRY_BUDGET.sdk_attempts)), RETRY_BUDGET.sdk_seconds,
                           RETRY_BUDGET.task_retries, RETRY_BUDGET.task_retry_delay)

    @property
    def retry_strategy(self):
        """429, 5xx, timeouts and 409 IncorrectState are retried on every call, creates included (they carry
        a retry token, so a retried create cannot duplicate), within the retry budget."""
        import oci

        budget = self.retry_budget
        return oci.retry.RetryStrategyBuilder(
            max_attempts_check=True, max_attempts=budget.sdk_attempts,
            total_elapsed_time_check=True, total_elapsed_time_seconds=budget.sdk_seconds,
            service_error_check=True,
            service_error_retry_config={429: [], 409: ["IncorrectState"]},
            service_error_retry_on_any_5xx=True,
        ).get_retry_strategy()

    def get_client(self, service: str, region: str | None = None):
        """The SDK client of this connection for a service and region: one per process, shared by every hook
        (every trigger of a triggerer, every operator of a worker process), so the key is parsed once and the
        connection pool is reused. Safe across threads: an SDK call keeps its state in its own frame; the shared
        parts are the signer (read-only) and the requests session (urllib3's pool is thread-safe)."""
        if service not in CLIENTS:
            raise OciInputError(f"service {service!r}: one of {sorted(CLIENTS)}")
        region = validate_region(region or self.region)
        key = (service, region)
        if key not in self._clients:
            shared_key = (self._auth_key(), service, region)
            with _SHARED_LOCK:
                shared = _SHARED_CLIENTS.get(shared_key)
            if shared is None:
                shared = self._new_client(service, region)
                with _SHARED_LOCK:
                    shared = _SHARED_CLIENTS.setdefault(shared_key, shared)
            self._clients[key] = shared
        return self._clients[key]

    def _new_client(self, service: str, region: str):
        import importlib

        import oci

        module, name = CLIENTS[service]
        cls = getattr(importlib.import_module(module), name)
        config = dict(self._sdk_config(), region=region)
        kwargs: dict[str, Any] = {"retry_strategy": self.retry_strategy}
        if self._signer is not None:
            kwargs["signer"] = self._signer
        endpoint = self.endpoint(region)
        if endpoint:
            kwargs["service_endpoint"] = endpoint
        elif self.extras.get("service_endpoint") or self.extras.get("service_endpoints"):
            raise OciInputError(f"region {region!r}: the connection {self.oci_conn_id!r} has no endpoint "
                                f"for it in extra 'service_endpoints'")
        elif not oci.regions.is_region(region):
            # the SDK would build a hostname for it and fail slowly in DNS; say so now
            raise OciInputError(f"region {region!r}: not a region the OCI SDK knows (see oci.regions.REGIONS)")
        return guard_client(cls(config, **kwargs))

    @property
    def tenancy_id(self) -> str:
        return self._sdk_config()["tenancy"]

    def server_time(self) -> datetime:
        """OCI's clock (the `Date` of a cheap call), not this machine's: plans and retention compare it with
        backup times OCI wrote, so local clock skew cannot turn a FULL into an INCREMENTAL or expire a backup."""
        response = self.get_client("identity").list_regions()
        return email.utils.parsedate_to_datetime(response.headers["date"])

    def test_connection(self) -> tuple[bool, str]:
        try:
            regions = self.get_client("identity").list_regions().data
            self.get_client("identity").get_compartment(self.tenancy_id)
            return True, f"Connected to {self.region}; {len(regions)} regions visible"
        except Exception as exc:  # the UI shows the message; never the key
            import oci

            kind = "ServiceError" if isinstance(exc, oci.exceptions.ServiceError) else type(exc).__name__
            return False, f"{kind}: {bounded(getattr(exc, 'message', exc))}"

    # -- listing ----------------------------------------------------------------------------------------
    def pages(self, call: Callable, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Each response of a list call, following `opc-next-page`. Each page is tried with the client's own
        retry strategy (or `retry_strategy=` if given), so a failing list call gives up within the retry
        budget; `oci.pagination.list_call_get_all_results` wraps every page in the SDK's default strategy on
        top of the client's, and retried nested for ~100 s.

        :param call: a bound SDK list method, e.g. ``hook.get_client("compute").list_instances``
        :param args: its positional arguments (usually the compartment OCID)
        :param kwargs: its keyword arguments (filters, ``retry_strategy``)
        """
        page = None
        while True:
            response = call(*args, **kwargs, **({"page": page} if page else {}))
            yield response
            page = response.next_page
            if not page:
                return

    def list_all(self, call: Callable, *args: Any, **kwargs: Any) -> list:
        """Every item of a list call, all pages (see `pages` for the retry behaviour).

        :param call: a bound SDK list method
        :param args: its positional arguments
        :param kwargs: its keyword arguments
        """
        return [item for response in self.pages(call, *args, **kwargs) for item in response.data]


    # -- where ------------------------------------------------------------------------------------------
    def availability_domains(self, compartment_id: str | None = None, region: str | None = None,
                             **call_kwargs: Any) -> list[str]:
        """The names of the region's availability domains.

        :param compartment_id: the compartment asked; None: the tenancy
        :param region: the region; None: the connection's
        :param call_kwargs: passed to the SDK call (e.g. retry_strategy)
        """
        return [ad.name for ad in self.get_client("identity", region).list_availability_domains(
            compartment_id or self.tenancy_id, **call_kwargs).data]

    # -- resources by OCID ------------------------------------------------------------------------------
    def resource_api(self, resource_id: str) -> tuple[str, str, str, str]:
        kind = ocid_kind(resource_id)
        if kind not in RESOURCE_API:
            raise OciInputError(f"resource_id {resource_id!r}: type '{kind}' is not one of {sorted(RESOURCE_API)}")
        return RESOURCE_API[kind]

    def get_resource(self, resource_id: str, region: str | None = None):
        service, getter, _, _ = self.resource_api(resource_id)
        return getattr(self.get_client(service, region), getter)(resource_id).data



    def lifecycle_spec(self, resource_id: str, target_states: list[str], failure_states: list[str] | None = None,
                       region: str | None = None) -> WaitSpec:
        """Wait on any resource by OCID; failure states default to those that cannot lead to the targets."""
        service, getter, _, gone = self.resource_api(resource_id)
        failures = failure_states if failure_states is not None else sorted(FAILURE_STATES - set(target_states))
        return WaitSpec(service, getter, resource_id, list(target_states), failures, region=region,
                        not_found_ok=gone in target_states)

    def delete_resource(self, resource_id: str, region: str | None = None, wait: bool = False,
                        poll: Poll | None = None) -> bool:
        """Delete (terminate, detach) by OCID; False when it was already gone. Teardown tasks and on_kill use it."""
        import oci

        service, _, deleter, gone = self.resource_api(resource_id)
        try:
            getattr(self.get_client(service, region), deleter)(resource_id)
        except oci.exceptions.ServiceError as err:
            if err.status == 404:
                return False
            raise
        if wait:
            self.wait(self.lifecycle_spec(resource_id, [gone], [], region), poll)
        return True


    def failed_work_request(self, response, region: str | None = None) -> str | None:
        """The id of the work request behind a create's response when it already FAILED or was CANCELED (a
        retry token that adopted an earlier try's failure), else None."""
        wr_id = (getattr(response, "headers", None) or {}).get("opc-work-request-id")
        if not wr_id:
            return None
        status = self.get_client("work_requests", region).get_work_request(wr_id).data.status
        return wr_id if status in ("FAILED", "CANCELED") else None

    # -- waiting ---------------------------------------------------------------------------------------
    def poll_once(self, spec: WaitSpec) -> PollResult:
        """One look at the resource: the same code for the blocking wait and the trigger."""
        import oci

        client = self.get_client(spec.service, spec.region)
        try:
            response = getattr(client, spec.getter)(spec.resource_id, **spec.getter_kwargs)
            data = response.data
        except oci.exceptions.ServiceError as err:
            if err.status == 404 and spec.not_found_ok:
                return PollResult(True, "NOT_FOUND", {"id": spec.resource_id})
            if err.status == 404:
                return PollResult(True, None, {"id": spec.resource_id},
                                  f"{spec.resource_id} not found while waiting: {err.message}")
            raise
        state = getattr(data, spec.state_field, None)
        as_dict = oci.util.to_dict(data)
        percent = getattr(data, "percent_complete", None)
        observed = response.headers.get("date")
        if state in spec.failure_states:
            return PollResult(True, state, as_dict, self._failure_text(spec, data, state), percent, observed)
        return PollResult(state in spec.target_states, state, as_dict, None, percent, observed)

    def _failure_text(self, spec: WaitSpec, data, state: str) -> str:
        if spec.service == "work_requests":
            errors = self.get_client("work_requests", spec.region).list_work_request_errors(spec.resource_id).data
            text = "; ".join(f"{e.code}: {e.message}" for e in errors) or "no error details"
            return f"work request {spec.resource_id} ({data.operation_type}) {state}: {text}"
        return f"{spec.resource_id} reached {spec.state_field} {state} (waiting for {spec.target_states})"

    def wait(self, spec: WaitSpec, poll: Poll | None = None, on_progress: Callable[[PollResult], None] | None = None
             ) -> dict:
        """Block until the spec is met; raise OciWaitError with OCI's text on failure or deadline."""
        poll = poll or Poll()
        while True:
            result = self.poll_once(spec)
            if on_progress:
                on_progress(result)
            else:
                self.log.info("%s %s: %s%s", spec.getter, spec.resource_id, result.state,
                              f" ({result.percent:.0f}%)" if result.percent is not None else "")
            if result.error:
                raise OciWaitError(result.error)
            if result.done:
                return result.data
            try:
                time.sleep(poll.next_delay())
            except TimeoutError:
                raise OciWaitError(f"{spec.resource_id} still {result.state} after {poll.timeout:.0f}s "
                                   f"(waiting for {spec.target_states})") from None
