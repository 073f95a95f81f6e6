"""OciHook: the one place that knows OCI auth, regions, endpoints, SDK clients, retries, waiting and console URLs.

Operators hold no HTTP or auth logic; the hook holds no task logic. The `oci` SDK is imported lazily so DAG
files that import operators stay fast to parse.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import BaseHook
from common.errors import OciInputError, OciWaitError, bounded
from common.ids import ocid_kind, validate_region

from hooks.block_storage import OciBlockStorageMethods
from hooks.compute import OciComputeMethods
from hooks.permissions import OciPermissionChecks
from hooks.references import OciReferenceChecks
from hooks.removals import OciRemovalMethods

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


def retry_token(dag_id: str, run_id: str, task_id: str, map_index: int = -1, purpose: str = "",
                request: Any = None) -> str:
    """The one opc-retry-token: the same for every try of one task instance, so a retry adopts what an earlier
    try made (OCI keeps tokens 24 h); `purpose` separates several creates within one task. With `request`, a
    digest of it is folded in, so a changed request gets a new token instead of 409 InvalidatedRetryToken (the
    hook folds every create's body in this way: `fold_request`). 64 chars max."""
    raw = "\x1f".join([dag_id, run_id, task_id, str(map_index), purpose])
    token = hashlib.sha256(raw.encode()).hexdigest()[:64]
    return fold_request(token, request) if request is not None else token


def request_digest(request: Any) -> str:
    """A stable digest of a request body (an SDK model, a dict, a list): what identifies the thing created."""
    if hasattr(request, "swagger_types") or isinstance(request, (list, tuple)):
        import oci

        request = oci.util.to_dict(request)
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def fold_request(token: str, request: Any) -> str:
    """`token` bound to this request: the same request keeps it (a retry adopts), another gets another."""
    return hashlib.sha256(f"{token}\x1f{request_digest(request)}".encode()).hexdigest()[:64]


def next_token(token: str, failed_id: str) -> str:
    """The token after a create whose resource or work request FAILED: a retry must not adopt that failure."""
    return hashlib.sha256(f"{token}\x1ffailed\x1f{failed_id}".encode()).hexdigest()[:64]


# -- retries ------------------------------------------------------------------------------------------------
# A retry cannot fix these: bad request, not authenticated, not authorized or not found, wrong method, too large,
# URI too long, unprocessable. They fail the task at once (no Airflow task retries). 409 IncorrectState, 429, 5xx
# and timeouts are retried by the SDK, then by Airflow.
FAIL_FAST_STATUSES = frozenset({400, 401, 403, 404, 405, 411, 413, 414, 422})

@dataclass(frozen=True)
class RetryBudget:
    """How long a broken service can hold one task: the SDK retries a failing call (429, 5xx, timeouts,
    409 IncorrectState) up to `sdk_attempts` times within `sdk_seconds`; Airflow then retries the task
    `task_retries` times, `task_retry_delay` seconds apart. `bound_seconds` is the product, stated in reports."""

    sdk_attempts: int = 6
    sdk_seconds: float = 60.0
    task_retries: int = 1
    task_retry_delay: float = 30.0

    @property
    def bound_seconds(self) -> float:
        return (self.task_retries + 1) * self.sdk_seconds + self.task_retries * self.task_retry_delay

    def task_args(self) -> dict:
        """`retries` and `retry_delay` for a DAG's default_args."""
        return {"retries": self.task_retries, "retry_delay": timedelta(seconds=self.task_retry_delay)}

    def describe(self) -> str:
        return (f"a failing OCI call is retried for at most {self.sdk_seconds:.0f}s ({self.sdk_attempts} attempts) "
                f"per try, {self.task_retries + 1} tries {self.task_retry_delay:.0f}s apart: a broken service fails "
                f"a task within {self.bound_seconds / 60:.1f} min; 400/401/403/404 fail at once")


RETRY_BUDGET = RetryBudget()

_refused_class: type | None = None


def refused_error(err, operation: str | None = None):
    """OciRequestRefused for a ServiceError a retry cannot fix: still a ServiceError (code that handles a 404
    keeps working), and an AirflowFailException (the task fails without retries), with a bounded message."""
    global _refused_class
    if _refused_class is None:
        import oci
        from airflow.sdk.exceptions import AirflowFailException

        class OciRequestRefused(oci.exceptions.ServiceError, AirflowFailException):
            def __str__(self) -> str:
                return self.summary

        OciRequestRefused.__qualname__ = OciRequestRefused.__name__
        OciRequestRefused.__module__ = "common.errors"
        _refused_class = OciRequestRefused
    new = _refused_class.__new__(_refused_class)
    new.__dict__.update(err.__dict__)
    operation = operation or getattr(err, "operation_name", None) or "an OCI call"
    facts = {"operation_name": operation, "status": err.status, "code": err.code,
             "message": bounded(err.message, 400), "opc-request-id": getattr(err, "request_id", None)}
    new.summary = f"{operation}: OCI answered {err.status} {err.code}, not retried (a retry cannot fix a " \
                  f"{err.status}): {facts}"
    new.args = (new.summary,)
    return new


def guard_client(client) -> Any:
    """Every call of this SDK client goes through one wrapper of `call_api` (inside the SDK's retry loop):
    a create's opc-retry-token gets the digest of its body folded in, and a 4xx no retry can fix is raised as
    OciRequestRefused."""
    import oci

    base = client.base_client
    call_api = base.call_api

    @functools.wraps(call_api)
    def guarded(*args, **kwargs):
        headers = kwargs.get("header_params")
        body = kwargs.get("body")
        if headers and headers.get("opc-retry-token") and body is not None and not hasattr(body, "read"):
            kwargs["header_params"] = {**headers,
                                       "opc-retry-token": fold_request(headers["opc-retry-token"], body)}
        try:
            return call_api(*args, **kwargs)
        except oci.exceptions.ServiceError as err:
            if err.status in FAIL_FAST_STATUSES and type(err) is not _refused_class:
                raise refused_error(err, kwargs.get("operation_name")) from None
            raise

    base.call_api = guarded
    return client


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


# -- waiting ----------------------------------------------------------------------------------------------
@dataclass
class WaitSpec:
    """What to wait for, as plain data so a trigger can serialise it: a getter on a client kind, the field
    that holds the state, the states that end the wait well or badly."""

    service: str
    getter: str
    resource_id: str
    target_states: list[str]
    failure_states: list[str] = field(default_factory=list)
    state_field: str = "lifecycle_state"
    region: str | None = None
    getter_kwargs: dict = field(default_factory=dict)
    not_found_ok: bool = False  # waiting for a delete: a 404 means done

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def work_request(cls, wr_id: str, region: str | None = None) -> WaitSpec:
        return cls("work_requests", "get_work_request", wr_id, ["SUCCEEDED"], ["FAILED", "CANCELED"],
                   "status", region)


@dataclass
class Poll:
    """The state of one wait: exponential backoff from `interval` capped at `max_interval`, within `timeout`."""

    interval: float = 5.0
    max_interval: float = 60.0
    timeout: float = 3600.0
    factor: float = 1.5
    started: float = field(default_factory=time.monotonic)

    def next_delay(self) -> float:
        delay = self.interval
        self.interval = min(self.interval * self.factor, self.max_interval)
        remaining = self.timeout - (time.monotonic() - self.started)
        if remaining <= 0:
            raise TimeoutError
        return min(delay, remaining)


@dataclass
class PollResult:
    done: bool
    state: str | None
    data: dict
    error: str | None = None
    percent: float | None = None
    observed_at: str | None = None  # OCI's clock (the response's Date) when this look was answered


# One SDK client per connection, service and region per process (see OciHook.get_client), and one parsed key.
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


class OciHook(OciComputeMethods, OciBlockStorageMethods, OciReferenceChecks, OciRemovalMethods, OciPermissionChecks,
              BaseHook):
    """Connection `oci_default` (conn_type `oci`); extras choose the auth mode (see README). Airflow knows the type
    and its connection form from the provider entry point in oci_provider/."""

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

    # -- shapes -----------------------------------------------------------------------------------------
    def check_shape(self, availability_domain: str, shape: Any, shape_config: dict | None = None,
                    compartment_id: str | None = None, region: str | None = None,
                    config_field: str = "shape_config.") -> dict:
        """The shape as ListShapes describes it for this AD, or OciInputError naming the field and the rule: a
        shape the AD does not offer, shape_config on a fixed shape, Flex OCPUs or memory (total and per OCPU)
        outside the shape's limits. Read-only, so a launch runs it before any mutating call (OCI would refuse
        such a launch only after the steps before it had changed things). `config_field` prefixes the names of
        OCPUs and memory in errors ("" where a form has them as fields of their own)."""
        import oci

        offered = self.list_all(self.get_client("compute", region).list_shapes, compartment_id or self.tenancy_id,
                                availability_domain=availability_domain)
        by_name = {s.shape: s for s in offered}
        if shape not in by_name:
            raise OciInputError(f"shape {shape!r}: not offered in availability domain {availability_domain} "
                                f"(it offers {sorted(by_name)})")
        described = by_name[shape]
        config = dict(shape_config or {})
        if not described.is_flexible:
            if any(config.get(k) is not None for k in ("ocpus", "memory_in_gbs", "vcpus")):
                named = config_field.rstrip(".") or "ocpus/memory_in_gbs"
                raise OciInputError(f"{named} {config}: {shape} is a fixed shape ({described.ocpus:g} OCPUs, "
                                    f"{described.memory_in_gbs:g} GB); OCPUs and memory are set only on a Flex shape")
            return oci.util.to_dict(described)
        ocpu_opts, mem_opts = described.ocpu_options, described.memory_options
        try:
            ocpus = float(config.get("ocpus") or ocpu_opts.min)
            memory = float(config["memory_in_gbs"]) if config.get("memory_in_gbs") is not None \
                else ocpus * mem_opts.default_per_ocpu_in_g_bs
        except (TypeError, ValueError):
            raise OciInputError(f"{config_field}ocpus/memory_in_gbs {config}: numbers") from None
        if not ocpu_opts.min <= ocpus <= ocpu_opts.max:
            raise OciInputError(f"{config_field}ocpus {ocpus:g}: {shape} takes {ocpu_opts.min:g} to "
                                f"{ocpu_opts.max:g} OCPUs")
        if not mem_opts.min_in_g_bs <= memory <= mem_opts.max_in_g_bs:
            raise OciInputError(f"{config_field}memory_in_gbs {memory:g}: {shape} takes {mem_opts.min_in_g_bs:g} "
                                f"to {mem_opts.max_in_g_bs:g} GB")
        low, high = ocpus * mem_opts.min_per_ocpu_in_gbs, ocpus * mem_opts.max_per_ocpu_in_gbs
        if not low <= memory <= high:
            per_ocpu = f"{mem_opts.min_per_ocpu_in_gbs:g} to {mem_opts.max_per_ocpu_in_gbs:g} GB per OCPU"
            raise OciInputError(f"{config_field}memory_in_gbs {memory:g}: {shape} takes {per_ocpu}, so {low:g} to "
                                f"{high:g} GB for {ocpus:g} OCPUs")
        return oci.util.to_dict(described)

    # -- resources by OCID ------------------------------------------------------------------------------
    def resource_api(self, resource_id: str) -> tuple[str, str, str, str]:
        kind = ocid_kind(resource_id)
        if kind not in RESOURCE_API:
            raise OciInputError(f"resource_id {resource_id!r}: type '{kind}' is not one of {sorted(RESOURCE_API)}")
        return RESOURCE_API[kind]

    def get_resource(self, resource_id: str, region: str | None = None):
        service, getter, _, _ = self.resource_api(resource_id)
        return getattr(self.get_client(service, region), getter)(resource_id).data

    def volumes_in(self, compartment_id: str, region: str | None = None, **call_kwargs: Any) -> list:
        """Every block and boot volume of a compartment, all pages: OCI lists boot volumes only per
        availability domain, so it takes one listing of block volumes and one of boot volumes per AD.

        :param compartment_id: the compartment
        :param region: None: the connection's
        :param call_kwargs: passed to every SDK call (the protection page's `retry_strategy`: one try each)
        """
        storage = self.get_client("blockstorage", region)
        ads = self.availability_domains(compartment_id, region, **call_kwargs)
        volumes = self.list_all(storage.list_volumes, compartment_id=compartment_id, **call_kwargs)
        return [*volumes, *(b for ad in ads for b in self.list_all(
            storage.list_boot_volumes, availability_domain=ad, compartment_id=compartment_id, **call_kwargs))]

    def compartment_tree(self, compartment_ids: list[str], include_subcompartments: bool = True) -> list[str]:
        """The given compartments and, with `include_subcompartments`, every ACTIVE compartment below them, in
        order and once each. OCI walks a subtree only from the root (compartmentIdInSubtree needs the tenancy),
        so it is one listing of the whole tenancy (identity lives in the home region), then a walk down."""
        if not include_subcompartments:
            return list(dict.fromkeys(compartment_ids))
        every = self.list_all(
            self.get_client("identity").list_compartments, self.tenancy_id, compartment_id_in_subtree=True,
            access_level="ACCESSIBLE", lifecycle_state="ACTIVE")
        children: dict[str, list[str]] = {}
        for comp in every:
            children.setdefault(comp.compartment_id, []).append(comp.id)
        found: dict[str, None] = {}
        todo = list(reversed(compartment_ids))
        while todo:
            comp = todo.pop()
            if comp not in found:
                found[comp] = None
                todo += reversed(children.get(comp, []))
        return list(found)

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
