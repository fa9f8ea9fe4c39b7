"""The command registry: ``@command("group action")`` registers a function the parser's leaves name."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from qwcli.api import Api
from qwcli.output import Output

Command = Callable[[Api, argparse.Namespace, Output], "int | None"]
COMMANDS: dict[str, Command] = {}


def command(key: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[key] = fn
        return fn
    return register
