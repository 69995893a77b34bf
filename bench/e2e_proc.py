"""What bench/e2e.py reads of its processes and of the machine (/proc), how it
stops a process, and its log line."""

import os
import signal
import subprocess
import sys

HZ = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("bench-e2e: %s\n" % msg)
    sys.stderr.flush()


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / HZ
    except (OSError, IndexError, ValueError):
        return None


def thread_seconds(pid):
    """CPU seconds of pid's threads by what they do: the event loop (the main
    thread), inference, ingest (every in:* thread), the MQTT connection, the
    rest."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:
            continue
        comm = head.split("(", 1)[1]
        kind = ("loop" if int(tid) == pid else "inference" if comm == "lcnetd-infer" else
                "ingest" if comm.startswith("in:") else "mqtt" if comm == "lcnetd-mqtt" else "other")
        parts = tail.split()
        out[kind] = out.get(kind, 0.0) + (int(parts[11]) + int(parts[12])) / HZ
    return out


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def mem_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def busy_seconds():
    with open("/proc/stat") as f:
        p = f.readline().split()
    return (int(p[1]) + int(p[2]) + int(p[3]) + int(p[6]) + int(p[7]) + int(p[8])) / HZ


def self_cpu():
    t = os.times()
    return t.user + t.system


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def terminate(p, grace=10):
    """SIGTERM, then SIGKILL after grace seconds."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
