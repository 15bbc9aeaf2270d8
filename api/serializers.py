"""Request parsing and response shapes for the API (the OpenAPI schema at /api/schema).

Limits come from accesscontrol.validation and choices from the model enums, so the schema
says what the services enforce. Response serializers declare every field (drf-spectacular
builds the OpenAPI schema from them) but build their dicts directly in
`to_representation`: a list page serialises hundreds of rows per request, and DRF's
per-field machinery costs more than the query.
"""

import ipaddress
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from rest_framework import serializers

from accesscontrol.clientip import as_waf_sees
from accesscontrol.exceptions import EmptyAllowlist
from accesscontrol.models import AllowedNetwork, IpSetSyncState, address_key
from accesscontrol.network_page import NULLABLE, SORTS, sort_of
from accesscontrol.selectors import search_network
from accesscontrol.services import ChangeSyncStatus, expiry_after_hours
from accesscontrol.validation import LABEL_MAX, MAX_INPUT_LENGTH, MAX_TTL_HOURS, NOTE_MAX
from api.pagination import (
    CURSOR_MAX_LENGTH,
    DATETIME,
    DATETIME_OR_NULL,
    INT,
    TEXT,
    Cursor,
    decode_cursor,
)
from api.permissions import AnyUser, Role, role_of
from api.requester import requester_for

if TYPE_CHECKING:
    from accesscontrol.models import AuditEvent
    from accesscontrol.services import NetworkChange, SetSyncResult, SyncOutcome

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

IP_VERSIONS = AllowedNetwork.IpVersion.values
NETWORK_ORDERINGS = tuple(
    f"{sign}{name}" for name in ("label", "expires_at", "created_at") for sign in ("", "-")
)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with "Z" (as DRF renders it under TIME_ZONE = "UTC"), without a
    field object or a current-timezone lookup per value: a list page renders hundreds."""
    if value is None:
        return None
    text = (value.astimezone(UTC) if value.tzinfo is not None else value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- JSON input: types as the schema says them -------------------------------------------
# DRF would turn 5 into "5" for a string field and "yes" into True for a boolean; the
# console sends proper JSON types, so anything else is a client bug worth a 400.


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryChoiceField(serializers.ChoiceField):
    """`?status=` (empty) is not one of the choices, not an absent filter (the schema's enum
    has no empty value)."""

    def get_value(self, dictionary: Mapping[Any, Any]) -> Any:
        return dictionary.get(self.field_name, serializers.empty)


class NetworkQueryField(serializers.CharField):
    """An address or network in a query (`?contains=147.46.3.9`): the parsed network, host
    bits allowed (a search, not a write)."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # The string's own checks (blank, length) first, then the parse.
        text = super().run_validation(data)
        network = search_network(text)
        if network is None:
            raise serializers.ValidationError(
                "Give an address or network, like 81.2.69.160, 81.2.69.0/24 or 2a00:1450::1."
            )
        return network


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


# --- users and sessions --------------------------------------------------------------


class UserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(choices=[r.value for r in Role], read_only=True)
    is_superuser = serializers.BooleanField(read_only=True)

    def to_representation(self, user: AnyUser) -> dict[str, Any]:
        return {
            "id": user.pk,
            "username": user.get_username(),
            "role": role_of(user),
            "is_superuser": bool(user.is_superuser),
        }


class SingleSignOnSerializer(serializers.Serializer[Any]):
    provider_name = serializers.CharField()
    start_url = serializers.CharField(help_text="Open it in the browser (a redirect).")


class SignInOptionsSerializer(serializers.Serializer[Any]):
    password = serializers.ChoiceField(
        choices=["on", "superusers", "off"],
        help_text="GATEHOUSE_PASSWORD_LOGIN: whether the password form is offered "
        "(superusers: as break-glass only).",
    )
    sso = SingleSignOnSerializer(allow_null=True)


class SsoErrorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()


class SecondFactorStatusSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(
        ["verified", "code_required", "enrolment_required", "not_required"],
        help_text="code_required / enrolment_required: changes are refused until resolved.",
    )
    method = serializers.CharField(help_text='How this session signed in, e.g. "password+totp".')
    enrolled = serializers.BooleanField()
    required = serializers.BooleanField(help_text="GATEHOUSE_REQUIRE_MFA covers this user.")  # type: ignore[assignment]
    recovery_codes_left = serializers.IntegerField()


