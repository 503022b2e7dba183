# shellcheck shell=bash
# bench/run's section 4: the DNS figures, a name whose AAAA queries are lost
# (dns_lost_aaaa) and the stale-address rescue (dns_rescue).  Sourced by
# bench/run, whose helpers (fo_run, fo_cell, dns_client_queries, ...) and
# lab (tests/integration/lab.sh: dns_drop_aaaa, dns_set, lab_kill, ...)
# these use.

# Figure 1: a name with A and AAAA whose AAAA queries are all lost.
dns_lost_aaaa() {
    local name=lostaaaa.bench.test i p c mark lost
    # The client's AAAA queries for the name (QNAME's wire bytes followed by
    # QTYPE 28) vanish on the way in; its A queries are answered.
    if ! dns_drop_aaaa "$name" 2>"$W/dns.err"; then
        echo "lost AAAA: skipped: iptables string match failed: $(head -n 1 "$W/dns.err")"
        return
    fi
    mark=$(dns_log_lines)
    # glibc waits out its timeouts: all runs at once, one start every 0.1 s;
    # then libhe's, one at a time.
    for ((i = 1; i <= RUNS; i++)); do
        fo_run plain "$name" "$i" &
        BG_PIDS+=($!)
        sleep 0.1
    done
    wait "${BG_PIDS[@]}" 2>/dev/null
    BG_PIDS=()
    for ((i = 1; i <= RUNS; i++)); do
        fo_run cares "$name" "$i"
    done
    lost=$(dns_client_queries "$mark" | grep -c "^AAAA $name\$")
    p=$(fo_cell plain "$name")
    c=$(fo_cell cares "$name")
    printf '%-28s | %-16s | %-16s | %s\n' "lost AAAA: resolve+connect" "$(cell_fig "$p")" \
        "$(cell_fig "$c")" "$(cell_peer "$c") (plain: $(cell_peer "$p"))"
    DNS_NOTES+=("lost AAAA: $name, A 198.51.100.10 + AAAA 2001:db8:1::10, every AAAA
    query dropped on its way to dnsmasq (iptables string match on the name and
    QTYPE 28; $lost got through).  python3 create_connection(name), timed from
    before getaddrinfo: plain = glibc's resolver (resolv.conf options
    $DNS_OPTS), which gives up on AAAA after its timeouts; libhe =
    LD_PRELOAD + HE_RESOLVE=cares, which returns the A answer once the
    Resolution Delay (${HE_RESOLUTION_DELAY_MS:-50} ms) has passed without AAAA.")
    dns_undrop
}

