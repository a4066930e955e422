"""Network addresses in the config: checked when the config loads, not when something first binds or dials.

Called by :mod:`balancerd.config.checks` for ``[metrics] address`` and for the host part of every
``[[hosts]]`` URI. An address is an IP literal (parsed by :mod:`ipaddress`: ``999.1.1.1`` is refused) or a
host name made of RFC 1123 labels whose last label is not all digits. Host names are NOT resolved here: a
reload must not wait on DNS, and the name may only resolve on the network the daemon runs in; the daemon
reports a name that does not resolve when it binds (exit 78 as well).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from balancerd.errors import ConfigError

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$", re.IGNORECASE)
ALLOWED = "expected an IP address (such as 127.0.0.1, ::1, 0.0.0.0 or :: for every interface) or a host name"


def is_address(text: str) -> bool:
    """An IP literal, or a well-formed host name that cannot be mistaken for a mistyped IP literal."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return _is_host_name(text)
    return True


def _is_host_name(text: str) -> bool:
    labels = text.removesuffix(".").split(".")
    if len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        return False
    return not labels[-1].isdigit()


def check_address(key: str, text: str) -> None:
    """Raise ConfigError unless ``text`` is an address (see the module docstring)."""
    if not is_address(text):
        raise ConfigError(key, text, ALLOWED)


def check_uri_host(key: str, uri: str) -> None:
    """Raise ConfigError when ``uri`` names a host (``scheme://host[:port]/...``) that is not an address."""
    try:
        host = urlsplit(uri).hostname
    except ValueError as exc:
        raise ConfigError(key, uri, f"expected a URI such as qemu+tcp://kvm01/system ({exc})") from exc
    if host and not is_address(host):
        raise ConfigError(key, uri, f"the host part {host!r} is not an address; {ALLOWED}")
