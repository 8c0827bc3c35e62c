#!/usr/bin/env python3
"""Whole-process timings of the responder binaries against the local MDR stand-in, with curl as the floor.

Run through scripts/bench.sh (which builds the release binaries first). Every run is one process started
the way Cortex starts it (argv = [binary, job folder], cwd = responders/), timed from spawn to exit with
a monotonic clock, under /usr/bin/time for the peak RSS.
Each run gets its own job folder and ids, so that every run takes the code path named in the table (a
second comment on the same log would only be looked up, not posted). The stand-in's request journal is
read after every run to count the HTTP requests the run made.

mdr-sync is timed the same way, one `mdr-sync --once` pass per run, against the stand-in started
with `--thehive 5` (its stateful TheHive stand-in): MDR and TheHive requests are counted from the
two journals, TheHive writes (anything but a GET, a `_search` or a `/api/v1/query`) apart.
"""

import argparse
import base64
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCIDENT = "-NzExampleIncident01"
TIME = "/usr/bin/time"


class Sandbox:
    """The mdr-sandbox binary on 127.0.0.1, with its journal lines counted as they arrive."""

    def __init__(self, binary, seed, token_dir, tls, ca_out, thehive=None):
        args = [binary, "--seed", str(seed), "--token-dir", str(token_dir)]
        if tls:
            args += ["--tls", "--ca-out", str(ca_out)]
        if thehive:
            args += ["--thehive", str(thehive)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        fields = dict(self.proc.stdout.readline().strip().split("=", 1) for _ in range(4 if thehive else 2))
        self.api_url, self.client_id = fields["api_url"], fields["client_id"]
        self.thehive_url, self.thehive_key = fields.get("thehive_url"), fields.get("thehive_api_key")
        self.requests = 0
        self.thehive_requests = 0
        self.thehive_writes = 0
        self.statuses = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            entry = json.loads(line)
            with self.lock:
                if entry.get("service") == "thehive":
                    self.thehive_requests += 1
                    endpoint = entry["endpoint"]
                    reads = endpoint.startswith("GET ") or "_search" in endpoint or "/api/v1/query" in endpoint
                    self.thehive_writes += 0 if reads else 1
                else:
                    self.requests += 1
                self.statuses.append((entry["endpoint"], entry["status"]))

    def count(self):
        time.sleep(0.005)  # the journal line is printed just after the answer
        with self.lock:
            return self.requests

    def counts(self):
        """(MDR requests, TheHive requests, TheHive writes) so far."""
        time.sleep(0.005)
        with self.lock:
            return self.requests, self.thehive_requests, self.thehive_writes

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def measure(args, cwd=None):
    """Wall time (s) from spawn to exit, peak RSS (KiB) and exit code of one process.

    The process runs under /usr/bin/time (GNU time), which reports its peak RSS: measured from Python
    directly, ru_maxrss would include the forked Python interpreter's pages. The wrapper adds the same
    small fork/exec to every line, curl's included.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        start = time.perf_counter()
        code = subprocess.call([TIME, "-f", "%M", "-o", rss_file.name] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        maxrss = int(rss_file.read().strip().splitlines()[-1])
    return elapsed, maxrss, code


def expired_jwt():
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc({'exp': 1, 'typ': 'access'})}.c2ln"


def seed_file(path, count):
    """The demo seed plus `count` open incidents, each with one pending response, for close and decide runs."""
    seed = json.loads((ROOT / "tests/fixtures/sandbox/seed.json").read_text())
    template = seed["incidents"][0]
    for i in range(count):
        incident = copy.deepcopy(template)
        incident["incident_id"] = f"-NzBench{i:05d}"
        incident["incident_number"] = 900000 + i
        incident["comments"], incident["attachments"] = [], []
        response = copy.deepcopy(template["responses"][0])
        response["response_id"] = f"MDR_bench-{i:05d}"
        incident["responses"] = [response]
        seed["incidents"].append(incident)
    path.write_text(json.dumps(seed))


def sync_seed(path, count):
    """`count` bare incidents, then `count` incidents with one pending response, older changes first:
    with `max_incidents_at_time: 1` each pass mirrors exactly the next one."""
    template = json.loads((ROOT / "tests/fixtures/sandbox/seed.json").read_text())["incidents"][0]
    incidents = []
    for kind, base in (("Bare", 1_700_000_000_000), ("Resp", 1_700_100_000_000)):
        for i in range(count):
            incident = copy.deepcopy(template)
            incident.update({"incident_id": f"-NzSync{kind}{i:05d}", "incident_number": 800000 + len(incidents),
                             "update_time": base + i, "comments": [], "attachments": [], "responses": []})
            if kind == "Resp":
                response = copy.deepcopy(template["responses"][0])
                response["response_id"] = f"MDR_sync-{i:05d}"
                incident["responses"] = [response]
            incidents.append(incident)
    path.write_text(json.dumps({"incidents": incidents, "assets": []}))


class Bench:
    def __init__(self, bins, curl, runs, work):
        self.bins, self.curl, self.runs, self.work = bins, curl, runs, work
        self.rows = []
        self.sync_rows = []
        self.next_incident = 0

    def fixture(self, name):
        return json.loads((ROOT / "tests/fixtures/jobs" / name).read_text())

    def config(self, input_, sb, tls):
        input_["config"].update({"api_url": sb.api_url, "client_id": sb.client_id,
                                 "token_dir": str(self.work / "tokens"),
                                 "ssl_cert": str(self.work / "ca.pem") if tls else None})
        return input_

    def incident(self):
        self.next_incident += 1
        return self.next_incident - 1

    def job(self, input_):
        job_dir = Path(tempfile.mkdtemp(dir=self.work, prefix="job-"))
        (job_dir / "input").mkdir()
        (job_dir / "output").mkdir()
        (job_dir / "input/input.json").write_text(json.dumps(input_))
        return job_dir

    def run_case(self, label, sb, make_args, prepare=None, check_output=True):
        """`make_args(i)` gives the command of run i (after `prepare(i)`, which is not timed)."""
        times, rss, reqs = [], [], []
        for i in range(self.runs + 1):  # run 0 warms the page cache and is dropped
            if prepare:
                prepare(i)
            args, job_dir = make_args(i)
            before = sb.count()
            elapsed, maxrss, code = measure(args, cwd=ROOT / "responders")
            after = sb.count()
            if code != 0:
                detail = (job_dir / "output/output.json").read_text() if job_dir else ""
                sys.exit(f"{label}: run {i} failed with exit code {code} {detail}")
            if check_output and job_dir:
                doc = json.loads((job_dir / "output/output.json").read_text())
                assert doc["success"] is True, doc
            if i > 0:
                times.append(elapsed)
                rss.append(maxrss)
                reqs.append(after - before)
        self.rows.append((label, times, rss, reqs))
        print(f"  {label}: median {statistics.median(times) * 1000:.1f} ms", file=sys.stderr)

    def run_sync_case(self, label, sb, config, prepare=None):
        """One `mdr-sync --once` pass per run (after `prepare(i)`, not timed)."""
        times, counted = [], []
        for i in range(self.runs + 1):  # run 0 is dropped, as above
            if prepare:
                prepare(i)
            before = sb.counts()
            elapsed, _, code = measure([self.bins["mdr-sync"], "--config", str(config), "--once"])
            after = sb.counts()
            if code != 0:
                sys.exit(f"{label}: run {i} failed with exit code {code}")
            if i > 0:
                times.append(elapsed)
                counted.append(tuple(a - b for a, b in zip(after, before)))
        self.sync_rows.append((label, times, counted))
        print(f"  {label}: median {statistics.median(times) * 1000:.1f} ms", file=sys.stderr)

    def bearer(self):
        return (self.work / "tokens/.access_token").read_text().strip()

    def curl_args(self, sb, tls, calls):
        """One curl process making `calls` [(endpoint, body)] in order on one keep-alive connection."""
        args = [self.curl, "-s", "-o", "/dev/null", "--fail"]
        if tls:
            args += ["--cacert", str(self.work / "ca.pem")]
        for n, (endpoint, body) in enumerate(calls):
            if n:
                args += ["--next", "-s", "-o", "/dev/null", "--fail"]
                if tls:
                    args += ["--cacert", str(self.work / "ca.pem")]
            args += ["-X", "POST", "-H", f"Authorization: Bearer {self.bearer()}", "-H",
                     "Content-Type: application/json", "--data", json.dumps(body),
                     f"{sb.api_url}/{sb.client_id}/{endpoint}"]
        return args


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True)
    opts = parser.parse_args()
    bins = {name: str(opts.bin_dir.resolve() / name) for name in
            ["mdr-send-task-log", "mdr-close-incident", "mdr-response-decision", "mdr-create-incident",
             "mdr-sandbox", "mdr-sync"]}
    curl = "curl"
    work = Path(tempfile.mkdtemp(prefix="mdr-bench-"))
    (work / "tokens").mkdir()
    seed_file(work / "seed.json", 4 * (opts.runs + 1) + 8)
    bench = Bench(bins, curl, opts.runs, work)

    for tls in (False, True):
        scheme = "TLS" if tls else "HTTP"
        print(f"{scheme}:", file=sys.stderr)
        sb = Sandbox(bins["mdr-sandbox"], work / "seed.json", work / "tokens", tls, work / "ca.pem")
        bench.next_incident = 0

        # MDR_SendTaskLog, a new log each run: comments/list + comments/create.
        def send_new(i, tls=tls, sb=sb, tag="", incident=INCIDENT):
            input_ = bench.config(bench.fixture("th4/input_case_task_log.json"), sb, tls)
            input_["data"]["_id"] = input_["data"]["id"] = f"~bench-{scheme}{tag}-{i}"
            input_["data"]["case_task"]["case"]["customFields"]["mdr-incident-id"]["string"] = incident
            job_dir = bench.job(input_)
            return [bins["mdr-send-task-log"], str(job_dir)], job_dir

        bench.run_case(f"{scheme} | MDR_SendTaskLog, new log (list + create)", sb, send_new)
        bench.run_case(f"{scheme} | curl floor: list + create, one process", sb, lambda i: (bench.curl_args(sb, tls, [
            ("comments/list", {"incident_id": INCIDENT}),
            ("comments/create", {"incident_id": INCIDENT, "text": f"curl {scheme} {i}", "markdown_to_html": True}),
        ]), None))
        bench.run_case(f"{scheme} | curl floor: one request (create)", sb, lambda i: (bench.curl_args(sb, tls, [
            ("comments/create", {"incident_id": INCIDENT, "text": f"curl1 {scheme} {i}", "markdown_to_html": True}),
        ]), None))

        # The same log again: found among the comments, not posted (comments/list only). On an
        # incident of its own, like the expired-token line: the lines above leave more than a page
        # (100) of comments on INCIDENT, and a second comments/list page is not what they measure.
        again = f"-NzBench{bench.incident():05d}"
        sent = send_new(0, tag="-again", incident=again)
        measure(sent[0], cwd=ROOT / "responders")
        bench.run_case(f"{scheme} | MDR_SendTaskLog, already sent (list only)", sb, lambda i: (sent[0], sent[1]))
        bench.run_case(f"{scheme} | curl floor: one request (list)", sb, lambda i: (bench.curl_args(sb, tls, [
            ("comments/list", {"incident_id": again}),
        ]), None))

        # Expired access token: session/confirm, then the two calls, on an incident of its own.
        refreshed = f"-NzBench{bench.incident():05d}"
        def expire(i):
            (work / "tokens/.access_token").write_text(expired_jwt())

        bench.run_case(f"{scheme} | MDR_SendTaskLog, new log, expired token (confirm + list + create)", sb,
                       lambda i: send_new(i, tag="-refresh", incident=refreshed), prepare=expire)

        # MDR_CloseIncident: incidents/details + incidents/close on an open incident.
        def close(i):
            input_ = bench.config(bench.fixture("th4/input_case.json"), sb, tls)
            input_["data"]["resolutionStatus"] = "TruePositive"
            input_["data"]["status"] = "Resolved"
            input_["data"]["customFields"]["mdr-incident-id"]["string"] = f"-NzBench{bench.incident():05d}"
            job_dir = bench.job(input_)
            return [bins["mdr-close-incident"], str(job_dir)], job_dir

        bench.run_case(f"{scheme} | MDR_CloseIncident (details + close)", sb, close)

        # MDR_ApproveResponse: responses/list + response/update on a pending response.
        def decide(i):
            n = bench.incident()
            input_ = bench.config(bench.fixture("th4/input_case_task.json"), sb, tls)
            input_["config"]["service"] = "confirm_response"
            input_["data"]["description"] = f"**ID**: MDR_bench-{n:05d}"
            input_["data"]["case"]["customFields"]["mdr-incident-id"]["string"] = f"-NzBench{n:05d}"
            job_dir = bench.job(input_)
            return [bins["mdr-response-decision"], str(job_dir)], job_dir

        bench.run_case(f"{scheme} | MDR_ApproveResponse (list + update)", sb, decide)

        # MDR_CreateIncident: assets/list + incidents/create, a new case each run.
        def create(i):
            input_ = bench.config(bench.fixture("th4/input_case.json"), sb, tls)
            del input_["data"]["customFields"]["mdr-incident-id"]
            input_["data"]["tags"] = ["host:HOST-01"]
            input_["data"]["_id"] = input_["data"]["id"] = f"~bench-case-{scheme}-{i}"
            job_dir = bench.job(input_)
            return [bins["mdr-create-incident"], str(job_dir)], job_dir

        bench.run_case(f"{scheme} | MDR_CreateIncident (assets + create)", sb, create)
        sb.stop()

    print("mdr-sync:", file=sys.stderr)
    sync_bench(bench, bins, work)
    write_results(opts.out, bench, bins, opts.runs)
    shutil.rmtree(work, ignore_errors=True)


def sync_bench(bench, bins, work):
    """mdr-sync passes against the stand-in's MDR and TheHive 5, one kind of change per line."""
    tokens = work / "sync-tokens"
    tokens.mkdir()
    sync_seed(work / "sync-seed.json", bench.runs + 1)
    sb = Sandbox(bins["mdr-sandbox"], work / "sync-seed.json", tokens, False, None, thehive=5)
    (work / "sync/conf").mkdir(parents=True)
    config = work / "sync/conf/config.yml"
    config.write_text(f"api_url: {sb.api_url}\nclient_id: {sb.client_id}\ntoken_dir: {tokens}\n"
                      f"thehive:\n  api_url: {sb.thehive_url}\n  api_key: {sb.thehive_key}\n  version: 5\n"
                      "mdr_sync:\n  max_incidents_at_time: 1\n")
    bench.run_sync_case("new incident (a case, nothing else)", sb, config)
    bench.run_sync_case("new incident with one proposed response (a case and a Response task)", sb, config)
    bench.run_sync_case("no change", sb, config)

    def comment(i):
        body = json.dumps({"incident_id": "-NzSyncBare00000", "text": f"bench comment {i}"}).encode()
        request = urllib.request.Request(f"{sb.api_url}/{sb.client_id}/comments/create", data=body, headers={
            "Authorization": "Bearer " + (tokens / ".access_token").read_text().strip(),
            "Content-Type": "application/json"})
        urllib.request.urlopen(request).read()
        sb.counts()  # the comment's own request is counted before the pass starts

    bench.run_sync_case("new comment on a mirrored incident (a task log)", sb, config, prepare=comment)
    sb.stop()


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"CPU": cpu, "cores (nproc)": str(os.cpu_count()), "kernel": platform.release(), "rustc": rustc,
            "curl": " ".join(curl.split()[:2])}


