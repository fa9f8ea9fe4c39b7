"""Tables owned by the indicators service."""
