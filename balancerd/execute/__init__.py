"""The executor: throttle and migration runner (ARCHITECTURE.md rule 7); the daemon wires it to the journal."""

from balancerd.execute.report import EventSink, ExecutionReport, Guard, Recorder
from balancerd.execute.runner import Executor
from balancerd.execute.throttle import Throttle

__all__ = ["EventSink", "ExecutionReport", "Executor", "Guard", "Recorder", "Throttle"]