class SessionSerializer(serializers.Serializer[Any]):
    authenticated = serializers.BooleanField()
    user = UserSerializer(allow_null=True)
    viewer_ip = serializers.CharField()
    sign_in = SignInOptionsSerializer()
    sso_error = SsoErrorSerializer(
        allow_null=True,
        required=False,
        help_text="Why the last single sign-on failed; given once (GET /api/auth/session).",
    )


class LogoutSerializer(serializers.Serializer[Any]):
    end_session_url = serializers.CharField()
    second_factor = SecondFactorStatusSerializer(allow_null=True)


class CodeSerializer(serializers.Serializer[Any]):
    code = StrictCharField(max_length=64)


class OptionalCodeSerializer(serializers.Serializer[Any]):
    code = StrictCharField(max_length=64, required=False)


class TotpEnrolmentSerializer(serializers.Serializer[Any]):
    secret = serializers.CharField(help_text="Base32, for typing into an app by hand.")
    otpauth_uri = serializers.CharField()
    qr_svg_url = serializers.CharField(help_text="The QR code of otpauth_uri, as SVG.")


class RecoveryCodesSerializer(serializers.Serializer[Any]):
    recovery_codes = serializers.ListField(child=serializers.CharField())
    session = SessionSerializer()


class LoginSerializer(serializers.Serializer[Any]):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False)


# --- networks --------------------------------------------------------------------------


class NetworkSerializer(serializers.Serializer[Any]):
    """One allowlist entry. Context: "request", whose viewer `covers_you` is about."""

    # A DRF field named like a Field attribute ("label", "source", "fields") is fine at
    # run time; the stubs see the attribute, hence the ignores on those lines.
    id = serializers.IntegerField(read_only=True)
    cidr = serializers.CharField(read_only=True)
    ip_version = serializers.ChoiceField(choices=IP_VERSIONS, read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    note = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=AllowedNetwork.Status.values, read_only=True)
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=AllowedNetwork.Source.values, read_only=True
    )
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_by = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    covers_you = serializers.BooleanField(read_only=True)
    needs_review = serializers.BooleanField(
        read_only=True,
        help_text="Adopted from WAF (added outside Gatehouse) and not yet marked reviewed.",
    )

    def _viewer(self) -> Address | None:
        """The requester's address, looked up once per serializer tree (a page has
        hundreds of rows)."""
        memo = self.root.__dict__
        if "_viewer" not in memo:
            request = self.context.get("request")
            address = requester_for(request).ip if request else None
            memo["_viewer"] = as_waf_sees(address) if address is not None else None
        viewer: Address | None = memo["_viewer"]
        return viewer

    def to_representation(self, network: "AllowedNetwork") -> dict[str, Any]:
        status = network.status
        viewer = self._viewer()
        covers = False
        if viewer is not None and status == AllowedNetwork.Status.ACTIVE:
            covers = viewer in ipaddress.ip_network(network.cidr)
        creator = network.created_by
        return {
            "id": network.pk,
            "cidr": network.cidr,
            "ip_version": network.ip_version,
            "label": network.label,
            "note": network.note,
            "status": status,
            "source": network.source,
            "expires_at": iso(network.expires_at),
            "created_by": creator.get_username() if creator is not None else None,
            "created_at": iso(network.created_at),
            "updated_at": iso(network.updated_at),
            "covers_you": covers,
            "needs_review": bool(network.needs_review),
        }


def network_rows(
    rows: Iterable[tuple[Any, ...]], *, viewer: Address | None
) -> list[dict[str, Any]]:
    """NetworkSerializer's representation of list rows read as tuples (selectors.NETWORK_ROW
    order): the same dicts, built without model instances or an address parse per row.
    `covers_you` compares the viewer's address, converted once, with each row's stored
    bounds; "now" is read once for the whole page."""
    now = timezone.now()
    key: bytes | None = None
    version = 0
    if viewer is not None:
        viewer = as_waf_sees(viewer)
        key, version = address_key(int(viewer)), viewer.version
    active, expired = AllowedNetwork.Status.ACTIVE, AllowedNetwork.Status.EXPIRED
    data = []
    for (
        pk,
        cidr,
        ip_version,
        label,
        note,
        expires_at,
        source,
        creator,
        created_at,
        updated_at,
        needs_review,
        range_start,
        range_end,
    ) in rows:
        is_active = expires_at is None or expires_at > now
        data.append(
            {
                "id": pk,
                "cidr": cidr,
                "ip_version": ip_version,
                "label": label,
                "note": note,
                "status": active if is_active else expired,
                "source": source,
                "expires_at": iso(expires_at),
                "created_by": creator,
                "created_at": iso(created_at),
                "updated_at": iso(updated_at),
                "covers_you": bool(
                    is_active
                    and ip_version == version
                    and key is not None
                    and bytes(range_start) <= key <= bytes(range_end)
                ),
                "needs_review": bool(needs_review),
            }
        )
    return data


class SyncOutcomeSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=[s.value for s in ChangeSyncStatus])
    reason = serializers.CharField(allow_blank=True)

    def to_representation(self, outcome: "SyncOutcome") -> dict[str, Any]:
        return {"status": outcome.status, "reason": outcome.reason}


class NetworkChangeSerializer(NetworkSerializer):
    """A network after a change, with what happened to the WAF IP sets.

    `covered_by`: wider active networks that already admit this one.
    """

    sync = SyncOutcomeSerializer(read_only=True)
    covered_by = serializers.ListField(child=serializers.CharField(), read_only=True)

    def to_representation(self, change: "NetworkChange") -> dict[str, Any]:  # type: ignore[override]
        body = super().to_representation(change.network)
        body["sync"] = {"status": change.sync.status, "reason": change.sync.reason}
        body["covered_by"] = [network.cidr for network in change.covered_by]
        return body


class _ExpiryInput(serializers.Serializer[Any]):
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    ttl_hours = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_TTL_HOURS,  # the schema's maximum: the console reads it from there
        help_text="Temporary access: expires this many hours from now.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "ttl_hours" in attrs:
            if attrs.get("expires_at") is not None:
                raise serializers.ValidationError(
                    {"ttl_hours": ["Give either expires_at or ttl_hours, not both."]}
                )
            attrs["expires_at"] = expiry_after_hours(attrs.pop("ttl_hours"))
        return attrs


class NetworkCreateSerializer(_ExpiryInput):
    cidr = StrictCharField(
        max_length=MAX_INPUT_LENGTH,
        help_text='An address or network, e.g. "81.2.69.160", "81.2.69.0/24", '
        '"2a00:1450:4009::/48".',
    )
    label = StrictCharField(max_length=LABEL_MAX)  # type: ignore[assignment]
    note = StrictCharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")


class MyNetworkCreateSerializer(_ExpiryInput):
    label = StrictCharField(max_length=LABEL_MAX, required=False)  # type: ignore[assignment]
    note = StrictCharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")


class NetworkUpdateSerializer(_ExpiryInput):
    label = StrictCharField(max_length=LABEL_MAX, required=False)  # type: ignore[assignment]
    note = StrictCharField(max_length=NOTE_MAX, required=False, allow_blank=True)
    reviewed = StrictBooleanField(
        required=False,
        help_text="true: someone checked this adopted network (clears needs_review).",
    )


_PAGING = ("page", "page_size")
_POSITIVE = re.compile(r"[1-9][0-9]{0,17}")  # below 2**63: the paginator's own bound applies
_KINDS = {"id": INT, "label": TEXT, "created_at": DATETIME, NULLABLE: DATETIME_OR_NULL}


def _cursor_kinds(ordering: str) -> tuple[str, ...] | None:
    terms = SORTS.get(ordering)
    return None if terms is None else tuple(_KINDS[name] for name, _ in terms)


def network_cursor(text: str, ordering: str | None) -> Cursor:
    """`?cursor=` of the allowlist, for the list in `ordering`: a 400 naming `cursor`
    when it is not one of its links' cursors, or one made for another sort."""
    cursor = decode_cursor(text, _cursor_kinds)
    if cursor.ordering != sort_of(ordering):
        raise serializers.ValidationError(
            {"cursor": ["This cursor pages another sort order: start again from page 1."]}
        )
    return cursor


