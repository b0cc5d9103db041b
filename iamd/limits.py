"""What one HTTP connection may send to ``iamd serve``, and for how long (docs/security.md).

Plain values, importable without the server: the CLI reads its defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HttpLimits"]


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 64 * 1024
    """The request line's target plus every header name and value, in bytes (431 beyond)."""
    max_headers: int = 100
    """Header fields in one request (431 beyond)."""
    header_timeout: float = 10.0
    """Seconds from a new connection, or from a request's first byte, to its complete head (408)."""
    body_timeout: float = 30.0
    """Seconds from a request's complete head to its complete body (408)."""
    keep_alive_timeout: float = 5.0
    """Seconds an idle keep-alive connection is kept between requests."""
    max_connections: int = 1000
    """Open connections (and requests in progress) beyond which a request is answered 503."""
    request_threads: int = 4
    """Worker threads for the requests that do not run on the event loop."""
    write_threads: int = 0
    """The write lane's threads on PostgreSQL (0: as many as ``request_threads``; SQLite: always one).
    Every write takes the writers' lock, so threads beyond what the lock lets through only
    queue for it and for the GIL (bench/README.md, "Session 14: the merged tree's write cap at
    8 connections, and the write lane's threads")."""
