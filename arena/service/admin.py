"""The admin page's gate: one password, compared in constant time, with tries rate-limited.

The password comes from ``$ARENA_ADMIN_PASSWORD`` (or the web app's secrets). Without
one the admin page stays closed. Wrong passwords are counted for the whole process, not
per visitor, so opening many sessions does not buy more guesses.
"""

from __future__ import annotations

import contextlib
import hmac

from arena.service.errors import RateLimited, ServiceError
from arena.service.limits import RateLimiter

__all__ = ["ADMIN_ENV", "AdminGate"]

#: Environment variable holding the admin password.
ADMIN_ENV = "ARENA_ADMIN_PASSWORD"


class AdminGate:
    """Checks admin passwords.

    Parameters
    ----------
    password:
        The password; None or empty keeps the gate closed.
    attempts, window_s:
        Most failed tries per window for the whole process.
    """

    def __init__(self, password: str | None, *, attempts: int = 10, window_s: float = 60.0):
        self._password = (password or "").encode()
        self._failures = RateLimiter(attempts, window_s)

    @property
    def enabled(self) -> bool:
        """Whether a password is configured."""
        return bool(self._password)

    def check(self, given: str) -> bool:
        """True for the right password, False for a wrong one.

        Raises
        ------
        ServiceError
            No password is configured.
        RateLimited
            Too many wrong passwords lately (every password is refused until then).
        """
        if not self.enabled:
            raise ServiceError(f"the admin page is disabled: set ${ADMIN_ENV} to enable it")
        self._failures.check("admin")
        if hmac.compare_digest(given.encode(), self._password):
            return True
        with contextlib.suppress(RateLimited):  # the next try is refused, not this answer
            self._failures.hit("admin")
        return False
