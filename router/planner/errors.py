"""The planner's one error."""


class PlanningError(Exception):
    """The operation asks for something no subgraph path can provide, or that this planner
    cannot express."""
