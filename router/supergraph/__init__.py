"""The supergraph model: subgraphs, join metadata, the full schema and the API schema."""

from .fieldset import FieldSet, parse_field_set
from .model import FieldPlacement, Key, Subgraph, TypeInSubgraph
from .supergraph import Supergraph

__all__ = [
    "FieldPlacement",
    "FieldSet",
    "Key",
    "Subgraph",
    "Supergraph",
    "TypeInSubgraph",
    "parse_field_set",
]
