"""Jobs: validating and inserting them, fetching, running, heartbeating and recording their outcomes."""
