"""Runs the unmodified upstream Python connector (its src/ folder, argv[1]) and feeds it argv[2]
listen messages through pycti's own `_data_handler`, one after the other as pycti does, instead of
its listener (pycti's HTTP listener binds 0.0.0.0, and its RabbitMQ listener needs a broker). Run
by bench/connector.py with the virtualenv's python and the connector's environment; prints the
seconds from the first message to the end of the last one, then exits.

The message comes from the BENCH_MESSAGE environment variable; message i gets work id bench-<i>.
"""
import json
import os
import runpy
import sys
import time

SRC, COUNT = sys.argv[1], int(sys.argv[2])
MESSAGE = os.environ["BENCH_MESSAGE"]
sys.path.insert(0, SRC)

import pycti.connector.opencti_connector_helper as helper_module  # noqa: E402


def feed(self):
    start = time.perf_counter()
    for i in range(COUNT):
        # A fresh copy each time: pycti parses the message's fields in place.
        message = json.loads(MESSAGE)
        message["internal"]["work_id"] = f"bench-{i}"
        self._data_handler(message)
    print(f"elapsed={time.perf_counter() - start}", flush=True)
    os._exit(0)


helper_module.ListenQueue.run = feed
sys.argv = [os.path.join(SRC, "main.py")]
os.chdir(SRC)
runpy.run_path(os.path.join(SRC, "main.py"), run_name="__main__")
