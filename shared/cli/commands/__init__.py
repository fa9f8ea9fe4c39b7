"""Every ``qw`` command module; importing this package fills ``shared.cli.registry.COMMANDS``."""

from shared.cli.commands import alerts, dead_letters, events, figures, keys, plan, status

__all__ = ["alerts", "dead_letters", "events", "figures", "keys", "plan", "status"]
