"""Every ``qw`` command module; importing this package fills ``qwcli.registry.COMMANDS``."""

from qwcli.commands import alerts, dead_letters, events, figures, keys, loop, plan, status

__all__ = ["alerts", "dead_letters", "events", "figures", "keys", "loop", "plan", "status"]
