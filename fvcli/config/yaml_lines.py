"""YAML with line numbers: every mapping, list and value remembers the line it came from,
so that an error can name it."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from .errors import SpecError


@dataclass
class Located:
    """A value from the YAML file and where it was."""

    value: object
    line: int


def read_yaml(path: str, text: str) -> Located:
    """Parse YAML into plain values, each dict and list item wrapped in :class:`Located`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(path, mark.line + 1 if mark else None, "",
                        f"not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError(path, None, "", "the file is empty; it needs a 'jobs:' list")
    return _located(loader, node, path)


def _located(loader, node, path):
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if key in result:
                raise SpecError(path, key_node.start_mark.line + 1, str(key), "key given twice")
            result[key] = _located(loader, value_node, path)
        return Located(result, line)
    if isinstance(node, yaml.SequenceNode):
        return Located([_located(loader, item, path) for item in node.value], line)
    return Located(loader.construct_object(node), line)


def plain(located):
    """Strip the line numbers off a Located tree."""
    value = located.value if isinstance(located, Located) else located
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
