"""The dashboard's components, one per module."""
