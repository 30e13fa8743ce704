"""Service-task operators: the business rules the diagrams call by name.

Importing this package registers every operator module listed here.
"""
from service_tasks import registry  # noqa: F401
from service_tasks.registry import Operator, OperatorError, Param, operator  # noqa: F401

# Rule families; each module registers its operators with @operator.
from service_tasks import (  # noqa: F401,E402
    calendar_ops,
    grading,
    routing,
    intake,
    deadlines,
    numbering,
    warranty,
    disposition,
)
