"""Who the visitor is, as the rate limits see it: the client address of this session.

The address is the TCP peer of the session's websocket (``st.context.ip_address``), or,
only when the operator configured ``ARENA_TRUSTED_PROXY_HEADER`` (and
``ARENA_TRUSTED_PROXY_HOPS``), the address the trusted proxies wrote into that header.
A header nobody configured is never believed: any visitor can send one.
"""

from __future__ import annotations

import streamlit as st

from arena.service import ServiceConfig, client_address


def client() -> str:
    """The client key of this session (see :func:`arena.service.limits.client_address`)."""
    config = ServiceConfig.from_env()
    forwarded = None
    header = config.trusted_proxy_header
    if header:
        values = st.context.headers.get_all(header)
        forwarded = ", ".join(values) if values else None
    return client_address(
        st.context.ip_address,
        forwarded,
        trusted_hops=config.trusted_proxy_hops if header else 0,
    )
