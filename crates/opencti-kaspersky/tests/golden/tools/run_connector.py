"""Runs the unmodified upstream main.py, dumping each message the connector callback receives
(before the connector edits it) to out/input-<entity_id>.json."""
import copy, json, os, runpy, sys
SRC = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SRC)
import connector.connector as cc
original = cc.KasperskyConnector.process_message
def dumping(self, data):
    snapshot = {k: copy.deepcopy(data.get(k)) for k in ("enrichment_entity", "stix_entity", "stix_objects", "event_type", "entity_id", "entity_type")}
    with open(os.path.join(HERE, "out", "input-" + str(data.get("entity_id")) + ".json"), "w") as f:
        json.dump(snapshot, f, indent=1, default=str)
    try:
        result = original(self, data)
    except Exception as error:
        with open(os.path.join(HERE, "out", "result-" + str(data.get("entity_id")) + ".json"), "w") as f:
            json.dump({"error": str(error)}, f)
        raise
    with open(os.path.join(HERE, "out", "result-" + str(data.get("entity_id")) + ".json"), "w") as f:
        json.dump({"message": result}, f)
    return result
cc.KasperskyConnector.process_message = dumping
# No listener (pycti's API listener binds 0.0.0.0): the messages in messages.json go through
# pycti's own _data_handler, the path both of its listeners take after receiving a message.
import pycti.connector.opencti_connector_helper as helper_module
def feed(self):
    for message in json.load(open(os.path.join(HERE, "messages.json"))):
        self._data_handler(message)
    os._exit(0)
helper_module.ListenQueue.run = feed
sys.argv = [os.path.join(SRC, "main.py")]
os.chdir(SRC)
runpy.run_path(os.path.join(SRC, "main.py"), run_name="__main__")
