#!/usr/bin/python3
"""The measurement logic of bench/run: what its shell only orchestrates.

  report.py ab KIND LABEL TARGET ROUNDS BLOCK WINDOW LIB
      reads connbench's (KIND connbench) or evloop's (KIND evloop) output
      on stdin and prints the A/B report lines: the ratio against its
      target (OK or OVER), the round ratios' spread, and warnings.  Exits 1
      when the output has no summary.
  report.py syscalls KIND DIR LIB ITERS
      the system calls per iteration of each side, from strace -ff's files
      DIR/t.* of a one-round A/B run: only the timed loop counts (from the
      worker's "r" command on fd 3 to its result on fd 4).
  report.py cell RUNS CAP FILE
      the median of RUNS failover runs (FILE.1 .. FILE.RUNS, each "MS PEER",
      TIMEOUT or ERROR ...), formatted, with the peer the median run reached,
      which run it was and its milliseconds: "FIGURE|PEER|RUN|MS".  Timeouts
      count as infinitely slow and show as ">CAP s" (MS 1e12; errors 2e12).
  report.py burst N RUNS WAIT_MS LINGER_MS LIVE TARGET_MS SIBLINGS LIB DIR LABEL
      section 6's report from evloop burst's outputs: DIR/plain (the run
      without libhe; reported when present) and DIR/libhe.1 .. RUNS, each
      with its .err and libhe's .log: per run, how many connected, the time
      to connected, the extra fds, what was left; then the figures against
      TARGET_MS (p50 and p99 medians over the runs, the worst p99, the peak
      extra fds), each summary line naming LABEL (the runs' history setting).
  report.py histcost OFF USER TARGET_PCT
      the healthy path's cost of the connection history: the ratio
      libhe/plain measured with the history (USER) against the one measured
      with HE_HISTORY=off (OFF), in per cent, against TARGET_PCT.
  report.py many LABEL FILE WALL_S TARGET_MS
      section 7's many-processes line: FILE holds one "MS PEER" (or TIMEOUT,
      ERROR ...) line per process, in order; WALL_S is the whole loop's wall
      time.  Prints the total, the first connect and the others' median and
      max, and where they went; with TARGET_MS (not "-"), the others' median
      against it.
  report.py queries LOG MARK CLIENT
      the queries dnsmasq logged (LOG, after line MARK) from CLIENT, one
      "TYPE NAME" line each.
  report.py dnsq LOG MARK T0 CLIENT
      the report line for the DNS queries dnsmasq logged (LOG, after line
      MARK) from CLIENT since T0 (seconds since the epoch).
"""

import collections
import glob
import os
import re
import sys
import time

VERBOSE = False


def status(value, limit):
    return "OK" if value <= limit else "OVER"


def summary(lines):
    """'summary KEY VALUE KEY VALUE ...' as a dict (connbench.c, evloop.c)."""
    for line in lines:
        if line.startswith("summary "):
            words = line.split()[1:]
            return dict(zip(words[::2], words[1::2]))
    return None


def field(lines, key):
    for line in lines:
        if line.startswith(key + " "):
            return line[len(key) + 1:]
    return None


def ab(kind, label, target, rounds, block, window, lib):
    lines = sys.stdin.read().splitlines()
    s = summary(lines)
    cpu = field(lines, "cpu_per_iter_ns" if kind == "connbench" else "cpu_per_connect_ns")
    if s is None or cpu is None:
        print("%s: measurement FAILED: no summary from %s" % (label, kind))
        return 1
    if VERBOSE:
        for line in lines:
            if line.startswith("round "):
                print("    " + line)
    r, t = float(s["ratio"]), float(target)
    # AB_BASE_LIB (bench/ab.h): the "plain" side is libhe with HE_HISTORY=off.
    base = os.environ.get("AB_BASE_LIB")
    a_name, b_name = ("history off", "history on") if base else ("plain", "libhe")
    if kind == "connbench":
        print("%s: %s %d ns, %s %d ns, ratio %.3f (target <= %s) %s" % (
            label, a_name, int(float(s["plain_ns"])), b_name, int(float(s["libhe_ns"])), r,
            target, status(r, t)))
        shape = "%s rounds x %s per side" % (rounds, block)
    else:
        print("%s: %s %.2f us, %s %.2f us per connect, ratio %.3f (target <= %s) %s" % (
            label, a_name, float(s["plain_ns"]) / 1000, b_name, float(s["libhe_ns"]) / 1000,
            r, target, status(r, t)))
        shape = "%s rounds x %s connects per side, %s in flight" % (rounds, block, window)
    print("    %s; %s; round ratios: quartiles %.3f..%.3f, range %.3f..%.3f; means ratio %.3f" % (
        s["target"], shape, float(s["ratio_p25"]), float(s["ratio_p75"]),
        float(s["ratio_min"]), float(s["ratio_max"]), float(s["mean_ratio"])))
    imm = (field(lines, "immediate") or "").split()
    if kind == "evloop" and len(imm) >= 4 and (imm[1] != "0" or imm[3] != "0"):
        print("    connect() returned 0 at once (no EINPROGRESS): plain %s, libhe %s times" % (
            imm[1], imm[3]))
    if VERBOSE:
        v = cpu.split()
        unit = "iteration" if kind == "connbench" else "connect"
        print("    CPU per %s (getrusage, tick-sampled): plain user %.1f sys %.1f us, "
              "libhe user %.1f sys %.1f us" % (unit, float(v[1]) / 1000, float(v[3]) / 1000,
                                              float(v[5]) / 1000, float(v[7]) / 1000))
    if s.get("src") != lib:
        print("    WARNING: the libhe side's symbol came from %s, not %s" % (s.get("src"), lib))
    frm = field(lines, "plain_symbol_from") or ""
    if "libhe" in frm and not base:
        print("    WARNING: the plain side's symbol came from %s" % frm)
    return 0


