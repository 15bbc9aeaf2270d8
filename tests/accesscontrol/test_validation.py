"""Input rules: every refusal is a ValidationError on the field with an actionable message."""

import pytest
from django.core.exceptions import ValidationError

from accesscontrol.services import allow_network
from accesscontrol.validation import check_network_policy, parse_network

from .conftest import OFFICE_V4


def refusal(raw) -> tuple[str, str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_network(raw)
    (field, errors), *_ = caught.value.error_dict.items()
    return field, errors[0].code, errors[0].message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("81.2.69.7", "81.2.69.7/32"),
        ("  81.2.69.0/24\n", "81.2.69.0/24"),
        ("2A02:8010:1234:0000:0000::/48", "2a02:8010:1234::/48"),
        ("2a02:8010::1", "2a02:8010::1/128"),
        ("81.2.69.0/255.255.255.0", "81.2.69.0/24"),
    ],
)
def test_input_is_normalised(raw, expected):
    assert str(parse_network(raw)) == expected


def test_host_bits_refusal_names_the_network_address():
    field, code, message = refusal("10.1.2.3/24")
    assert (field, code) == ("cidr", "host_bits")
    assert "10.1.2.0/24" in message
    assert "10.1.2.3/32" in message


def test_ipv6_host_bits_refusal_names_the_network_address():
    _, code, message = refusal("2a02:8010:1234::1/48")
    assert code == "host_bits"
    assert "2a02:8010:1234::/48" in message


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ("0.0.0.0/0", "whole_internet", "whole IPv4 internet"),
        ("::/0", "whole_internet", "whole IPv6 internet"),
        ("not an ip", "invalid", "is not an IP address"),
        ("81.2.69", "invalid", "is not an IP address"),
        ("010.1.1.1", "invalid", "is not an IP address"),
        ("", "required", "Enter an IP address"),
        ("   ", "required", "Enter an IP address"),
        (None, "invalid", "as text"),
        (42, "invalid", "as text"),
        ("1" * 101, "too_long", "too long"),
        ("81.2.69.0/33", "prefix_range", "from 1 to 32"),
        ("2a02::/129", "prefix_range", "from 1 to 128"),
        ("81.2.69.0/-1", "prefix_range", "from 1 to 32"),
        ("81.2.69.0/abc", "prefix_range", "from 1 to 32"),
        ("fe80::1%eth0", "zone_id", "Zone ids"),
        ("2a02:8010::1%1/128", "zone_id", "Zone ids"),
        ("::ffff:81.2.69.7", "ipv4_mapped", "81.2.69.7/32"),
        ("::ffff:81.2.69.0/120", "ipv4_mapped", "81.2.69.0/24"),
    ],
)
def test_malformed_input_is_refused_with_a_reason(raw, code, words):
    field, got_code, message = refusal(raw)
    assert (field, got_code) == ("cidr", code)
    assert words in message


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("10.0.0.0/8", "private"),
        ("192.168.1.0/24", "private"),
        ("172.16.5.0/24", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.10.0/24", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.0/8", "reserved"),
        ("0.1.2.3", "unspecified"),
        ("100.64.0.0/16", "carrier-grade NAT"),
        ("203.0.113.0/24", "documentation"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::/64", "link-local"),
        ("fd00::/48", "unique-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::/48", "documentation"),
        ("100::/64", "discard"),
    ],
)
def test_non_public_ranges_are_refused_by_default(raw, why, settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = False
    with pytest.raises(ValidationError) as caught:
        check_network_policy(parse_network(raw), is_superuser=True)
    error = caught.value.error_dict["cidr"][0]
    assert error.code == "not_public"
    assert why in error.message
    assert "public" in error.message


def test_ipv6_outside_global_unicast_is_refused(settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = False
    with pytest.raises(ValidationError, match="2000::/3"):
        check_network_policy(parse_network("4000::/48"), is_superuser=True)


def test_wide_network_overlapping_a_private_range_is_refused(settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = False
    with pytest.raises(ValidationError, match="10.0.0.0/8"):
        check_network_policy(parse_network("8.0.0.0/6"), is_superuser=True)


def test_private_ranges_pass_when_the_setting_allows_them(settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = True
    check_network_policy(parse_network("192.168.1.0/24"), is_superuser=False)
    check_network_policy(parse_network("::1"), is_superuser=False)


@pytest.mark.parametrize(("raw", "minimum"), [("81.0.0.0/15", 16), ("2a02:8000::/47", 48)])
def test_prefix_wider_than_minimum_needs_a_superuser(raw, minimum, settings):
    settings.GATEHOUSE_MIN_PREFIX_V4, settings.GATEHOUSE_MIN_PREFIX_V6 = 16, 48
    network = parse_network(raw)
    with pytest.raises(ValidationError) as caught:
        check_network_policy(network, is_superuser=False)
    error = caught.value.error_dict["cidr"][0]
    assert error.code == "too_wide"
    assert f"/{minimum}" in error.message and "superuser" in error.message
    check_network_policy(network, is_superuser=True)  # a superuser may


def test_prefix_at_the_minimum_is_fine_for_an_editor(settings):
    settings.GATEHOUSE_MIN_PREFIX_V4 = 16
    check_network_policy(parse_network("81.2.0.0/16"), is_superuser=False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("label", "field_words"),
    [("", "Give the network a label"), ("   ", "Give the network a label"), (None, "label")],
)
def test_label_is_required(label, field_words, as_editor):
    with pytest.raises(ValidationError) as caught:
        allow_network(requester=as_editor, cidr=OFFICE_V4, label=label)
    assert field_words in caught.value.message_dict["label"][0]


@pytest.mark.django_db
def test_over_long_label_and_note_are_refused_together(as_editor):
    with pytest.raises(ValidationError) as caught:
        allow_network(requester=as_editor, cidr="bogus", label="x" * 101, note="n" * 1001)
    errors = caught.value.message_dict
    assert set(errors) == {"cidr", "label", "note"}
    assert "100 characters (it has 101)" in errors["label"][0]
    assert "1000 characters (it has 1001)" in errors["note"][0]


@pytest.mark.django_db
def test_label_is_trimmed_and_100_characters_are_fine(as_editor, gateway):
    change = allow_network(
        requester=as_editor, cidr=OFFICE_V4, label="  " + "x" * 100 + " ", gateway=gateway
    )
    assert change.network.label == "x" * 100


@pytest.mark.django_db
def test_expiry_in_the_past_is_refused(as_editor):
    from datetime import timedelta

    from django.utils import timezone

    with pytest.raises(ValidationError) as caught:
        allow_network(
            requester=as_editor,
            cidr=OFFICE_V4,
            label="Office",
            expires_at=timezone.now() - timedelta(minutes=1),
        )
    assert "future" in caught.value.message_dict["expires_at"][0]
