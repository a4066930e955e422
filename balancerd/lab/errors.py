"""The lab's own error type.

Raised by every lab module (assets, namespaces, daemons, guests, state) when the lab cannot be built,
inspected or torn down; the lab CLI turns it into a one-line message and exit code 1.
"""

from __future__ import annotations

from balancerd.errors import BalancerdError


class LabError(BalancerdError):
    """The lab could not do what was asked; the message says what and, where known, how to fix it."""
