"""Interaction graph: build it from edge arrays, rank accounts, explain each rank.

``graph.build`` turns interactions into a weighted, time-decayed edge set, ``graph.rank`` holds
pure ranking functions (``{node: value}``, inputs untouched), ``graph.explain`` says why a user
ranks where they do, and ``graph.score`` is the stage that stores the ranking.
"""
