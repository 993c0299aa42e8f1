"""The database: pools and codecs, DSN resolution, outages, the embedded server, migrations."""
