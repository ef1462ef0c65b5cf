"""Where connections may point: an admin's allow and deny lists of host names, addresses and
networks, each with optional ports, applied when a connection is saved and again at every
connect (web and worker alike).

Entries (CONNECTION_ALLOWED_HOSTS / CONNECTION_DENIED_HOSTS, comma-separated):
`db.example.org`, `*.example.org`, `10.0.0.0/8`, `192.0.2.7`, `[2001:db8::/32]`, each optionally
followed by `:5432` or `:1433-1434` (a port range; none means every port).

The name is resolved once per check and every address it resolves to must pass: the deny list
wins, link-local and cloud metadata addresses are always denied, and when an allow list is set
the host must match it. The address that passed is the one the connection uses
(`pinned_params`), so a name that re-resolves elsewhere between the check and the connect (DNS
rebinding) still reaches the checked address. Where TLS verifies the server's name, the name
is kept instead: a rebound address could not present a certificate for it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Union

from django.conf import settings

from masking.dialects import ConnectionParams

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

# Always refused: link-local (where the cloud metadata services live) and the metadata
# addresses and names of the large clouds.
ALWAYS_DENIED = (
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "metadata.google.internal",
    "metadata",
)


class HostRefused(Exception):
    """The destination is outside the connection host policy (message names host and port)."""


@dataclass(frozen=True)
class Rule:
    network: Network | None
    name: str  # lower-case host name or `*.suffix`, when not a network
    ports: tuple[int, int] | None

    def matches_port(self, port: int | None) -> bool:
        return self.ports is None or (port is not None and self.ports[0] <= port <= self.ports[1])

    def matches_name(self, host: str) -> bool:
        if not self.name:
            return False
        if self.name.startswith("*."):
            return host.endswith(self.name[1:])
        return host == self.name

    def matches_address(self, address: Address) -> bool:
        return self.network is not None and address in self.network


def parse_rule(text: str) -> Rule:
    text = text.strip()
    ports: tuple[int, int] | None = None
    body = text
    if text.startswith("[") and "]" in text:  # [v6 address or network]:port
        close = text.index("]")
        body, rest = text[1:close], text[close + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        body, port_text = text.split(":")
    else:
        port_text = ""
    if port_text:
        low, _, high = port_text.partition("-")
        ports = (int(low), int(high or low))
        if not (1 <= ports[0] <= ports[1] <= 65535):
            raise ValueError(f"bad port range in {text!r}")
    try:
        return Rule(ipaddress.ip_network(body, strict=False), "", ports)
    except ValueError:
        name = body.lower().rstrip(".")
        if not name or any(c in name for c in "/ "):
            raise ValueError(f"not a host, network or address: {text!r}") from None
        return Rule(None, name, ports)


def _rules(entries: Iterable[str]) -> list[Rule]:
    return [parse_rule(e) for e in entries if e and e.strip()]


def _setting(name: str) -> list[str]:
    value = getattr(settings, name, None) or []
    return [value] if isinstance(value, str) else list(value)


def resolve(host: str, port: int | None) -> list[Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port or 0, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise HostRefused(f"{host} does not resolve to an address") from None
    return list(dict.fromkeys(ipaddress.ip_address(f[4][0].split("%")[0]) for f in found))


def check(
    host: str,
    port: int | None,
    *,
    must_resolve: bool = True,
    allowed_setting: str = "CONNECTION_ALLOWED_HOSTS",
    denied_setting: str = "CONNECTION_DENIED_HOSTS",
    policy: str = "connection",
    allow_list_required: bool = False,
) -> list[Address]:
    """The addresses `host` resolves to, all of them allowed for `port`; else HostRefused.
    `must_resolve=False` (on save: the worker may sit in another network) lets a name that
    does not resolve here pass; it is checked again at every connect. Other outbound calls
    (webhooks) pass their own settings; `allow_list_required`: an empty allow list refuses."""
    name = host.split("\\")[0].strip().lower().rstrip(".")  # SQL Server: host\instance
    denied = _rules([*ALWAYS_DENIED, *_setting(denied_setting)])
    allowed = _rules(_setting(allowed_setting))
    where = f"{name}:{port}" if port else name
    if allow_list_required and not allowed:
        raise HostRefused(f"{where}: no host is allowed until {allowed_setting} is set")
    if any(r.matches_name(name) and r.matches_port(port) for r in denied):
        raise HostRefused(f"{where} is denied by the {policy} host policy")
    try:
        addresses = resolve(name, port)
    except HostRefused:
        if must_resolve:
            raise
        addresses = []
    if (
        not addresses
        and allowed
        and not any(r.matches_name(name) and r.matches_port(port) for r in allowed)
    ):
        raise HostRefused(f"{where} is not in the allowed hosts of the {policy} policy")
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None) or address
        if any(r.matches_address(mapped) and r.matches_port(port) for r in denied):
            raise HostRefused(f"{where} is denied by the {policy} host policy")
        if allowed and not any(
            (r.matches_name(name) or r.matches_address(mapped)) and r.matches_port(port)
            for r in allowed
        ):
            raise HostRefused(f"{where} is not in the allowed hosts of the {policy} policy")
    return addresses


def _verifies_name(params: ConnectionParams) -> bool:
    o = params.options or {}
    if params.dialect == "postgresql":
        return str(o.get("sslmode", "")).lower() == "verify-full"
    if params.dialect == "mysql":
        return str(o.get("ssl_mode", "")).upper() == "VERIFY_IDENTITY"
    if params.dialect == "sqlserver":
        encrypt = str(o.get("encrypt", "")).lower()
        return encrypt in ("yes", "true", "strict") and not o.get("trust_server_certificate")
    return False


def pinned_params(params: ConnectionParams) -> ConnectionParams:
    """`params` checked against the policy, pointing at the checked address (see above)."""
    if params.dialect == "sqlite" or not params.host:
        return params
    addresses = check(params.host, params.port)
    if _verifies_name(params):
        return params
    instance = params.host.partition("\\")[2]
    pinned = str(addresses[0]) + (f"\\{instance}" if instance else "")
    return replace(params, host=pinned)
