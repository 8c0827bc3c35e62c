"""Our stub of the OpenCTI GraphQL API + Kaspersky TIP for an offline run of the Python connector.
Writes every GraphQL call to calls.jsonl and every pushed bundle to bundles/<n>.json."""
import base64, json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs, unquote
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
import jwt
from jwt.algorithms import RSAAlgorithm

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = json.load(open(os.path.join(HERE, "cases.json")))
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
JWK.update({"kid": "stub-key", "alg": "RS256", "use": "sig"})
open(os.path.join(HERE, "jwt.txt"), "w").write(jwt.encode({"iss": "opencti", "sub": "connector"}, KEY, algorithm="RS256", headers={"kid": "stub-key"}))
os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
LOCK = threading.Lock()

def entity_for(entity_id):
    for case in CASES.values():
        if case["entity"]["standard_id"] == entity_id or case["entity"]["id"] == entity_id:
            return case["entity"]
    return None

def record(kind, payload):
    with LOCK:
        with open(os.path.join(HERE, "out", "calls.jsonl"), "a") as f:
            f.write(json.dumps({"kind": kind, "payload": payload}) + "\n")

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, status, body):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path.startswith("/api/"):
            _, _, kind, value = parts.path.split("/", 3)
            value = unquote(value)
            record("tip", {"path": parts.path, "query": parse_qs(parts.query), "auth": self.headers.get("Authorization") == "Bearer tip-key"})
            for case in CASES.values():
                if case["tip"]["kind"] == kind and case["tip"]["value"] == value:
                    return self.send(case["tip"].get("status", 200), case["tip"]["answer"])
            return self.send(404, {})
        self.send(404, {})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        query, variables = body.get("query", ""), body.get("variables") or {}
        record("graphql", {"query": query.split("(")[0].split("{")[0].strip(), "variables": variables})
        if "about" in query and "version" in query and "RegisterConnector" not in query:
            return self.send(200, {"data": {"about": {"version": "7.260817.0"}}})
        if "RegisterConnector" in query:
            cid = variables["input"]["id"]
            return self.send(200, {"data": {"registerConnector": {
                "id": cid, "connector_state": None, "connector_user_id": "user-1",
                "jwks": json.dumps({"keys": [JWK]}),
                "config": {"connection": {"host": "127.0.0.1", "vhost": "/", "use_ssl": False, "port": 5672, "user": "u", "pass": "p"},
                           "listen": "listen_" + cid, "listen_routing": "listen_routing_" + cid, "listen_exchange": "amqp.connector.exchange",
                           "push": "push_" + cid, "push_routing": "push_routing_" + cid, "push_exchange": "amqp.worker.exchange",
                           "s3": {"endpoint": "127.0.0.1", "port": 9000, "access_key": "a", "secret_key": "s", "use_ssl": False, "bucket_name": "b", "bucket_region": "us-east-1"}}}}})
        if "PingConnector" in query:
            return self.send(200, {"data": {"pingConnector": {"id": variables.get("id"), "connector_state": None, "connector_info": None}}})
        if "workEdit" in query or "workToReceived" in query or "workToProcessed" in query:
            return self.send(200, {"data": {"workEdit": {"toReceived": variables.get("id"), "toProcessed": variables.get("id"), "ping": variables.get("id")}}})
        if "StixBundlePush" in query or "stixBundlePush" in query:
            with LOCK:
                n = len(os.listdir(os.path.join(HERE, "out")))
                open(os.path.join(HERE, "out", f"bundle-{n}.json"), "w").write(variables["bundle"])
            return self.send(200, {"data": {"stixBundlePush": True}})
        if "StixNestedRefRelationships" in query:
            return self.send(200, {"data": {"stixNestedRefRelationships": {"edges": [], "pageInfo": {"startCursor": None, "endCursor": None, "hasNextPage": False, "hasPreviousPage": False, "globalCount": 0}}}})
        if "StixCyberObservable" in query:
            return self.send(200, {"data": {"stixCyberObservable": entity_for(variables.get("id"))}})
        record("unknown", {"query": query[:300]})
        return self.send(200, {"data": None, "errors": [{"message": "stub: unknown operation"}]})

if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.serve_forever()
