"""The one error type of the cleanup planner: a bad parameter, named precisely."""

from __future__ import annotations


class CleanupConfigError(ValueError):
    """A registry-cleanup parameter is invalid.

    ``parameter`` names it: an operator argument (``keep_last``, ``older_than``...) or, inside
    an ECR lifecycle policy, a JSON path with 0-based list indexes such as
    ``lifecycle_policy.rules[1].selection.countUnit``. ``str()`` is ``"<parameter>: <problem>"``.
    """

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem

    def __reduce__(self) -> tuple[type[CleanupConfigError], tuple[str, str]]:
        # The default reduce would call cls(message) and lose the two-argument signature.
        return (type(self), (self.parameter, self.problem))