# Figure 2: stale-address rescue.  NR_RESCUE scenarios side by side, each
# with its own name svcI and three long-running python3 (bench/rescue.py):
# one under libhe with the defaults (kind libdef), one under libhe with
# HE_MAP_TTL=1 (kind libhe, the figure earlier reports had), one without
# (kind plain), all of which resolved svcI to its old address and
# connected.  Then svcI moves to its new address in DNS, the old one goes
# dead, and after the 1 s HE_MAP_TTL each program reconnects to the old
# address by IP: the plain ones all at once (they hang until rescue.py's
# 3 s cap), libhe's one at a time, the HE_MAP_TTL=1 ones first.  With the
# defaults the name's memory is still fresh (HE_MAP_TTL 30 s): libhe
# re-resolves it from inside the race once the attempt has not connected
# within the attempt delay.  Each libhe program has a history file of its
# own, fresh at its start.
RESCUE_CAP=3
RESCUE_KINDS=(plain libhe libdef)
dns_rescue() {
    local d=$W/rescue i k mark mark_def f line c p run run_def
    local -A ok=([libhe]=0 [libdef]=0)
    mkdir -p "$d"
    for ((i = 1; i <= NR_RESCUE; i++)); do
        for k in "${RESCUE_KINDS[@]}"; do
            local pre=()
            case $k in
            libhe) pre=(env "LD_PRELOAD=$LIB" HE_MAP_TTL=1) ;;
            libdef) pre=(env "LD_PRELOAD=$LIB") ;;
            esac
            [ "$k" = plain ] || pre+=("HE_HISTORY_FILE=$(fresh_hist)" HE_LOG=debug
                "HE_LOG_FILE=$d/he.$k.$i.log")
            timeout $((RESCUE_CAP + 15)) "${pre[@]}" "$PY" -I "$BENCH_DIR/rescue.py" \
                "svc$i.bench.test" 7000 "$d/go.$k.$i" "$RESCUE_CAP" >"$d/$k.$i" 2>&1 &
            BG_PIDS+=($!)
            sleep 0.1
        done
    done
    for ((k = 0; k < 100; k++)); do
        [ "$(cat "$d"/plain.* "$d"/libhe.* "$d"/libdef.* | grep -c '^round0 ')" -eq \
            $((3 * NR_RESCUE)) ] && break
        sleep 0.05
    done
    for ((i = 1; i <= NR_RESCUE; i++)); do
        for k in "${RESCUE_KINDS[@]}"; do
            line=$(grep '^round0 ' "$d/$k.$i")
            if [[ $line != "round0 "*" $(rescue_old "$i") reached_$(rescue_old "$i")" ]]; then
                echo "stale-address rescue: FAILED: $k program $i did not reach $(rescue_old "$i") first: '$(tail -n 2 "$d/$k.$i" | tr '\n' ' ')'"
                return
            fi
        done
    done
    # Move every svcI in DNS (dns_set waits until dnsmasq answers the new
    # address), and kill the old one.
    for ((i = 1; i <= NR_RESCUE; i++)); do
        dns_set "svc$i.bench.test" "$(rescue_new "$i")" 2>"$W/dns.err" || {
            echo "stale-address rescue: FAILED: $(head -n 1 "$W/dns.err")"
            return
        }
        lab_kill "$(rescue_old "$i")" 2>"$W/dns.err" || {
            echo "stale-address rescue: FAILED: $(head -n 1 "$W/dns.err")"
            return
        }
    done
    sleep 1.2 # HE_MAP_TTL=1: the tuned programs' memory of svcI has expired
    mark=$(dns_log_lines)
    for ((i = 1; i <= NR_RESCUE; i++)); do
        : >"$d/go.plain.$i"
    done
    for k in libhe libdef; do
        [ "$k" = libdef ] && mark_def=$(dns_log_lines)
        for ((i = 1; i <= NR_RESCUE; i++)); do
            : >"$d/go.$k.$i"
            for ((c = 0; c < 100 * (RESCUE_CAP + 1); c++)); do
                grep -q '^round1 ' "$d/$k.$i" && break
                sleep 0.01
            done
        done
    done
    wait "${BG_PIDS[@]}" 2>/dev/null
    BG_PIDS=()
    # Into fo_cell's files: "MS PEER" or TIMEOUT, runs 1..NR_RESCUE.
    for ((i = 1; i <= NR_RESCUE; i++)); do
        for k in "${RESCUE_KINDS[@]}"; do
            line=$(grep '^round1 ' "$d/$k.$i")
            f=$W/fo/rescue_$k.svc.$i
            case $line in
            "round1 TIMEOUT "*) echo TIMEOUT >"$f" ;;
            "round1 "*) awk '{ print $2, $3 }' <<<"$line" >"$f" ;;
            *) echo "ERROR $(tail -n 1 "$d/$k.$i")" >"$f" ;;
            esac
            [ "$k" = plain ] && continue
            [[ $line == *" reached_$(rescue_new "$i")" ]] && ok[$k]=$((ok[$k] + 1))
        done
    done
    p=$(RUNS=$NR_RESCUE fo_cell rescue_plain svc "$RESCUE_CAP")
    c=$(RUNS=$NR_RESCUE fo_cell rescue_libdef svc "$RESCUE_CAP")
    run_def=$(cell_run "$c")
    printf '%-28s | %-16s | %-16s | %s\n' "stale address: defaults" "$(cell_fig "$p")" \
        "$(cell_fig "$c")" "$(cell_peer "$c") (new address in ${ok[libdef]}/$NR_RESCUE)"
    c=$(RUNS=$NR_RESCUE fo_cell rescue_libhe svc "$RESCUE_CAP")
    run=$(cell_run "$c")
    printf '%-28s | %-16s | %-16s | %s\n' "stale address: HE_MAP_TTL=1" "(the same)" \
        "$(cell_fig "$c")" "$(cell_peer "$c") (new address in ${ok[libhe]}/$NR_RESCUE)"
    DNS_NOTES+=("stale address: $NR_RESCUE x 3 long-running python3 (bench/rescue.py), each
    resolved its own name svcI.bench.test -> 198.51.100.(100+I) once and
    connected; then DNS moved svcI to 198.51.100.(150+I), the old address went
    dead (TCP dropped) and, 1.2 s or more later, each reconnected by IP to the old
    address (create_connection((old, 7000)), blocking, capped at $RESCUE_CAP s).
    Under libhe (each program with a history file of its own, fresh at its
    start), that attempt starts, libhe asks DNS for svcI from inside the
    race -- defaults: once the attempt has not connected within the attempt
    delay, the name's memory being still fresh (HE_MAP_TTL 30 s); HE_MAP_TTL=1:
    at once, the memory having expired -- and its next attempt, to the
    answer, starts after the attempt delay.  That delay is the history's:
    round 0's connect gave the old address an RTT, so SRTT + 4 x RTTVAR, at
    least 100 ms (HE_MIN_ATTEMPT_DELAY_MS), instead of the configured
    ${HE_ATTEMPT_DELAY_MS:-250} ms.  DNS queries the reconnects sent: defaults $(rescue_queries "$mark_def" ""),
    HE_MAP_TTL=1 $(rescue_queries "$mark" "$mark_def").")
    rescue_log defaults "$d/he.libdef.$run_def.log"
    rescue_log HE_MAP_TTL=1 "$d/he.libhe.$run.log"
    lab_revive
}

# rescue_queries MARK END: the DNS queries dnsmasq logged from the client
# after line MARK (up to line END; "" for no end), counted by type and name
# (every svcI as one).
rescue_queries() {
    local all n_after=0
    all=$(dns_client_queries "$1")
    [ -z "$2" ] || n_after=$(dns_client_queries "$2" | grep -c .)
    head -n "$(($(grep -c . <<<"$all") - n_after))" <<<"$all" |
        awk '{ k = $1 " " ($2 ~ /^svc[0-9]+\.bench\.test$/ ? "svcI" : $2); c[k]++; n++ }
             END { s = ""; for (k in c) s = s (s == "" ? "" : ", ") k " x" c[k]; print n + 0 (n ? " (" s ")" : "") }'
}

# rescue_log LABEL FILE: a note with the race and refresh lines of libhe's
# log FILE (a median run's), when there is one.
rescue_log() {
    [ -s "$2" ] || return 0
    DNS_NOTES+=("    libhe's log of the median run, $1 (HE_LOG=debug):
$(grep -E ': (race|refresh) ' "$2" | sed 's/^/      /')")
}
