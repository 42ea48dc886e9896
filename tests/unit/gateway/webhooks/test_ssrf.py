import ipaddress

import pytest

from gateway.webhooks import ssrf

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.7",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "224.0.0.1",
    ],
)
def test_inward_addresses_are_refused(address: str) -> None:
    with pytest.raises(ssrf.DestinationRefused):
        ssrf.check_address(address, [])


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:84e5"])
def test_public_addresses_pass(address: str) -> None:
    assert str(ssrf.check_address(address, [])) == address


def test_an_allow_listed_network_passes_and_nothing_else() -> None:
    assert str(ssrf.check_address("127.0.0.2", LOOPBACK)) == "127.0.0.2"
    with pytest.raises(ssrf.DestinationRefused):
        ssrf.check_address("169.254.169.254", LOOPBACK)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http:///nohost",
        "https://user:pw@example.com/",
        "http://example.com:99999/",
    ],
)
def test_only_plain_http_urls_are_destinations(url: str) -> None:
    with pytest.raises(ssrf.DestinationRefused):
        ssrf.parse_destination(url)


def test_a_name_is_checked_on_every_address_it_resolves_to() -> None:
    with pytest.raises(ssrf.DestinationRefused):
        ssrf.checked_address("http://localhost:8080/hook", [])
    assert ssrf.checked_address("http://127.0.0.1:8080/hook", LOOPBACK) == "127.0.0.1"
