"""`pqw bench`: figures measured on a scratch database, with real worker processes where it counts."""
