"""Task streams: `agentfactory batch TASKS.jsonl` runs many tasks on worker processes of this machine,
sharing one library and one experience store; results stream to `batches/<batch-id>/results.jsonl`."""

from agentfactory.batch.runner import BatchOptions, BatchSummary, Progress, read_rows, run_batch
from agentfactory.batch.tasks import BatchTask, LineProblem, read_tasks

__all__ = [
    "BatchOptions",
    "BatchSummary",
    "BatchTask",
    "LineProblem",
    "Progress",
    "read_rows",
    "read_tasks",
    "run_batch",
]
