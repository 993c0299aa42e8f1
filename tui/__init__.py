"""pqw-tui: the Textual dashboard of a pqw cluster; it talks to Postgres only through engine.admin.

`app` is the App and `main`; `screens/` and `widgets/` draw; `data/` polls
engine.admin off the UI thread and keeps the state they draw from; `actions/`
carries out what the operator asks; `dev/` is for pictures, tests and the demo.
"""
