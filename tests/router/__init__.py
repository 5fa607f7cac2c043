"""Router tests: planner, executor and edge over fixture subgraphs."""
