"""Load a catalogue file and report validation errors with the line they come from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.catalogue.model import Catalogue


class CatalogueError(ValueError):
    """A catalogue file that cannot be used; the message names the file, line and field."""


def load_catalogue(path: Path | str) -> Catalogue:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read catalogue: {exc.strerror}") from exc
    return parse_catalogue(text, source=str(path))


def parse_catalogue(text: str, *, source: str = "<catalogue>") -> Catalogue:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise CatalogueError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{source}:1: a catalogue is a mapping with catalogue_version, plan, indicators …")
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = _line_of(node, loc)
            field = ".".join(str(part) for part in loc) or "(top level)"
            problems.append(f"{source}:{line}: {field}: {error['msg']}")
        raise CatalogueError("invalid catalogue:\n  " + "\n  ".join(problems)) from exc


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """Follow a pydantic error location through the YAML node tree to the nearest line."""
    current = node
    for part in loc:
        child = None
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if key.value == str(part):
                    child = value
                    break
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            child = current.value[part]
        if child is None:
            break
        current = child
    return (current.start_mark.line + 1) if current is not None else 1