class NetworkListQuerySerializer(serializers.Serializer[Any]):
    status = QueryChoiceField(choices=AllowedNetwork.Status.values, required=False)
    needs_review = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,  # absent means no filter (DRF reads a missing boolean as false)
        help_text="true: only networks adopted from WAF that nobody has reviewed yet.",
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Part of the label, note or CIDR (case-insensitive); an address or network "
        "also finds the networks that contain it.",
    )
    contains = NetworkQueryField(
        required=False,
        max_length=MAX_INPUT_LENGTH,
        help_text="Only networks that contain this address or network (equal or wider), "
        'e.g. "147.46.3.9": which entries let it in. Answered from an index.',
    )
    ordering = QueryChoiceField(
        choices=NETWORK_ORDERINGS,
        required=False,
        help_text="Sort by this column (a leading - for descending); newest first by default.",
    )
    page = serializers.IntegerField(required=False, min_value=1, help_text="From 1.")
    page_size = serializers.IntegerField(
        required=False, min_value=1, help_text="Rows per page: 50 by default, at most 500."
    )
    cursor = serializers.CharField(
        required=False,
        max_length=CURSOR_MAX_LENGTH,
        help_text="Opaque: the position a `next` or `previous` link carries (the same "
        "filters and ordering are in the link). Not with `page`: that is a 400.",
    )

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> dict[str, Any]:
        """The validated filters. Only `page` and `page_size` as plain positive integers
        (the console's usual request) skip DRF's field machinery: they filter nothing, the
        paginator reads them, and the serializer would accept them as they are. Anything
        else goes through the serializer (and its 400s)."""
        if all(key in _PAGING and _POSITIVE.fullmatch(value) for key, value in params.items()):
            return {"needs_review": None}
        text = params.get("cursor")
        if (
            text
            and len(text) <= CURSOR_MAX_LENGTH
            and "page" not in params
            and all(
                key == "cursor" or (key == "page_size" and _POSITIVE.fullmatch(value))
                for key, value in params.items()
            )
        ):  # a `next` link of the default list: the cursor is checked all the same
            return {"needs_review": None, "cursor": network_cursor(text, None)}
        query = cls(data=params)
        query.is_valid(raise_exception=True)
        values = dict(query.validated_data)
        if "cursor" in values:
            if "page" in params:
                raise serializers.ValidationError(
                    {"cursor": ["Give either page or cursor, not both: the cursor is a page."]}
                )
            values["cursor"] = network_cursor(values["cursor"], values.get("ordering"))
        return values

    def to_internal_value(self, data: Any) -> Any:
        # DRF skips an empty optional query value ("?status="); the schema has no empty
        # choice, so say so instead of silently listing everything.
        blank = [
            key for key in ("status", "needs_review", "contains", "cursor") if data.get(key) == ""
        ]
        if blank:
            raise serializers.ValidationError(
                {key: ["Leave the parameter out, or give one of its values."] for key in blank}
            )
        return super().to_internal_value(data)


class ConfirmQuerySerializer(serializers.Serializer[Any]):
    confirm = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Confirm a change that would stop your own address reaching Gatehouse.",
    )


class MeSerializer(serializers.Serializer[Any]):
    user = UserSerializer()
    viewer_ip = serializers.CharField()
    allowed = serializers.BooleanField()
    covering_networks = NetworkSerializer(many=True)


# --- sync ------------------------------------------------------------------------------


class SyncStateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    ip_version = serializers.ChoiceField(choices=IP_VERSIONS)
    status = serializers.ChoiceField(choices=IpSetSyncState.Status.values)
    last_synced_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    drift = serializers.JSONField(allow_null=True)
    entries = serializers.IntegerField(help_text="Addresses Gatehouse last wrote to the set.")
    pending_reason = serializers.CharField(
        allow_blank=True, help_text="Why the set is pending although the last sync succeeded."
    )

    def to_representation(self, state: "IpSetSyncState") -> dict[str, Any]:
        return {
            "name": state.name,
            "ip_version": state.ip_version,
            "status": state.status,
            "last_synced_at": iso(state.last_synced_at),
            "last_error": state.last_error or "",
            "drift": state.drift,
            "entries": len(state.last_applied or []),
            "pending_reason": "",
        }


class SyncStatusSerializer(serializers.Serializer[Any]):
    in_sync = serializers.BooleanField()
    sets = SyncStateSerializer(many=True)


class SyncRunSerializer(serializers.Serializer[Any]):
    dry_run = StrictBooleanField(default=False)


class SetSyncResultSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    ip_version = serializers.ChoiceField(choices=IP_VERSIONS)
    to_add = serializers.ListField(child=serializers.CharField())
    to_remove = serializers.ListField(child=serializers.CharField())
    adopted = serializers.ListField(child=serializers.CharField())
    removed_outside = serializers.ListField(
        child=serializers.CharField(),
        help_text="Drift: addresses Gatehouse wrote that someone removed in WAF (restored).",
    )
    wrote = serializers.BooleanField()
    status = serializers.ChoiceField(choices=IpSetSyncState.Status.values)
    error = serializers.CharField(allow_blank=True)
    refused = serializers.DictField(
        child=serializers.CharField(),
        help_text="Addresses added in WAF outside Gatehouse that failed the input rules "
        "(address -> why): not adopted, removed from WAF.",
    )

    def to_representation(self, result: "SetSyncResult") -> dict[str, Any]:
        return {
            "name": result.name,
            "ip_version": result.ip_version,
            "to_add": list(result.to_add),
            "to_remove": list(result.to_remove),
            "adopted": list(result.adopted),
            "removed_outside": list(result.removed_outside),
            "wrote": bool(result.wrote),
            "status": result.status,
            "error": result.error or "",
            "refused": dict(result.refused),
        }


class SyncReportSerializer(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField()
    sets = SetSyncResultSerializer(many=True)


# --- audit -----------------------------------------------------------------------------


class AuditEventSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(help_text='Username, or "system".')
    action = serializers.CharField()
    subject = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    request_ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)
    auth_method = serializers.CharField(
        allow_blank=True, help_text='How the actor signed in, e.g. "password+totp", "sso:okta".'
    )
    request_id = serializers.CharField(
        allow_blank=True, help_text="The HTTP request's X-Request-Id (its log lines carry it)."
    )

    def to_representation(self, event: "AuditEvent") -> dict[str, Any]:
        return {
            "id": event.pk,
            "created_at": iso(event.created_at),
            "actor": event.actor_name,
            "action": event.action,
            "subject": event.subject,
            "before": event.before,
            "after": event.after,
            "reason": event.reason,
            "request_ip": event.request_ip,
            "user_agent": event.user_agent,
            "auth_method": event.auth_method,
            "request_id": event.request_id,
        }


# --- errors (for the schema; api.exceptions builds the bodies) ---------------------------


class BlockedAddressSerializer(serializers.Serializer[Any]):
    address = serializers.CharField(help_text="The viewer address WAF saw (ClientIP).")
    count = serializers.IntegerField(
        help_text="Sum of the samples' weights: roughly how many requests were blocked."
    )
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    country = serializers.CharField(
        help_text="Two-letter country code of the newest sample; empty when unknown."
    )
    paths = serializers.ListField(
        child=serializers.CharField(),
        help_text="Distinct paths asked for, newest first (at most 10).",
    )
    more_paths = serializers.IntegerField(help_text="Distinct paths beyond those listed.")
    allowed_now = serializers.BooleanField(
        help_text="An active network on the allowlist covers this address now."
    )


class BlockedReportSerializer(serializers.Serializer[Any]):
    addresses = BlockedAddressSerializer(many=True)
    since = serializers.DateTimeField(help_text="Start of the window WAF answered for.")
    until = serializers.DateTimeField(help_text="End of the window WAF answered for.")
    sampled = serializers.IntegerField(help_text="Sampled requests read (at most 500).")
    population_size = serializers.IntegerField(
        help_text="Requests WAF drew the sample from (all of them when no more than sampled)."
    )
    sampling_enabled = serializers.BooleanField(
        help_text="The web ACL's visibility config keeps samples (false: the list stays empty)."
    )


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(  # type: ignore[assignment]
        help_text="Field name -> list of messages (nested for nested input)."
    )


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()


class DuplicateErrorDetailSerializer(ErrorDetailSerializer):
    existing = NetworkSerializer(required=False)
    viewer_ip = serializers.CharField(required=False)
    covering = NetworkSerializer(many=True, required=False)
    rule = serializers.ChoiceField(
        choices=[rule.value for rule in EmptyAllowlist.Rule],
        required=False,
        help_text="empty_allowlist: which invariant the change would break.",
    )


class ConflictErrorSerializer(serializers.Serializer[Any]):
    """409: code "duplicate" (+ existing), "self_lockout" (+ viewer_ip, covering) or
    "empty_allowlist"."""

    error = DuplicateErrorDetailSerializer()


class LockedOutErrorDetailSerializer(ErrorDetailSerializer):
    retry_after_seconds = serializers.IntegerField()


class LockedOutErrorSerializer(serializers.Serializer[Any]):
    error = LockedOutErrorDetailSerializer()
