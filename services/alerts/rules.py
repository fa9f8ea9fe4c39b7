"""Per-indicator alert rules: the ``for`` and ``resolve_for`` durations and the repeat interval.

Defaults come from Settings (``alert_for_seconds``, ``alert_resolve_for_seconds``,
``repeat_interval_seconds``, ``report_overdue_for_seconds``); ``overrides`` (indicator id → Rule) change
single indicators without touching the catalogue schema.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.alerts.evaluate import Rule
from shared.settings import Settings


class RuleBook:
    def __init__(self, defaults: Rule, overrides: Mapping[str, Rule] | None = None) -> None:
        self.defaults = defaults
        self._overrides = dict(overrides or {})

    @classmethod
    def from_settings(cls, settings: Settings, overrides: Mapping[str, Rule] | None = None) -> RuleBook:
        return cls(Rule(for_seconds=settings.alert_for_seconds,
                        resolve_for_seconds=settings.alert_resolve_for_seconds,
                        repeat_interval_seconds=settings.repeat_interval_seconds,
                        overdue_for_seconds=settings.report_overdue_for_seconds), overrides)

    def rule_for(self, indicator: str) -> Rule:
        return self._overrides.get(indicator, self.defaults)
