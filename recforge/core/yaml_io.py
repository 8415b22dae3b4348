"""Bounded YAML loading: safe types only, and no input that can blow up after parsing.

``yaml.safe_load`` executes nothing, but it still accepts documents that are dangerous to the
code that *uses* the result:

* an alias chain ("billion laughs"): 600 bytes whose aliases expand to tens of millions of
  values once a config is copied, stored as JSON or printed;
* a recursive alias (``a: &a [*a]``): a list that contains itself, which every later walk of
  the config recurses into forever;
* deep nesting (``[[[[...]]]]`` 50 000 times): PyYAML's composer recurses once per level;
* a duplicate key (a second ``train:``), which silently replaces the first section.

:func:`load_yaml` refuses all four while composing, before any Python object is built, so a
bomb costs time and memory proportional to its *text*, not to its expansion. Its errors are
:class:`yaml.MarkedYAMLError` subclasses with the line, so every caller that reports YAML
syntax errors with ``file:line`` reports these the same way.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: the most characters a YAML document may hold (a config is a few kilobytes)
MAX_TEXT_CHARS = 1_000_000
#: the most characters the document may expand to once every alias is replaced by its value
MAX_EXPANDED_CHARS = 2_000_000
#: the deepest nesting of mappings and sequences
MAX_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML document that parses but breaks one of this module's bounds (with its line)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _BoundedComposer(yaml.composer.Composer):
    """Composer that measures each node's expanded size and nesting depth as it goes."""

    def _init_bounds(self) -> None:
        self._depth = 0
        self._size: dict[int, int] = {}       # id(node) -> expanded characters
        self._open: set[str] = set()          # anchors whose children are still being composed
        self._total = 0

    def compose_document(self) -> Any:
        self._init_bounds()
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open:
                raise YAMLLimitError(f"alias *{event.anchor} refers to a value that contains it (a recursive alias)",
                                     event.start_mark)
            node = super().compose_node(parent, index)
            self._grow(self._size.get(id(node), 1), event.start_mark)
            return node
        start = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YAMLLimitError(f"the document nests deeper than {MAX_DEPTH} levels", start)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_scalar_node(self, anchor: Any) -> ScalarNode:
        node = super().compose_scalar_node(anchor)
        self._size[id(node)] = len(node.value) + 1
        self._grow(len(node.value) + 1, node.start_mark)
        return node

    def compose_sequence_node(self, anchor: Any) -> SequenceNode:
        return self._collection(super().compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        return self._collection(super().compose_mapping_node, anchor)

    def _collection(self, compose: Any, anchor: Any) -> Any:
        # PyYAML anchors a collection before composing its children: while they are composed,
        # an alias to ``anchor`` would make the collection contain itself
        if anchor is not None:
            self._open.add(anchor)
        try:
            node = compose(anchor)
        finally:
            self._open.discard(anchor)
        self._size[id(node)] = 1 + sum(self._size.get(id(child), 1) for child in _children(node))
        self._grow(1, node.start_mark)
        return node

    def _grow(self, amount: int, mark: Any) -> None:
        self._total += amount
        if self._total > MAX_EXPANDED_CHARS:
            raise YAMLLimitError(
                f"the document expands to more than {MAX_EXPANDED_CHARS:,} characters once its aliases "
                "are replaced (an alias bomb?)", mark)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _StrictConstructor(yaml.constructor.SafeConstructor):
    """SafeConstructor that refuses a key given twice in one mapping (names both lines)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue
                if first is not key_node:
                    raise YAMLLimitError(
                        f"duplicate key '{key}' (first given on line {first.start_mark.line + 1}); "
                        "the second would silently replace the first", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


class BoundedLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _BoundedComposer,
                    _StrictConstructor, yaml.resolver.Resolver):
    """Safe loader with the bounds above; also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``)."""

    def __init__(self, stream: Any) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _BoundedComposer.__init__(self)
        _StrictConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._init_bounds()


BoundedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """Parse one YAML document with safe types and the bounds of this module.

    Raises:
        yaml.YAMLError: syntax errors, and :class:`YAMLLimitError` for a document over a bound
            (too long, alias bomb, recursive alias, too deep, duplicate key), with its line.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise YAMLLimitError(f"the document is {len(text):,} characters long, over the limit of "
                             f"{MAX_TEXT_CHARS:,}", None)
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
