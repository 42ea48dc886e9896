"""The destination guard: a webhook never reaches into our own network.

Private, loopback, link-local (the cloud metadata service at 169.254.169.254), multicast,
reserved and unspecified addresses are refused unless an allow-listed network holds them. The
check runs when an endpoint is saved and again at every delivery, on the address the name
resolves to then; the dispatcher connects to that checked address, so a name re-pointed after
the check (DNS rebinding) cannot slip through.
"""

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from gateway.webhooks.settings import Network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(Exception):
    """The URL is not one we deliver to."""


def parse_destination(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a webhook URL; refuses anything but plain http(s) URLs."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused("the URL must start with http:// or https://")
    if not parts.hostname:
        raise DestinationRefused("the URL has no host")
    if parts.username or parts.password:
        raise DestinationRefused("credentials in the URL are not accepted; use the signature")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DestinationRefused("the URL's port is not a number in range") from exc
    return parts.scheme, parts.hostname, port


def _forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_address(address: str, allowed: Sequence[Network]) -> IPAddress:
    """The address, if we may connect to it; raises `DestinationRefused` otherwise."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if _forbidden(ip) and not any(ip in network for network in allowed):
        raise DestinationRefused(
            f"{ip} is a private, loopback or link-local address and is not allow-listed"
        )
    return ip


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (one, for an IP literal)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"{host} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_address(url: str, allowed: Sequence[Network]) -> str:
    """The address to connect to for `url`: every address the host resolves to must pass,
    so a name with one public and one private address is refused."""
    _, host, port = parse_destination(url)
    addresses = resolve(host, port)
    for address in addresses:
        check_address(address, allowed)
    return addresses[0]
