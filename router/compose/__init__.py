"""Federation 2 composition: subgraph SDLs -> an Apollo-format supergraph SDL (join spec)."""

from router.compose.compose import compose
from router.compose.errors import CompositionError, CompositionResult
from router.compose.subgraph import Subgraph

__all__ = ["CompositionError", "CompositionResult", "Subgraph", "compose"]
