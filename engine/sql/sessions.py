"""Session settings pqw sets itself, on connections that are sessions of their own."""

from __future__ import annotations

# set_config(..., false) lasts for the session; names and values are bind parameters.
SET_SESSION_SETTINGS = """
SELECT set_config(s.name, s.value, false) FROM unnest($1::text[], $2::text[]) AS s(name, value)
"""
