"""Execution writes, one module per step of a run's life:

- `permissions`: who may start and cancel;
- `start`: check, snapshot the plan into a queued execution, enqueue it;
- `run`: what the worker does with a queued execution (`execution_run`);
- `progress`: the engine's progress callback writing the execution row;
- `outcome`: final status, value-free messages, report, audit;
- `cancel`, `reap`: ending a run from outside it.

Status transitions (see ExecutionStatus): queued → running → success | failed | cancelled;
queued → cancelled; running → failed (reaper). Every transition is a conditional UPDATE on the
current status, so two processes can never both claim or both finish the same execution."""

from apps.executions.models import FINAL_STATUSES
from apps.executions.services.cancel import execution_cancel
from apps.executions.services.permissions import can_cancel, can_execute
from apps.executions.services.reap import execution_reap, execution_reap_quietly
from apps.executions.services.run import execution_run
from apps.executions.services.start import ExecutionRefused, execution_start

__all__ = [
    "FINAL_STATUSES",
    "ExecutionRefused",
    "can_cancel",
    "can_execute",
    "execution_cancel",
    "execution_reap",
    "execution_reap_quietly",
    "execution_run",
    "execution_start",
]
