"""Tables owned by the alerts service."""
