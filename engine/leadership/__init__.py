"""Leadership: the lease one client holds at a time, the elector that campaigns for it,
the fence leader-only passes run behind, and the sessions they use (with their bounds)."""
