"""YAML with line numbers: every mapping, list and value remembers the line it came from,
so that an error can name it.

Job files are read defensively: bytes that are not UTF-8, files over a size limit, YAML
tags that would construct objects, aliases that expand a small file into millions of
nodes ("billion laughs") and aliases that contain themselves are each one clear error,
never a traceback or a hang."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from .errors import SpecError


MAX_FILE_BYTES = 1 << 20   # a job file of a million bytes is far beyond any real one
MAX_NODES = 100_000        # values after expanding aliases
MAX_DEPTH = 32             # nesting of mappings and lists
PLAIN_TAGS = {f"tag:yaml.org,2002:{name}"
              for name in ("str", "int", "float", "bool", "null", "map", "seq")}


@dataclass
class Located:
    """A value from the YAML file and where it was."""

    value: object
    line: int


def read_text(path: str) -> str:
    """The job file's text: at most MAX_FILE_BYTES of UTF-8."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise SpecError(path, None, "", f"cannot read the file: {error.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(path, None, "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB, "
                        "the limit for a job file; is it the right file?")
    try:
        return data.decode("utf8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise SpecError(path, line, "", f"not UTF-8 text (byte 0x{data[error.start]:02x}); "
                        "save the job file as UTF-8") from None


class _TooDeep(Exception):
    """Nesting beyond MAX_DEPTH, found while composing; ``line`` is where."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


class _ShallowLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting deeper than MAX_DEPTH while it composes. Its
    composer recurses once per level, so a file nested a few thousand levels deep would
    exhaust Python's stack before any later check saw the tree."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_sequence_node(self, anchor):
        return self._one_level_deeper(super().compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor):
        return self._one_level_deeper(super().compose_mapping_node, anchor)

    def _one_level_deeper(self, compose, anchor):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:  # a value inside has more than MAX_DEPTH parents
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return compose(anchor)
        finally:
            self._depth -= 1


def read_yaml(path: str, text: str) -> Located:
    """Parse YAML into plain values, each dict and list item wrapped in :class:`Located`."""
    loader = None
    try:
        loader = _ShallowLoader(text)  # the reader already refuses control characters
        node = loader.get_single_node()
    except _TooDeep as error:
        raise SpecError(path, error.line, "", f"nested more than {MAX_DEPTH} levels deep") \
            from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = (getattr(error, "problem", None) or getattr(error, "reason", None)
                   or str(error).splitlines()[0])
        raise SpecError(path, mark.line + 1 if mark else None, "",
                        f"not valid YAML: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise SpecError(path, None, "", "the file is empty; it needs a 'jobs:' list")
    return _Walk(loader, path).located(node, ())


class _Walk:
    """Turns composed YAML nodes into Located values, within the limits above."""

    def __init__(self, loader, path: str):
        self.loader, self.path, self.nodes = loader, path, 0

    def located(self, node, parents: tuple) -> Located:
        line = node.start_mark.line + 1
        self._count(node, parents, line)
        parents = parents + (id(node),)
        if isinstance(node, yaml.MappingNode):
            result = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node)
                if key in result:
                    raise SpecError(self.path, key_node.start_mark.line + 1, str(key),
                                    "key given twice")
                result[key] = self.located(value_node, parents)
            return Located(result, line)
        if isinstance(node, yaml.SequenceNode):
            return Located([self.located(item, parents) for item in node.value], line)
        return Located(self._scalar(node), line)

    def _count(self, node, parents: tuple, line: int) -> None:
        if node.tag not in PLAIN_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "")
            raise SpecError(self.path, line, "", f"the YAML tag {tag!r} is "
                            "not allowed in a job file (tags that build objects are refused); "
                            "write plain values")
        self.nodes += 1
        if id(node) in parents:
            raise SpecError(self.path, line, "", "an alias that contains itself; YAML "
                            "anchors must not refer to their own value")
        if len(parents) > MAX_DEPTH:
            raise SpecError(self.path, line, "", f"nested more than {MAX_DEPTH} levels deep")
        if self.nodes > MAX_NODES:
            raise SpecError(self.path, line, "", f"expands to more than {MAX_NODES} values "
                            "(through aliases?); job files are refused beyond that")

    def _scalar(self, node):
        if not isinstance(node, yaml.ScalarNode):
            raise SpecError(self.path, node.start_mark.line + 1, "",
                            "a key must be a plain name, not a list or mapping")
        try:
            return self.loader.construct_object(node)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise SpecError(self.path, node.start_mark.line + 1, "",
                            f"not allowed in a job file: {problem} (YAML tags that build "
                            "objects are refused)") from None


def plain(located):
    """Strip the line numbers off a Located tree."""
    value = located.value if isinstance(located, Located) else located
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
