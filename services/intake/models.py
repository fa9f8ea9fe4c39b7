"""Tables owned by the intake service."""