SYSCALL = re.compile(r"^([a-z_0-9]+)\(")


def trace_counts(path):
    """Calls in the timed loop of one worker's trace, by name."""
    counts, on = collections.Counter(), False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith('read(3, "r", 1)'):
                on = True
                continue
            if on and line.startswith("write(4, "):
                on = False
                continue
            m = SYSCALL.match(line) if on else None
            if m:
                counts[m.group(1)] += 1
    return counts


def syscalls(kind, directory, lib, iters):
    plain = libhe = None
    for path in sorted(glob.glob(directory + "/t.*")):
        with open(path, errors="replace") as f:
            text = f.read()
        if not re.search(r'^execve\("/proc/self/exe", \["%s", "worker"' % kind, text, re.M):
            continue
        if '"%s"' % lib in text:
            libhe = path
        else:
            plain = path
    if plain is None or libhe is None:
        print("    syscalls: could not tell the workers' traces apart")
        return 0
    p, h, n = trace_counts(plain), trace_counts(libhe), float(iters)
    adds = []
    for name in sorted(set(p) | set(h)):
        d = h[name] - p[name]
        if d:
            adds.append("%s %s%.3g" % (name, "+" if d > 0 else "", d / n))
    unit = "iteration" if kind == "connbench" else "connect"
    print("    syscalls per %s (strace): plain %.3g, libhe %.3g; libhe adds: %s" % (
        unit, sum(p.values()) / n, sum(h.values()) / n, ", ".join(adds) or "nothing"))
    return 0


def figure(ms, cap):
    if ms >= 2e12:
        return "error"
    if ms >= 1e12:
        return ">%s s" % cap
    if ms < 10:
        return "%.1f ms" % ms
    if ms < 1000:
        return "%.0f ms" % ms
    return "%.2f s" % (ms / 1000)


