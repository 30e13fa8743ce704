"""Service-task operators: the business rules the diagrams call by name.

Importing this package registers every operator module listed here.
"""
# The registry and the rule families; each family module registers its operators with @operator
# (the registry lists them sorted by name, so the import order does not matter).
from service_tasks import (  # noqa: F401
    calendar_ops,
    customer_history,
    deadlines,
    disposition,
    exchange,
    grading,
    intake,
    notify,
    numbering,
    registry,
    returned_goods,
    returned_goods_calls,
    routing,
    warranty,
)
from service_tasks.registry import Operator, OperatorError, Param, operator  # noqa: F401
