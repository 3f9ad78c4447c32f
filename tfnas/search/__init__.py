"""Discrete search: categorical spaces, evaluators and ask/tell searchers with resumable state."""
from tfnas.search.api import (Architecture, CategoricalSpace, Choice, Condition, Constraint, Evaluator, Searcher,
                              SearchSpaceError, run_search)

__all__ = ["Architecture", "CategoricalSpace", "Choice", "Condition", "Constraint", "Evaluator", "Searcher",
           "SearchSpaceError", "run_search"]
