# shellcheck shell=bash
# HE_STATS's summary line and HE_LOG_FORMAT=json (shim/exit.c,
# racer/stats.c, common/log.c): fields present and right for a known
# sequence of races, written once per process (exit, os._exit), a forked
# child's own line, none without HE_STATS.
. "$HE_IT_DIR/lib.sh"

# A known sequence in one process: multi.test:7000 (both live: the own
# address wins), multi.test:8080 with both addresses refused by HE_FAULTS
# (failed, twice: create_connection tries each address, and libhe races
# both each time), dead4.test:7000 (rescued after the attempt delay: 100 ms, the
# least the history derives from the /24's RTT the first connect taught
# it).  Blocking connects: a non-blocking one the kernel answers before a
# sibling is due is not a race.  The argument says how the process ends:
# exit, _exit.
STATS_PY='
import os, socket, sys
def connect(name, port):
    try:
        socket.create_connection((name, port)).close()
        print(name, port, "ok")
    except OSError as e:
        print(name, port, "error", e.errno)
connect("multi.test", '"$LAB_PORT_WHOAMI"')
connect("multi.test", '"$LAB_PORT_HTTP"')
connect("dead4.test", '"$LAB_PORT_WHOAMI"')
sys.stdout.flush()
if sys.argv[1] == "_exit":
    os._exit(0)
sys.exit(0)
'
STATS_FAULTS="${LAB_LIVE4[0]}:$LAB_PORT_HTTP=refuse,${LAB_LIVE4[1]}:$LAB_PORT_HTTP=refuse"

# The summary lines on stderr, text form.
stats_lines() {
    grep -E '^libhe\[[0-9]+\] summary: ' <<<"$HE_ERR"
}

stats_case_text() {
    he_run --env HE_STATS=1 --env "HE_FAULTS=$STATS_FAULTS" /usr/bin/python3 -c "$STATS_PY" "$1"
    expect_rc 0
    [ "$HE_OUT" = "multi.test $LAB_PORT_WHOAMI ok
multi.test $LAB_PORT_HTTP error 111
dead4.test $LAB_PORT_WHOAMI ok" ] || he_fail "wanted ok, refused, ok; $(he_ctx)"
    local lines wait
    lines=$(stats_lines)
    [ "$(wc -l <<<"$lines")" -eq 1 ] || he_fail "wanted one summary line; $(he_ctx)"
    [[ $lines =~ summary:\ races\ 4,\ own\ 1,\ rescued\ 1,\ failed\ 2,\ left\ 0,\ dead_wait_ms\ ([0-9]+),\ faults\ 4$ ]] ||
        he_fail "wanted races 4, own 1, rescued 1, failed 2, left 0, faults 4; $(he_ctx)"
    wait=${BASH_REMATCH[1]}
    # The rescue waited the attempt delay (100 ms); the refusals none.
    [ "$wait" -ge 90 ] && [ "$wait" -lt 1000 ] ||
        he_fail "dead_wait_ms $wait, wanted about 100; $(he_ctx)"
    [[ $lines == "libhe[$(grep -m1 -oE '^libhe\[[0-9]+\]' <<<"$lines" | tr -dc 0-9)] summary"* ]] ||
        he_fail "no pid; $(he_ctx)"
}
he_case stats/summary-exit stats_case_text exit
he_case stats/summary-_exit stats_case_text _exit

# The same as JSON: every stderr line is one JSON object; the summary's
# fields, and the three races logged at info (two failed, the rescued).
stats_case_json() {
    he_run --env HE_STATS=1 --env HE_LOG=info --env HE_LOG_FORMAT=json \
        --env "HE_FAULTS=$STATS_FAULTS" /usr/bin/python3 -c "$STATS_PY" exit
    expect_rc 0
    printf '%s\n' "$HE_ERR" >"$HE_CASE_DIR/json"
    /usr/bin/python3 - "$HE_CASE_DIR/json" "${LAB_LIVE4[0]}" <<'PY' ||
import json, sys
path, live = sys.argv[1], sys.argv[2]
objs = [json.loads(l) for l in open(path) if l.strip()]
summ = [o for o in objs if o["event"] == "summary"]
assert len(summ) == 1, "summaries: %d" % len(summ)
s = summ[0]
want = {"races": 4, "own": 1, "rescued": 1, "failed": 2, "left": 0, "faults": 4}
for k, v in want.items():
    assert s[k] == v, "%s is %r, want %r" % (k, s[k], v)
assert 90 <= s["dead_wait_ms"] < 1000, s["dead_wait_ms"]
races = [o for o in objs if o["event"] == "race"]
assert [r["result"] for r in races] == ["failed", "failed", "rescued"], [r["result"] for r in races]
f, _, r = races
assert f["name"] == "multi.test" and f["winner"] is None and f["error"] == "ECONNREFUSED", f
assert all(a["state"] == "failed" and a["error"] == "ECONNREFUSED" for a in f["attempts"]), f
assert r["name"] == "dead4.test" and r["winner"] == live and r["attempt"] == 2, r
assert f["blocking"] is True and r["blocking"] is True, (f, r)
assert all(o["pid"] == s["pid"] for o in objs), "pids differ"
assert all(o["event"] in ("log", "race", "summary") for o in objs)
PY
        he_fail "JSON lines wrong (above); $(he_ctx)"
}
he_case stats/json stats_case_json

# A forked child reports its own races; one that made none says nothing.
stats_case_fork() {
    local py='
import os, socket, sys
socket.create_connection(("dead4.test", '"$LAB_PORT_WHOAMI"')).close()
pid = os.fork()
if pid == 0:
    socket.create_connection(("multi.test", '"$LAB_PORT_WHOAMI"')).close()
    socket.create_connection(("multi.test", '"$LAB_PORT_WHOAMI"')).close()
    os._exit(0)
os.waitpid(pid, 0)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("parent", os.getpid())
'
    he_run --env HE_STATS=1 /usr/bin/python3 -c "$py"
    expect_rc 0
    local lines parent
    lines=$(stats_lines)
    parent=$(sed -n 's/^parent //p' <<<"$HE_OUT")
    [ "$(wc -l <<<"$lines")" -eq 2 ] || he_fail "wanted two summary lines; $(he_ctx)"
    grep -qE "^libhe\[$parent\] summary: races 1, own 0, rescued 1, failed 0" <<<"$lines" ||
        he_fail "wanted the parent's line with its one rescue; $(he_ctx)"
    grep -E "summary: races 2, own 2, rescued 0, failed 0" <<<"$lines" | grep -vq "^libhe\[$parent\]" ||
        he_fail "wanted the child's own line with its two races; $(he_ctx)"
}
he_case stats/fork stats_case_fork

# Without HE_STATS nothing is written; he-run --summary sets it.
stats_case_off() {
    he_run /usr/bin/python3 -c "$STATS_PY" exit
    expect_rc 0
    [ -z "$(stats_lines)" ] || he_fail "a summary without HE_STATS; $(he_ctx)"
}
he_case stats/off stats_case_off
