# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private kazoo session shared by the modules that read or write znodes.

This is private to the mesosphere.cluster collection; it may change without notice.

kazoo is imported here, not at the top of a module, so that a host without it gets the
module's own sentence (``KAZOO_IMPORT_ERROR`` holds the traceback). The client class is passed
in, so that a module's tests can replace it.
"""

from __future__ import annotations

import traceback
from typing import Any

KAZOO_IMPORT_ERROR = None
try:
    from kazoo.exceptions import AuthFailedError, KazooException
    from kazoo.handlers.threading import KazooTimeoutError
except ImportError:
    KAZOO_IMPORT_ERROR = traceback.format_exc()

    class KazooException(Exception):  # type: ignore[no-redef]
        """Stands for kazoo's base error when kazoo is missing (nothing raises it)."""

    class AuthFailedError(KazooException):  # type: ignore[no-redef]
        """Stands for kazoo's error when kazoo is missing."""

    class KazooTimeoutError(Exception):  # type: ignore[no-redef]
        """Stands for kazoo's error when kazoo is missing."""

MISSING = "kazoo"
MISSING_HINT = " On Debian and Ubuntu it is the package python3-kazoo."


class SessionError(Exception):
    """The session could not be opened; str() is a sentence for a person."""


def open_session(factory: Any, target: Any, timeout: float, username: str | None = None,
                 password: str | None = None) -> tuple[Any, str]:
    """A started client of `factory` (kazoo's KazooClient) on `target` (a _zookeeper.Target),
    authenticated with digest credentials when a user is given (else the target's own), and
    the members' addresses as one string for messages."""
    where = ",".join(target.addresses)
    client = factory(hosts=target.connection_string(), timeout=max(timeout, 1.0))
    try:
        client.start(timeout=timeout)
    except KazooTimeoutError:
        client.close()
        raise SessionError(
            "Could not connect to any ZooKeeper member of %s within %ss (down, unreachable, or no quorum)."
            % (where, timeout)
        ) from None
    except KazooException as exc:
        client.close()
        raise SessionError("Could not connect to ZooKeeper at %s: %s." % (where, type(exc).__name__)) from None
    if not username:
        username, password = target.username, target.password
    if username:
        try:
            client.add_auth("digest", "%s:%s" % (username, password or ""))
        except AuthFailedError:
            close_session(client)
            raise SessionError(
                "ZooKeeper at %s rejected the digest credentials of user %s." % (where, username)
            ) from None
        except (KazooException, KazooTimeoutError) as exc:
            close_session(client)
            raise SessionError(
                "Could not authenticate as %s to ZooKeeper at %s: %s." % (username, where, type(exc).__name__)
            ) from None
    return client, where


def close_session(client: Any) -> None:
    try:
        client.stop()
    finally:
        client.close()
