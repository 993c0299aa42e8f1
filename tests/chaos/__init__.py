"""The chaos soak's parts (tests/test_chaos.py): its own server, worker processes and their
faults, the producer's mix, and the checks made from the database and the ledger."""
