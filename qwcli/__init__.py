"""``qw``: the operator's command line for the three QualityWatch services (see ``qwcli.parser``)."""

from qwcli.inputs import parse_duration
from qwcli.parser import build_parser, main

__all__ = ["build_parser", "main", "parse_duration"]
