#!/usr/bin/env python3
"""Throughput and peak RSS of the OpenCTI connector binary, as a whole process against the stand-ins.

Run through scripts/bench.sh (which builds the release binaries first). Per line: `opencti-sandbox`
(the OpenCTI stand-in and the TIP stand-in, the TIP answering each lookup after a fixed delay) is
started, then `opencti-kaspersky-enrichment` under /usr/bin/time on the HTTP transport
(CONNECTOR_LISTEN_PROTOCOL=API, CONNECTOR_QUEUE_PROTOCOL=api) with the CONNECTOR_CONCURRENCY of the
line. Once it listens, MESSAGES listen messages (the golden `file` case, one work each) are posted by
more client threads than the connector has workers; the rate is MESSAGES over the time from the
first post to the last 202. Then the connector gets SIGTERM, /usr/bin/time reports its peak RSS, and
the stand-in's counts confirm that every work completed and every bundle was pushed.

Writes (or replaces) the "## OpenCTI connector" section of bench/results.md.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "crates/opencti-kaspersky/tests/golden/file"
SECTIONS = {
    "KASPERSKY_FILE_SECTIONS": "LicenseInfo,Zone,FileGeneralInfo,DetectionsInfo,FileDownloadedFromUrls,Industries,FileNames",
}
HEADING = "## OpenCTI connector"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the connector exited {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the connector did not listen in time")


def one_run(bins, concurrency, messages, delay_ms):
    """(observables per second, peak RSS KiB, sandbox counts) of one connector process."""
    sandbox = subprocess.Popen([bins["opencti-sandbox"], "--golden", str(GOLDEN), "--works", str(messages),
                                "--tip-delay-ms", str(delay_ms)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    fields = dict(sandbox.stdout.readline().rstrip("\n").split("=", 1) for _ in range(6))
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "OPENCTI_URL": fields["opencti_url"],
           "OPENCTI_TOKEN": fields["opencti_token"], "KASPERSKY_API_KEY": fields["tip_token"],
           "KASPERSKY_API_BASE_URL": fields["tip_url"], "CONNECTOR_LOG_LEVEL": "error",
           "CONNECTOR_LISTEN_PROTOCOL": "API", "CONNECTOR_QUEUE_PROTOCOL": "api",
           "CONNECTOR_LISTEN_PROTOCOL_API_HOST": "127.0.0.1", "CONNECTOR_LISTEN_PROTOCOL_API_PORT": str(port),
           "CONNECTOR_LISTEN_PROTOCOL_API_URI": f"http://127.0.0.1:{port}",
           "CONNECTOR_CONCURRENCY": str(concurrency), **SECTIONS}
    message = json.loads(fields["message"])
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        connector = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file.name,
                                      bins["opencti-kaspersky-enrichment"]], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port, connector)

        def post(i):
            body = dict(message, internal=dict(message["internal"], work_id=f"bench-{i}"))
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/callback", data=json.dumps(body).encode(),
                                             headers={"Authorization": "Bearer " + fields["opencti_token"],
                                                      "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(16, 2 * concurrency)) as pool:
            statuses = list(pool.map(post, range(messages)))
        elapsed = time.perf_counter() - start
        # /usr/bin/time forwards no signal: stop the connector itself, then collect its RSS.
        children = subprocess.run(["pgrep", "-P", str(connector.pid)], capture_output=True, text=True).stdout.split()
        for pid in children:
            os.kill(int(pid), signal.SIGTERM)
        connector.wait(timeout=30)
        rss = int(rss_file.read().strip().splitlines()[-1])
    sandbox.stdin.close()
    counts = json.loads(sandbox.stdout.readline())
    sandbox.wait(timeout=10)
    if statuses != [202] * messages or counts["works_complete"] != messages or counts["pushed"] != messages:
        raise SystemExit(f"not every message was enriched: {set(statuses)}, {counts}")
    return messages / elapsed, rss, counts


def python_run(bins, venv, src, messages, delay_ms):
    """(observables per second, peak RSS KiB, sandbox counts) of the Python connector, fed by
    bench/python_connector.py against the same stand-ins."""
    sandbox = subprocess.Popen([bins["opencti-sandbox"], "--golden", str(GOLDEN), "--works", str(messages),
                                "--tip-delay-ms", str(delay_ms), "--jwks"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    fields = dict(sandbox.stdout.readline().rstrip("\n").split("=", 1) for _ in range(6))
    env = {"PATH": os.environ.get("PATH", ""), "OPENCTI_URL": fields["opencti_url"],
           "OPENCTI_TOKEN": fields["opencti_token"], "KASPERSKY_API_KEY": fields["tip_token"],
           "KASPERSKY_API_BASE_URL": fields["tip_url"], "CONNECTOR_LOG_LEVEL": "error",
           "CONNECTOR_QUEUE_PROTOCOL": "api", "CONNECTOR_ID": "kaspersky--8825ba29-8475-4e6a-95b7-9206052c0934",
           "BENCH_MESSAGE": fields["message"], **SECTIONS}
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        run = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file.name, str(Path(venv) / "bin/python"),
                              str(ROOT / "bench/python_connector.py"), str(src), str(messages)], env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        rss = int(rss_file.read().strip().splitlines()[-1])
    sandbox.stdin.close()
    counts = json.loads(sandbox.stdout.readline())
    sandbox.wait(timeout=10)
    elapsed = [float(line.split("=", 1)[1]) for line in run.stdout.splitlines() if line.startswith("elapsed=")]
    if not elapsed or counts["works_complete"] != messages or counts["pushed"] != messages:
        raise SystemExit(f"the Python connector did not enrich every message: {counts}\n{run.stderr[-3000:]}")
    return messages / elapsed[0], rss, counts


def measure(bins, concurrency, messages, delay_ms, runs):
    rates, rss, overlap = [], [], []
    for _ in range(runs):
        rate, peak, counts = one_run(bins, concurrency, messages, delay_ms)
        rates.append(rate)
        rss.append(peak)
        overlap.append(counts["tip_max_concurrent"])
        print(f"  concurrency {concurrency}: {rate:.1f}/s, {peak / 1024:.1f} MiB", file=sys.stderr)
    return {"label": concurrency, "rate": statistics.median(rates), "rate_min": min(rates),
            "rate_max": max(rates), "rss": statistics.median(rss), "rss_max": max(rss), "overlap": max(overlap)}


def section(rows, messages, delay_ms, runs, python_note):
    lines = [HEADING, "",
             f"Generated by `scripts/bench.sh` on {time.strftime('%Y-%m-%d')}. `opencti-kaspersky-enrichment` "
             "(release build) as a whole process on the HTTP transport (`CONNECTOR_LISTEN_PROTOCOL=API`, "
             "`CONNECTOR_QUEUE_PROTOCOL=api`) against `opencti-sandbox` (the OpenCTI and TIP stand-ins of the "
             f"tests, 127.0.0.1), the TIP answering every lookup after {delay_ms} ms. Per run, {messages} listen "
             "messages (the golden `file` case: TIP lookup, 14 objects, `stixBundlePush`, work to processed) "
             f"posted by more clients than the connector has workers; {runs} runs per line, a new process each. "
             "Rate: messages over the time from the first post to the last 202 answer. Peak RSS: "
             "`/usr/bin/time -f %M` of the connector process. Overlap: the most TIP lookups the stand-in was "
             "answering at once.", "",
             "| CONNECTOR_CONCURRENCY | observables enriched / s (median, min–max) | peak RSS MiB (median / max) "
             "| overlap |", "|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['label']} | {row['rate']:.1f} ({row['rate_min']:.1f}–{row['rate_max']:.1f}) | "
                     f"{row['rss'] / 1024:.1f} / {row['rss_max'] / 1024:.1f} | {row['overlap']} |")
    lines += ["", f"Machine: {os.cpu_count()} cores (nproc). Python connector: {python_note}", ""]
    return "\n".join(lines)


def write(out, text):
    """Replaces the section in `out` (or appends it), leaving the rest of the file as it is."""
    current = out.read_text() if out.exists() else "# Benchmark results\n"
    start = current.find(HEADING + "\n")
    if start >= 0:
        end = current.find("\n## ", start + len(HEADING))
        current = current[:start] + text + (current[end + 1:] if end >= 0 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    out.write_text(current)
    print(f"wrote {out}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", type=Path, required=True)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tip-delay-ms", type=int, default=50)
    parser.add_argument("--python-note", default="not measured (see the connector README).")
    parser.add_argument("--python-venv", help="a virtualenv with pycti and the upstream connector's requirements")
    parser.add_argument("--python-src", help="the upstream connector's src/ folder")
    parser.add_argument("--out", type=Path, required=True)
    opts = parser.parse_args()
    bins = {name: str(opts.bin_dir.resolve() / name) for name in ["opencti-kaspersky-enrichment", "opencti-sandbox"]}
    rows = [measure(bins, c, opts.messages, opts.tip_delay_ms, opts.runs) for c in (1, 8)]
    if opts.python_venv and opts.python_src:
        runs = [python_run(bins, opts.python_venv, opts.python_src, opts.messages, opts.tip_delay_ms)
                for _ in range(opts.runs)]
        for rate, peak, _ in runs:
            print(f"  Python connector: {rate:.1f}/s, {peak / 1024:.1f} MiB", file=sys.stderr)
        rates, rss = [r[0] for r in runs], [r[1] for r in runs]
        rows.append({"label": "Python connector (1, pycti)", "rate": statistics.median(rates),
                     "rate_min": min(rates), "rate_max": max(rates), "rss": statistics.median(rss),
                     "rss_max": max(rss), "overlap": max(r[2]["tip_max_concurrent"] for r in runs)})
        opts.python_note = ("the last line, same stand-ins and messages, fed through pycti's own `_data_handler` "
                            "one after the other (bench/python_connector.py; no HTTP listener hop: pycti's binds "
                            "0.0.0.0), so its rate excludes the callback's HTTP round trip that the Rust lines "
                            "include.")
    write(opts.out, section(rows, opts.messages, opts.tip_delay_ms, opts.runs, opts.python_note))


if __name__ == "__main__":
    main()
