"""The WAF gateway: the only code in the app that talks to wafv2.

It finds the two office IP sets by name (scope CLOUDFRONT, always in us-east-1: see
`accesscontrol.edge`), reads their addresses and lock token,
and writes with that token, re-reading and re-applying on WAFOptimisticLockException a
bounded number of times with jittered backoff. Throttling and transient HTTP errors are
left to botocore's standard retry mode. Every botocore failure leaves as a
`WafSyncError` (the botocore text goes to the log, not into the exception message).

`WafWebAclGateway` reads the web ACL's sampled requests (GetSampledRequests on its
default action: the requests the allowlist blocked). Its failures leave as `WafReadError`.

Clients are built lazily (never at import: moto must be active first) from one
`boto3.Session` and reused per process; `AWS_ENDPOINT_URL` is honoured because boto3
reads it itself.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

# `ip_set_names as ip_set_names`: deploy/waf.py still imports it from here (the edge
# contract's home is accesscontrol.edge).
from accesscontrol import metrics
from accesscontrol.edge import WAF_REGION, WAF_SCOPE, web_acl_name
from accesscontrol.edge import ip_set_names as ip_set_names
from accesscontrol.exceptions import (
    IpSetNotFound,
    WafLimitExceeded,
    WafLockConflict,
    WafReadError,
    WafSyncError,
)

if TYPE_CHECKING:  # the boto3 stubs are a development dependency
    from types_boto3_wafv2.client import WAFV2Client
    from types_boto3_wafv2.literals import IPAddressVersionType
    from types_boto3_wafv2.type_defs import (
        ListIPSetsRequestTypeDef,
        ListWebACLsRequestTypeDef,
        UpdateIPSetRequestTypeDef,
    )

log = logging.getLogger(__name__)

_WAF_VERSION: dict[int, IPAddressVersionType] = {4: "IPV4", 6: "IPV6"}
# Codes that mean "try again later" rather than "someone must fix something".
_TRANSIENT_CODES = {
    "ThrottlingException",
    "TooManyRequestsException",
    "WAFInternalErrorException",
    "WAFUnavailableEntityException",
    "WAFServiceLinkedRoleErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestTimeout",
}

_session_lock = threading.Lock()
_session: boto3.Session | None = None
_clients: dict[tuple[str, str], WAFV2Client] = {}


def wafv2_client() -> WAFV2Client:
    """A wafv2 client in the WAF region with botocore's standard retry mode.

    Clients are thread-safe and cost ~10 ms to build, so one per process is reused (per
    endpoint: `AWS_ENDPOINT_URL` is part of the key)."""
    key = (WAF_REGION, os.environ.get("AWS_ENDPOINT_URL", ""))
    with _session_lock:
        client = _clients.get(key)
        if client is None:
            global _session
            if _session is None:
                _session = boto3.Session()
            config = Config(
                retries={"mode": "standard", "max_attempts": 5},
                # Client-side validation walks every address (10,000 per set) on each
                # write; WAF validates server-side anyway and refusals become errors.
                parameter_validation=False,
                connect_timeout=5,
                read_timeout=20,
            )
            # boto3 sessions are not thread-safe while creating clients; clients are.
            client = _session.client("wafv2", region_name=key[0], config=config)
            _clients[key] = client
        return client


def normalise_address(address: str) -> str:
    """WAF's spelling of a CIDR -> ours (compressed IPv6, network address)."""
    try:
        return str(ipaddress.ip_network(address.strip(), strict=False))
    except ValueError:
        return address


@dataclass(frozen=True)
class IpSetSnapshot:
    name: str
    id: str
    addresses: frozenset[str]
    lock_token: str
    ip_version: int = 4
    description: str = ""


@dataclass(frozen=True)
class ApplyResult:
    snapshot: IpSetSnapshot  # the last state read
    wrote: bool


