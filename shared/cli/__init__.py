"""``qw``: the operator's command line for the three QualityWatch services (see ``shared.cli.parser``)."""

from shared.cli.inputs import parse_duration
from shared.cli.parser import build_parser, main

__all__ = ["build_parser", "main", "parse_duration"]