def cell(runs, cap, stem):
    values, peers, timeouts, errors = [], [], 0, 0
    for i in range(1, int(runs) + 1):
        try:
            with open("%s.%d" % (stem, i)) as f:
                line = f.readline().split()
        except OSError:
            line = []
        if not line or line[0] in ("ERROR", "MISSING"):
            errors += 1
            values.append(2e12)
            peers.append("")
        elif line[0] == "TIMEOUT":
            timeouts += 1
            values.append(1e12)
            peers.append("")
        else:
            values.append(float(line[0]))
            peers.append(line[1] if len(line) > 1 else "")
    order = sorted(range(len(values)), key=lambda k: values[k])
    m = order[(len(values) + 1) // 2 - 1]
    x = values[m]
    note = ""
    if timeouts and x < 1e12:
        note += " (%d/%s >%s s)" % (timeouts, runs, cap)
    if errors:
        note += " (%d/%s err)" % (errors, runs)
    peer = peers[m] if x < 1e12 else "-"
    if re.match(r"^::ffff:[0-9.]+$", peer):
        peer = peer[7:] + " (v4-mapped, AF_INET6 socket)"
    print("%s%s|%s|%d|%.3f" % (figure(x, cap), note, peer, m + 1, x))
    return 0


def histcost(off, user, target_pct):
    pct = (float(user) / float(off) - 1) * 100
    print("    history's cost: ratio %.3f with the history, %.3f with HE_HISTORY=off: %+.1f%% "
          "(target <= %s%%) %s" % (float(user), float(off), pct, target_pct,
                                   status(pct, float(target_pct))))
    return 0


def many(label, path, wall_s, target_ms):
    """One line on N processes in a row, each connecting once."""
    values, peers, bad = [], collections.Counter(), 0
    for line in read_lines(path):
        w = line.split()
        try:
            values.append(float(w[0]))
            peers[w[1] if len(w) > 1 else "-"] += 1
        except (ValueError, IndexError):
            values.append(float("inf"))
            bad += 1
    n = len(values)
    if n == 0:
        print("    %s: FAILED: no process ran" % label)
        return 0
    rest = sorted(values[1:])
    rmed = rest[(len(rest) + 1) // 2 - 1] if rest else float("nan")
    rmax = rest[-1] if rest else float("nan")
    fig = lambda v: "failed" if v == float("inf") else figure(v, "-")
    where = ", ".join("%s x%d" % kv for kv in peers.most_common())
    print("    %s: total %.1f s (%.0f ms per process); connect: first %s, the other %d: "
          "median %s, max %s%s; reached %s" % (
              label, float(wall_s), float(wall_s) * 1000 / n, fig(values[0]), n - 1,
              fig(rmed), fig(rmax), " (%d failed or timed out)" % bad if bad else "",
              where or "nothing"))
    if target_ms != "-":
        print("    %s: the other %d's median connect %s (target <= %s ms = healthy + 20 ms) %s" % (
            label, n - 1, fig(rmed), target_ms, status(rmed, float(target_ms))))
    return 0


def burst_kv(lines, line, key=None):
    """From evloop burst's "LINE k v k v ..." lines, the value of KEY
    (without KEY: the word after LINE); None when absent."""
    for text in lines:
        w = text.split()
        if not w or w[0] != line:
            continue
        if key is None:
            return w[1] if len(w) > 1 else None
        for i in range(1, len(w) - 1):
            if w[i] == key:
                return w[i + 1]
        return None
    return None


def burst_ms(value, wait_ms=None):
    if value is None:
        return "-"
    if value == "inf":
        return "> %g s" % (float(wait_ms) / 1000)
    return value + " ms"


def read_lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def burst_plain(d, n):
    lines = read_lines(d + "/plain")
    if burst_kv(lines, "result") is None:
        print("plain (reference): FAILED: %s" % " ".join(read_lines(d + "/plain.err")[-2:]))
        return
    print("plain (reference): %s/%s connected within 2 s (failed %s, still pending %s)" % (
        burst_kv(lines, "result", "connected"), n, burst_kv(lines, "result", "failed"),
        burst_kv(lines, "result", "pending")))
    src = burst_kv(lines, "burst", "src") or ""
    if "libhe" in src:
        print("    WARNING: the plain run's connect() came from %s" % src)


def burst_run_report(i, f, n, wait, linger, live, lib):
    """Prints run i's lines; returns (connected, p50, p99, peak) or None."""
    lines = read_lines(f)
    if burst_kv(lines, "result") is None:
        print("libhe run %d: FAILED: %s" % (i, " ".join(read_lines(f + ".err")[-2:])))
        return None
    kv = lambda line, key=None: burst_kv(lines, line, key)
    c = kv("result", "connected")
    p50, p99 = kv("ttc_ms", "p50"), kv("ttc_ms", "p99")
    if p50 is None and c == "0":
        p50 = p99 = "inf"  # none connected within the wait
    failed = " ".join(l.split(None, 1)[1] for l in lines if l.startswith("failed_errno "))
    print("libhe run %d: %s/%s connected within %g s (failed %s%s, pending %s); "
          "time to connected p50 %s, p99 %s, max %s" % (
              i, c, n, float(wait) / 1000, kv("result", "failed"),
              " (%s)" % failed if failed else "",
              kv("result", "pending"), burst_ms(p50, wait), burst_ms(p99, wait),
              burst_ms(kv("ttc_ms", "max"))))
    print("    peak extra fds %s (%s samples, %s ms spent sampling); threads %s, peak %s" % (
        kv("fds", "peak_extra"), kv("fds", "samples"), kv("fds", "sample_ms_total"),
        kv("threads", "baseline"), kv("threads", "peak")))
    print("    extra fds when the loop ended %s (sockets %s, eventfd %s, epoll %s, pipe %s, "
          "other %s); %g s after closing everything: %s, threads %s" % (
              kv("left_open_extra"), kv("left_open_extra", "socket"),
              kv("left_open_extra", "eventfd"), kv("left_open_extra", "epoll"),
              kv("left_open_extra", "pipe"), kv("left_open_extra", "other"),
              float(linger) / 1000, kv("after_close_extra"), kv("after_close_extra", "threads")))
    print("    peer not %s: %s; EPOLLERR/EPOLLHUP wake-ups %s; EPOLL_CTL_DEL errors %s; "
          "all %s connect() calls took %s ms" % (
              live, kv("peer_mismatch"), kv("peer_mismatch", "errhup_events"),
              kv("peer_mismatch", "ctl_del_errors"), n, kv("launch_ms")))
    log = read_lines(f + ".log")
    won = sum(1 for l in log if re.search(r": race [^ ]*: winner ", l))
    lost = sum(1 for l in log if re.search(r": race [^ ]*: no winner", l))
    print("    libhe's log: %d races with a winner, %d without" % (won, lost))
    src = kv("burst", "src")
    if src != lib:
        print("    WARNING: this run's connect() came from %s, not %s" % (src, lib))
    return c, p50, p99, kv("fds", "peak_extra") or "0"


def as_ms(v):
    return float("inf") if v == "inf" else float(v)


def burst(n, runs, wait, linger, live, target, siblings, lib, d, label):
    if os.path.exists(d + "/plain"):
        burst_plain(d, n)
    results = [burst_run_report(i, "%s/libhe.%d" % (d, i), n, wait, linger, live, lib)
               for i in range(1, int(runs) + 1)]
    counts = ["failed" if r is None else "%s/%s" % (r[0], n) for r in results]
    ok = all(r is not None and r[0] == n for r in results)
    print()
    cf = "concurrent failover, %s" % label
    print("%s: all connected: %s (%s)" % (cf, "yes" if ok else "NO", " ".join(counts)))
    figs = [r for r in results if r is not None and r[1] is not None]
    ttarget = "(target <= %s ms = attempt delay + 60 ms)" % target
    if len(figs) == int(runs) and figs:
        p50s = sorted((r[1] for r in figs), key=as_ms)
        p99s = sorted((r[2] for r in figs), key=as_ms)
        m = (len(figs) + 1) // 2 - 1
        verdict = "OVER" if as_ms(p99s[m]) > float(target) else "OK"
        print("%s: time to connected p50 %s, p99 %s (medians of %s runs; "
              "worst p99 %s) %s %s" % (cf, burst_ms(p50s[m], wait), burst_ms(p99s[m], wait), runs,
                                       burst_ms(p99s[-1], wait), ttarget, verdict))
    else:
        print("%s: time to connected: no figure (a run failed) %s OVER" % (cf, ttarget))
    peak = max((int(r[3]) for r in results if r is not None), default=0)
    print("%s: peak extra fds %d (the most of %s runs; a pending race may hold "
          "its %s sibling(s) + 1 dup: at most %d, plus libhe's helper thread's own)" % (
              cf, peak, runs, siblings, (int(siblings) + 1) * int(n)))
    return 0


def client_queries(log, mark, client):
    """The queries dnsmasq logged after line MARK from CLIENT, as
    "TYPE NAME" strings in log order."""
    pat = re.compile(r".* query\[([A-Z0-9]+)\] ([^ ]+) from %s$" % re.escape(client))
    out = []
    with open(log, errors="replace") as f:
        for i, line in enumerate(f):
            m = pat.match(line.rstrip("\n")) if i >= int(mark) else None
            if m:
                out.append("%s %s" % m.groups())
    return out


def queries(log, mark, client):
    for q in client_queries(log, mark, client):
        print(q)
    return 0


def dnsq(log, mark, t0, client):
    seen = collections.Counter(client_queries(log, mark, client))
    n = sum(seen.values())
    detail = " (%s)" % ", ".join("%s x%d" % kv for kv in seen.items()) if n else ""
    print("    DNS queries dnsmasq saw in these %.1f s (both sides, strace run included): %d%s" % (
        time.time() - float(t0), n, detail))
    return 0


def main(argv):
    global VERBOSE
    VERBOSE = os.environ.get("BENCH_VERBOSE") == "1"
    commands = {"ab": (ab, 7), "syscalls": (syscalls, 4), "cell": (cell, 3), "dnsq": (dnsq, 4),
                "queries": (queries, 3), "histcost": (histcost, 3), "many": (many, 4),
                "burst": (burst, 10)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.stderr.write(__doc__)
        return 2
    fn, _ = commands[argv[1]]
    return fn(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