class WafIpSetGateway:
    def __init__(
        self,
        client: WAFV2Client | None,
        *,
        edge_name: str,
        max_attempts: int = 5,
        backoff_base: float = 0.1,
        backoff_cap: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._client = client
        self.edge_name = edge_name
        self.names = ip_set_names(edge_name)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._ids: dict[int, str] = {}
        self.calls: Counter[str] = Counter()  # WAF API calls made, by operation

    @classmethod
    def from_settings(cls, **kwargs: Any) -> WafIpSetGateway:
        """A gateway for settings.GATEHOUSE_EDGE_NAME; its client is built on first use."""
        return cls(None, edge_name=settings.GATEHOUSE_EDGE_NAME, **kwargs)

    @property
    def client(self) -> WAFV2Client:
        if self._client is None:
            self._client = wafv2_client()
        return self._client

    def remember_id(self, ip_version: int, ip_set_id: str) -> None:
        """Skip the listing when the set's id is already known (a stale id is re-found)."""
        if ip_set_id:
            self._ids[ip_version] = ip_set_id

    # -- calls -----------------------------------------------------------------------------

    @contextmanager
    def _calling(self, operation: str, name: str) -> Iterator[None]:
        """Count one `operation` call on the set `name` and translate its botocore errors."""
        self.calls[operation] += 1
        metrics.waf_call(operation)
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            metrics.waf_error(operation, code)
            log.warning("WAF %s on %s failed: %s", operation, name, exc)
            if code == "WAFOptimisticLockException":
                raise WafLockConflict(
                    f"WAF IP set {name} changed while we were updating it."
                ) from exc
            if code == "WAFNonexistentItemException":
                raise IpSetNotFound(name, WAF_SCOPE, WAF_REGION) from exc
            if code == "WAFLimitsExceededException":
                raise WafLimitExceeded(name, operation) from exc
            transient = code in _TRANSIENT_CODES
            raise WafSyncError(
                f"WAF refused {operation} on {name} ({code}).", transient=transient
            ) from exc
        except BotoCoreError as exc:
            metrics.waf_error(operation, type(exc).__name__)
            log.warning("WAF %s on %s failed: %s", operation, name, exc)
            raise WafSyncError(
                f"WAF could not be reached for {operation} on {name} ({type(exc).__name__})."
            ) from exc

    def _find_id(self, ip_version: int) -> str:
        name = self.names[ip_version]
        params: ListIPSetsRequestTypeDef = {"Scope": WAF_SCOPE, "Limit": 100}
        while True:
            with self._calling("list_ip_sets", name):
                page = self.client.list_ip_sets(**params)
            for summary in page.get("IPSets", []):
                if summary["Name"] == name:
                    self._ids[ip_version] = summary["Id"]
                    return summary["Id"]
            marker = page.get("NextMarker")
            if not marker or not page.get("IPSets"):
                raise IpSetNotFound(name, WAF_SCOPE, WAF_REGION)
            params["NextMarker"] = marker

    def read(
        self, ip_version: int, *, known: frozenset[str] | set[str] = frozenset()
    ) -> IpSetSnapshot:
        """The set's addresses (normalised) and lock token. `known`: addresses already in
        our normal form, taken as they are (parsing 10,000 addresses is the main cost of
        a no-op sync)."""
        name = self.names[ip_version]
        remembered = ip_version in self._ids
        set_id = self._ids.get(ip_version) or self._find_id(ip_version)
        try:
            with self._calling("get_ip_set", name):
                response = self.client.get_ip_set(Name=name, Scope=WAF_SCOPE, Id=set_id)
        except IpSetNotFound:
            if not remembered:
                raise
            # The remembered id is stale (the set was re-created): find it again, once.
            self._ids.pop(ip_version, None)
            set_id = self._find_id(ip_version)
            with self._calling("get_ip_set", name):
                response = self.client.get_ip_set(Name=name, Scope=WAF_SCOPE, Id=set_id)
        ip_set = response["IPSet"]
        if ip_set.get("IPAddressVersion") not in (None, _WAF_VERSION[ip_version]):
            raise WafSyncError(
                f"WAF IP set {name} holds {ip_set['IPAddressVersion']} addresses, not "
                f"IPv{ip_version}.",
                transient=False,
            )
        return IpSetSnapshot(
            name=name,
            id=ip_set["Id"],
            addresses=frozenset(
                a if a in known else normalise_address(a) for a in ip_set.get("Addresses", [])
            ),
            lock_token=response["LockToken"],
            ip_version=ip_version,
            description=ip_set.get("Description") or "",
        )

    def write(self, snapshot: IpSetSnapshot, addresses: Iterable[str]) -> str:
        """Replace the set's addresses (in the order given) using the snapshot's lock
        token; returns the next token. Raises WafLockConflict when the set changed since
        `snapshot` was read."""
        params: UpdateIPSetRequestTypeDef = {
            "Name": snapshot.name,
            "Scope": WAF_SCOPE,
            "Id": snapshot.id,
            "Addresses": list(addresses),
            "LockToken": snapshot.lock_token,
        }
        if snapshot.description:  # update_ip_set replaces it: keep what is there
            params["Description"] = snapshot.description
        with self._calling("update_ip_set", snapshot.name):
            response = self.client.update_ip_set(**params)
        return response.get("NextLockToken", "")

    def apply(
        self,
        ip_version: int,
        plan: Callable[[IpSetSnapshot], Iterable[str] | None],
        *,
        known: frozenset[str] | set[str] = frozenset(),
        first: IpSetSnapshot | None = None,
    ) -> ApplyResult:
        """Read, ask `plan` for the addresses wanted given what is there, write if they
        differ. On a lock conflict re-read and re-plan, up to max_attempts times. `first`:
        a snapshot the caller read already, used instead of the first read (its lock token
        makes a write based on it fail if the set changed since).

        `plan` runs once per attempt and may write to the database (the sync adopts and
        audits addresses found in WAF there): call this inside the transaction that holds
        the set's sync-state lock, and make `plan` remember what it already recorded so a
        re-plan after a conflict does not record it again. Those writes stay even when no
        WAF write follows (the addresses were in WAF when read)."""
        for attempt in range(1, self.max_attempts + 1):
            if attempt == 1 and first is not None:
                snapshot = first
            else:
                snapshot = self.read(ip_version, known=known)
            wanted = plan(snapshot)
            if wanted is None or frozenset(wanted) == snapshot.addresses:
                return ApplyResult(snapshot=snapshot, wrote=False)
            try:
                self.write(snapshot, wanted)
            except WafLockConflict:
                if attempt == self.max_attempts:
                    raise
                # Full jitter: concurrent writers spread out instead of colliding again.
                delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))  # noqa: S311
                log.info("WAF lock conflict on %s, retrying in %.2fs", snapshot.name, delay)
                self._sleep(delay)
                continue
            return ApplyResult(snapshot=snapshot, wrote=True)
        raise AssertionError("unreachable")  # pragma: no cover


