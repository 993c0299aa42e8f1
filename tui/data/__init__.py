"""The data layer: polls `engine.admin` off the UI thread and tracks pending operator actions.

Nothing here draws: the feed turns the database's answers and troubles into
messages and states, the pollers pace the reads, and the rest is the state the
screens paint from (pending changes, the refresh rate, the display clock, the
jobs list's window).
"""
