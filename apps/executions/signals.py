"""What other apps may hear of a run, without the executions app knowing them."""

from django.dispatch import Signal

# Sent once a run has ended (success, failed or cancelled; the reaper's failures too), from
# the process that ended it, with `execution_id`. Receivers must not raise into the run: it is
# sent with send_robust, and a receiver's error is only logged.
execution_ended = Signal()
