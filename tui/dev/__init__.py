"""What the dashboard needs only for pictures, tests and demos: sample data, screenshots, the demo.

The sample cluster is a fixed, in-memory `AdminApi` for pictures and tests;
`screenshots` renders the README's SVGs from it; `demo` runs `pqw demo` beside
the dashboard for `pqw-tui --demo`.
"""
