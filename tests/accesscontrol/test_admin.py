"""The Django admin: superusers only; networks are read-only there (every change goes
through the console, API or commands, with their guards); audit is read-only."""

import pytest
from django.contrib.auth.models import Permission

from accesscontrol.models import AllowedNetwork, AuditEvent
from accesscontrol.services import Requester, allow_network
from tests.conftest import sign_in

from .conftest import OFFICE_V4

pytestmark = pytest.mark.django_db

ADMIN = "/api/admin/"
NETWORKS = "/api/admin/accesscontrol/allowednetwork/"


@pytest.fixture
def admin_client(https_client, superuser):
    sign_in(https_client, superuser)
    return https_client


@pytest.fixture
def twelve_networks(waf):
    """The issue's allowlist: eleven office networks and the admin's own /32."""
    gateway_kwargs = {"requester": Requester()}
    for i in range(11):
        allow_network(cidr=f"81.2.{100 + i}.0/24", label=f"office {i}", **gateway_kwargs)
    allow_network(cidr="81.2.69.10/32", label="the admin at home", **gateway_kwargs)
    return list(AllowedNetwork.objects.order_by("pk"))


def test_bulk_delete_action_cannot_delete_networks(admin_client, twelve_networks, waf):
    before = set(waf.addresses(4))
    response = admin_client.post(
        NETWORKS,
        {
            "action": "delete_selected",
            "_selected_action": [n.pk for n in twelve_networks],
            "post": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert AllowedNetwork.objects.count() == 12
    assert not AuditEvent.objects.filter(action="network.revoke").exists()
    assert waf.addresses(4) == before and len(before) == 12


def test_delete_and_change_views_refuse_and_the_list_links_to_the_console(
    admin_client, twelve_networks
):
    own = twelve_networks[-1]
    delete_url = f"{NETWORKS}{own.pk}/delete/"
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = f"{NETWORKS}{own.pk}/change/"
    assert admin_client.post(change_url, {"label": "x", "expires_at": ""}).status_code == 403
    assert admin_client.get(f"{NETWORKS}add/").status_code == 403
    assert AllowedNetwork.objects.filter(pk=own.pk, label="the admin at home").exists()

    listing = admin_client.get(NETWORKS)
    assert listing.status_code == 200
    assert b'href="/#/networks"' in listing.content
    assert b"81.2.69.10/32" in listing.content
    detail = admin_client.get(change_url)  # read-only view
    assert detail.status_code == 200 and b'href="/#/networks"' in detail.content


def test_admin_is_for_superusers_only(https_client, django_user_model, superuser):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.all())
    sign_in(https_client, staff)
    for url in (ADMIN, "/api/admin/auth/user/", NETWORKS):
        response = https_client.get(url)
        assert response.status_code == 302 and "/api/admin/login/" in response["Location"]

    sign_in(https_client, superuser)
    assert https_client.get(ADMIN).status_code == 200
    assert https_client.get("/api/admin/auth/user/").status_code == 200


def test_audit_events_are_read_only_in_the_admin(admin_client):
    event = AuditEvent.objects.create(actor_name="system", action="auth.logout", subject="x")
    assert admin_client.get("/api/admin/accesscontrol/auditevent/").status_code == 200
    assert admin_client.get("/api/admin/accesscontrol/auditevent/add/").status_code == 403
    url = f"/api/admin/accesscontrol/auditevent/{event.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_adopted_networks_needing_review_can_be_filtered(admin_client, waf):
    AllowedNetwork.objects.create(
        cidr=OFFICE_V4, ip_version=4, label="Adopted from WAF", source="adopted", needs_review=True
    )
    response = admin_client.get(NETWORKS + "?needs_review__exact=1")
    assert response.status_code == 200 and OFFICE_V4.encode() in response.content


def test_the_notification_outbox_is_read_only_in_the_admin(admin_client):
    from accesscontrol.models import Notification

    row = Notification.objects.create(
        key="audit:1",
        target="0123456789abcdef",
        kind="network.added",
        subject=OFFICE_V4,
        title="Gatehouse (gatehouse): network added",
        body="erin added 81.2.69.0/24",
        state="failed",
        last_error="HTTP Error 500",
    )
    page = admin_client.get("/api/admin/accesscontrol/notification/?state=failed")
    assert page.status_code == 200 and b"HTTP Error 500" in page.content
    url = f"/api/admin/accesscontrol/notification/{row.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Notification.objects.filter(pk=row.pk).exists()