# -- the web ACL's sampled requests ----------------------------------------------------------

# WAF keeps samples for three hours and takes a TimeWindow only within them ("any time
# range in the previous three hours"). A minute short of that, so our clock running a
# little ahead of AWS's never asks for more.
SAMPLE_WINDOW = timedelta(hours=3) - timedelta(minutes=1)
SAMPLE_MAX_ITEMS = 500  # GetSampledRequests' MaxItems: 1 to 500
# How long the web ACL's ARN and metric name are reused before ListWebACLs + GetWebACL
# again. Safe: a re-created web ACL has a new ARN, which WAF answers with
# WAFNonexistentItemException, and then it is found again at once; a renamed metric is
# picked up within this time.
WEB_ACL_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class WebAclRef:
    """What GetSampledRequests needs of the web ACL: for its default action the
    RuleMetricName is the web ACL's own metric name (its VisibilityConfig.MetricName)."""

    name: str
    id: str
    arn: str
    metric_name: str
    sampling_enabled: bool


@dataclass(frozen=True)
class SampledRequest:
    """One SampledHTTPRequest, in our words."""

    client_ip: str
    country: str
    uri: str
    method: str
    timestamp: datetime | None
    action: str
    weight: int
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SampledRequests:
    web_acl: WebAclRef
    requests: list[SampledRequest]
    population_size: int  # how many requests the sample was drawn from
    start: datetime  # the window WAF answered for (it may be shorter than asked)
    end: datetime


_web_acl_lock = threading.Lock()
_web_acls: dict[tuple[str, str], tuple[float, WebAclRef]] = {}  # (edge, endpoint) -> ref


def forget_web_acl() -> None:
    """Drop the cached web ACL references (tests; a re-provisioned local stack)."""
    with _web_acl_lock:
        _web_acls.clear()


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


