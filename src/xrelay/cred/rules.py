"""A line's rules: whether an authenticated line may use the service now."""

from __future__ import annotations

import ipaddress
from fnmatch import fnmatchcase

import attrs

from xrelay.models import User


@attrs.frozen
class Verdict:
    """Why a line may not be used: ``status`` is the Xtream account status
    players show (``Expired``, ``Disabled``, ``Banned``); ``reason`` is for
    the log and the short refusal text."""

    status: str
    reason: str


def line_verdict(
    user: User,
    now: float,
    client_ip: str,
    user_agent: str,
    output_format: str | None = None,
) -> Verdict | None:
    """None when ``user`` may stream/browse from this client now.

    ``allowed_networks`` are CIDRs (an address alone is one host);
    ``allowed_user_agents`` are case-insensitive shell-style patterns
    (``*TiviMate*``); either list empty means no restriction.
    ``output_format`` ("ts", "m3u8") is checked when given.
    """
    if not user.enabled:
        return Verdict("Disabled", "line disabled")
    if user.expires_at is not None and user.expires_at <= now:
        return Verdict("Expired", "line expired")
    if user.allowed_networks and not _in_networks(client_ip, user.allowed_networks):
        return Verdict("Banned", "address not allowed for this line")
    if user.allowed_user_agents and not any(
        fnmatchcase(user_agent.lower(), pattern.lower())
        for pattern in user.allowed_user_agents
    ):
        return Verdict("Banned", "player not allowed for this line")
    if output_format is not None and output_format not in user.allowed_output_formats:
        return Verdict("Active", f"output format {output_format!r} not allowed")
    return None


def _in_networks(client_ip: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for network in networks:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue  # the store validates networks; never trust, never crash
    return False
