"""One rank of tests/tools/test_distributed.py's killed-rank test, launched by torchrun: ``sinernn sweep``
with argv as given, where rank 1, once its shard is trained, kills itself with SIGKILL instead of
writing it. It first waits for another rank's shard file to appear (an event, not a clock), so
rank 0's shard is on disk when rank 1 dies."""

import os
import signal
import sys
import time

from sinernn.tools import cli, distributed

write_shard = distributed._write_shard


def write_or_die(shard, path):
    if distributed.dist.get_rank() == 1:
        deadline = time.monotonic() + 120  # a bound for a broken run, not a wait the test relies on
        while not any(p != path for p in path.parent.glob("shard-*.pt")) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)
    write_shard(shard, path)


distributed._write_shard = write_or_die
sys.exit(cli.main(sys.argv[1:]))