def write_results(out, bench, bins, runs):
    rows = bench.rows
    ms = lambda s: f"{s * 1000:.1f}"
    lines = ["# Benchmark results", "",
             f"Generated by `scripts/bench.sh` on {time.strftime('%Y-%m-%d')}; {runs} runs per line (after one "
             "warm-up run), each a whole process started as Cortex starts it, against the local MDR stand-in "
             "(`mdr-sandbox`) on 127.0.0.1. Wall time from spawn to exit (of `/usr/bin/time -f %M <command>`, "
             "which gives the peak RSS); p10–p90 is the spread. Requests: HTTP requests the stand-in journaled "
             "per run.", "",
             "| Transport | Case | median ms | p10–p90 ms | × floor | peak RSS MiB (median / max) | requests |",
             "|---|---|---:|---:|---:|---:|---:|"]
    floors = {}
    for label, times, rss, reqs in rows:
        scheme, case = label.split(" | ", 1)
        if case.startswith("curl floor: list + create"):
            floors[scheme] = statistics.median(times)
    for label, times, rss, reqs in rows:
        scheme, case = label.split(" | ", 1)
        deciles = statistics.quantiles(times, n=10)
        med = statistics.median(times)
        ratio = f"{med / floors[scheme]:.2f}" if scheme in floors else ""
        rss_mib = f"{statistics.median(rss) / 1024:.1f} / {max(rss) / 1024:.1f}"
        req = statistics.median(reqs)
        lines.append(f"| {scheme} | {case} | {ms(med)} | {ms(deciles[0])}–{ms(deciles[-1])} | {ratio} | {rss_mib} | "
                     f"{req:g} |")
    lines += ["", "`× floor` divides by the median of one curl process making the same two requests on one "
              "connection (`curl … --next …`), the bare cost of the job's HTTP work.", "", "## mdr-sync", "",
              "One `mdr-sync --once` process per run (HTTP, TheHive 5 stand-in, `max_incidents_at_time: 1` so "
              "that each pass mirrors exactly the change named). Requests are the median per pass, from the "
              "two stand-ins' journals.", "",
              "| Pass | median ms | p10–p90 ms | MDR requests | TheHive requests | of which writes |",
              "|---|---:|---:|---:|---:|---:|"]
    for label, times, counted in bench.sync_rows:
        deciles = statistics.quantiles(times, n=10)
        mdr, hive, writes = (statistics.median(c[k] for c in counted) for k in range(3))
        lines.append(f"| {label} | {ms(statistics.median(times))} | {ms(deciles[0])}–{ms(deciles[-1])} | {mdr:g} | "
                     f"{hive:g} | {writes:g} |")
    lines += ["", "## Binaries", "",
              "| Binary | size KiB |", "|---|---:|"]
    for name, path in bins.items():
        if name != "mdr-sandbox":
            lines.append(f"| {name} | {os.path.getsize(path) // 1024} |")
    lines += ["", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in machine().items()]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
