"""Telemetry: OpenTelemetry traces and metrics for a client, as a middleware on its hooks
(`Client(middleware=[OpenTelemetry()])`). Needs the `otel` extra (`pip install 'pqw[otel]'`);
`import engine` never imports OpenTelemetry, only importing this package does."""

from engine.telemetry.otel import METADATA_KEY, OpenTelemetry

__all__ = ["METADATA_KEY", "OpenTelemetry"]
