"""Persistent workers: definitions and their typed configs, the handler's context, one run
and its lease, and the manager that plugs runs into a started client's runtime."""