class WafWebAclGateway:
    """Reads of the edge's web ACL (scope CLOUDFRONT, us-east-1), found by name."""

    def __init__(
        self,
        client: WAFV2Client | None,
        *,
        edge_name: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self.edge_name = edge_name
        self.name = web_acl_name(edge_name)
        self._now = now
        self._monotonic = monotonic
        self.calls: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, **kwargs: Any) -> WafWebAclGateway:
        return cls(None, edge_name=settings.GATEHOUSE_EDGE_NAME, **kwargs)

    @property
    def client(self) -> WAFV2Client:
        if self._client is None:
            self._client = wafv2_client()
        return self._client

    @contextmanager
    def _calling(self, operation: str) -> Iterator[None]:
        self.calls[operation] += 1
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            log.warning("WAF %s on %s failed: %s", operation, self.name, exc)
            if code == "WAFNonexistentItemException":
                raise _WebAclGone(self.name) from exc
            raise WafReadError(
                f"WAF refused {operation} on the web ACL {self.name} ({code})."
            ) from exc
        except BotoCoreError as exc:
            log.warning("WAF %s on %s failed: %s", operation, self.name, exc)
            raise WafReadError(
                f"WAF could not be reached for {operation} on the web ACL {self.name} "
                f"({type(exc).__name__})."
            ) from exc

    def _cache_key(self) -> tuple[str, str]:
        return (self.edge_name, os.environ.get("AWS_ENDPOINT_URL", ""))

    def web_acl(self, *, fresh: bool = False) -> WebAclRef:
        """The web ACL's ARN and metric name (ListWebACLs, then GetWebACL), cached for
        WEB_ACL_CACHE_SECONDS per process."""
        key = self._cache_key()
        now = self._monotonic()
        if not fresh:
            with _web_acl_lock:
                cached = _web_acls.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        ref = self._find()
        with _web_acl_lock:
            _web_acls[key] = (now + WEB_ACL_CACHE_SECONDS, ref)
        return ref

    def _find(self) -> WebAclRef:
        params: ListWebACLsRequestTypeDef = {"Scope": WAF_SCOPE, "Limit": 100}
        try:
            while True:
                with self._calling("list_web_acls"):
                    page = self.client.list_web_acls(**params)
                for summary in page.get("WebACLs", []):
                    if summary["Name"] == self.name:
                        with self._calling("get_web_acl"):
                            acl = self.client.get_web_acl(
                                Name=self.name, Scope=WAF_SCOPE, Id=summary["Id"]
                            )["WebACL"]
                        visibility = acl["VisibilityConfig"]
                        return WebAclRef(
                            name=self.name,
                            id=acl["Id"],
                            arn=acl["ARN"],
                            metric_name=visibility["MetricName"],
                            sampling_enabled=bool(visibility.get("SampledRequestsEnabled")),
                        )
                marker = page.get("NextMarker")
                if not marker or not page.get("WebACLs"):
                    break
                params["NextMarker"] = marker
        except _WebAclGone:
            pass  # deleted between the listing and the read: as good as not found
        raise WafReadError(
            f"The WAF web ACL {self.name} (scope {WAF_SCOPE}, {WAF_REGION}) does not exist; "
            "create it with provision_infra --apply."
        )

    def sampled_requests(
        self, *, window: timedelta = SAMPLE_WINDOW, max_items: int = SAMPLE_MAX_ITEMS
    ) -> SampledRequests:
        """The requests WAF sampled for the web ACL's default action (the ones nothing on
        the allowlist let in) within the last `window`, at most `max_items` of them."""
        if not timedelta(0) < window <= SAMPLE_WINDOW:
            raise ValueError(f"window must be within {SAMPLE_WINDOW}")
        if not 1 <= max_items <= SAMPLE_MAX_ITEMS:
            raise ValueError(f"max_items must be from 1 to {SAMPLE_MAX_ITEMS}")
        ref = self.web_acl()
        for attempt in (1, 2):
            end = self._now()
            try:
                with self._calling("get_sampled_requests"):
                    response = self.client.get_sampled_requests(
                        WebAclArn=ref.arn,
                        RuleMetricName=ref.metric_name,
                        Scope=WAF_SCOPE,
                        TimeWindow={"StartTime": end - window, "EndTime": end},
                        MaxItems=max_items,
                    )
                break
            except _WebAclGone:
                if attempt == 2:
                    raise WafReadError(
                        f"The WAF web ACL {self.name} disappeared while it was read; try "
                        "again shortly."
                    ) from None
                ref = self.web_acl(fresh=True)  # re-created since we cached its ARN
        requests = []
        for sample in response.get("SampledRequests", []):
            request = sample["Request"]
            requests.append(
                SampledRequest(
                    client_ip=request.get("ClientIP", ""),
                    country=request.get("Country", ""),
                    uri=request.get("URI", ""),
                    method=request.get("Method", ""),
                    timestamp=_as_datetime(sample.get("Timestamp")),
                    action=sample.get("Action", ""),
                    weight=int(sample.get("Weight", 1)),
                    headers=tuple(
                        (h.get("Name", ""), h.get("Value", "")) for h in request.get("Headers", [])
                    ),
                )
            )
        answered = response.get("TimeWindow") or {}
        return SampledRequests(
            web_acl=ref,
            requests=requests,
            population_size=int(response.get("PopulationSize", len(requests))),
            start=_as_datetime(answered.get("StartTime")) or end - window,
            end=_as_datetime(answered.get("EndTime")) or end,
        )


class _WebAclGone(Exception):
    """WAFNonexistentItemException on the web ACL (internal: re-find, then WafReadError)."""

    def __init__(self, name: str):
        super().__init__(f"WAF web ACL {name} does not exist")
