"""The Django admin says it is Gatehouse's, links back to the console, and shows expiry
with its time zone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accesscontrol.models import AllowedNetwork
from tests.conftest import sign_in

from .conftest import OFFICE_V4

pytestmark = pytest.mark.django_db


def test_admin_is_branded_and_links_to_the_console(https_client, superuser):
    sign_in(https_client, superuser)
    page = https_client.get("/api/admin/").content.decode()
    assert "Gatehouse administration" in page
    assert "Django administration" not in page
    assert 'href="/#/networks"' in page  # "View site" goes to the console


def test_admin_list_shows_expiry_with_its_time_zone(https_client, superuser):
    sign_in(https_client, superuser)
    at = timezone.now() + timedelta(hours=5)
    AllowedNetwork.objects.create(cidr=OFFICE_V4, ip_version=4, label="Office", expires_at=at)
    page = https_client.get("/api/admin/accesscontrol/allowednetwork/").content.decode()
    assert f"{at:%Y-%m-%d %H:%M} UTC" in page
