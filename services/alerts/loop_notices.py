"""The notice kinds of issue 19 as plain data, for the per-channel renderer (``channels`` owns rendering and
the ``notices`` i18n namespace; these keys and strings are meant to be folded into it).

Every webhook alert entry carries ``kind`` (``threshold`` | ``report_overdue``) and ``notice`` (the
existing ``firing``/``escalated``/``reminder``/``resolved``, or a loop notice: ``rectify_overdue``,
``rectified``, ``closed``); ``loop`` holds the loop notice's details and ``rectification`` the loop state,
``contributors`` a provincial alert's cities, ``provisional_failures`` the failures not yet final.
Placeholders are ``str.format`` fields taken from the alert entry (``indicator_name``, ``region_name``,
``period``, ``unit``, ``deadline``, ``follow_ups``, ``provisional``, ``cities``), Chinese first.
"""

from __future__ import annotations

NOTICE_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "report_overdue.firing": "{region_name}{indicator_name}（{period}）逾期未报送",
        "report_overdue.reminder": "提醒：{region_name}{indicator_name}（{period}）仍未报送",
        "report_overdue.resolved": "{region_name}{indicator_name}（{period}）已报送",
        "rectify_overdue": "整改逾期升级：{region_name}{indicator_name}告警的整改期限（{deadline}，"
                           "责任单位{unit}）已过，尚未闭环",
        "rectified": "{region_name}{indicator_name}告警已完成整改：{follow_ups}个跟踪抽检样品，指标已恢复达标",
        "closed": "{region_name}{indicator_name}告警已闭环（整改完成且告警解除）",
        "provisional": "其中{provisional}个不合格结果尚在异议期内或复检中",
        "contributors": "主要影响城市：{cities}",
        "contributor": "{name}（{points}个百分点，n={n}）",
    },
    "en": {
        "report_overdue.firing": "{indicator_name} for {region_name} ({period}) is overdue",
        "report_overdue.reminder": "Reminder: {indicator_name} for {region_name} ({period}) is still overdue",
        "report_overdue.resolved": "{indicator_name} for {region_name} ({period}) has been reported",
        "rectify_overdue": "Rectification overdue, escalated: the plan for the {indicator_name} alert in {region_name} "
                           "(due {deadline}, {unit}) has passed without closure",
        "rectified": "The {indicator_name} alert in {region_name} is rectified: {follow_ups} follow-up samples, "
                     "the figure is back on target",
        "closed": "The {indicator_name} alert in {region_name} is closed (rectified and resolved)",
        "provisional": "{provisional} of the failures are still provisional (open to objection or re-test)",
        "contributors": "Cities contributing most: {cities}",
        "contributor": "{name} ({points} pp, n={n})",
    },
}
