"""The Django admin: network changes go through the services; audit is read-only."""

import pytest

from accesscontrol.models import AllowedNetwork, AuditEvent

from .conftest import OFFICE_V4

pytestmark = pytest.mark.django_db

ADD_URL = "/api/admin/accesscontrol/allowednetwork/add/"


@pytest.fixture
def admin_client(https_client, superuser):
    https_client.force_login(superuser)
    return https_client


def test_adding_a_network_in_the_admin_audits_and_syncs_it(
    admin_client, waf, django_capture_on_commit_callbacks
):
    # The admin wraps its views in a transaction: the sync runs when that commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(ADD_URL, {"cidr": " 81.2.69.0/24 ", "label": "Office"})
    assert response.status_code == 302
    network = AllowedNetwork.objects.get()
    assert (network.cidr, network.created_by.username) == (OFFICE_V4, "root")
    assert AuditEvent.objects.get(action="network.allow").actor_name == "root"
    assert waf.addresses(4) == {OFFICE_V4}


def test_admin_form_shows_the_input_rules(admin_client, waf):
    response = admin_client.post(ADD_URL, {"cidr": "10.1.2.3/24", "label": " "})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "10.1.2.0/24" in errors["cidr"][0]
    assert "label" in errors
    assert not AllowedNetwork.objects.exists()


def test_deleting_in_the_admin_revokes_through_the_service(
    admin_client, waf, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(ADD_URL, {"cidr": OFFICE_V4, "label": "Office"})
        admin_client.post(ADD_URL, {"cidr": "81.2.70.0/24", "label": "Other"})
    network = AllowedNetwork.objects.get(cidr=OFFICE_V4)
    url = f"/api/admin/accesscontrol/allowednetwork/{network.pk}/delete/"
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert AuditEvent.objects.filter(action="network.revoke", subject=OFFICE_V4).exists()
    assert waf.addresses(4) == {"81.2.70.0/24"}


def test_audit_events_are_read_only_in_the_admin(admin_client):
    event = AuditEvent.objects.create(actor_name="system", action="auth.logout", subject="x")
    assert admin_client.get("/api/admin/accesscontrol/auditevent/").status_code == 200
    assert admin_client.get("/api/admin/accesscontrol/auditevent/add/").status_code == 403
    url = f"/api/admin/accesscontrol/auditevent/{event.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
