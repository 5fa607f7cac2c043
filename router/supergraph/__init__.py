"""The supergraph model: subgraphs, join metadata, the full schema and the API schema."""

from router.supergraph.fieldset import FieldSet, parse_field_set
from router.supergraph.model import ContextArgument, FieldPlacement, JoinGraph, Key, TypeInSubgraph
from router.supergraph.supergraph import Supergraph

__all__ = [
    "ContextArgument",
    "FieldPlacement",
    "FieldSet",
    "JoinGraph",
    "Key",
    "Supergraph",
    "TypeInSubgraph",
    "parse_field_set",
]
