"""Suite-wide settings."""

from __future__ import annotations

import signal

from agentfactory.events import EventLog

# Every event the code emits anywhere in the suite must match its record in agentfactory/events.py: a
# malformed one raises here (in production it is written with a `schema_error` field instead).
EventLog.strict = True

# A test run started in the background by a shell without job control (`cmd &` in a script) inherits
# SIGINT ignored, and so would every process a test starts: the tests of Ctrl-C (a batch driver, its
# workers, a run) would see nothing arrive. Python turns SIGINT into KeyboardInterrupt only when it
# is not ignored at start; a handler here is reset to the default in each child on exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
