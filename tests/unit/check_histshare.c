/* Unit test for the history table shared through a file (history/table.c
 * over history/file.c's mapping): sixteen processes of four threads each
 * read and write one table for three seconds, while writers that update in
 * a tight loop are killed a few milliseconds in, some of them holding a
 * slot.
 *
 * Every writer writes an entry whose fields follow from its key and a
 * token of the writer's (share_fill), and everything read is checked for
 * that (share_whole): a slot torn between two writers, or read while being
 * written, would show.  A writer that died holding a slot leaves its lock
 * word odd; the slot is busy until its claim is HE_HIST_STALE_CLAIM_S old,
 * then any writer can have it. */
#include "../../history/history.h"

#include "he_check.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHARE_CHILDREN 16
#define SHARE_THREADS 4
#define SHARE_RUN_MS 3000
#define SHARE_ADDRS 200
/* 200 addresses at two ports, and a few of another network. */
#define SHARE_KEYS (SHARE_ADDRS * 2 + 8)
/* The parent's own keys, past the children's, of a third network. */
#define SHARE_OWN_KEYS 64

#define NET_A 0x0a0a0a0a0a0a0a0aull
#define NET_B 0x0b0b0b0b0b0b0b0bull
#define NET_OWN 0x0c0c0c0c0c0c0c0cull

/* Why a child failed, as its exit status.  IDLE: it did too little for
 * its checks to mean anything. */
enum { SHARE_OK = 0, SHARE_TORN, SHARE_NO_TABLE, SHARE_NO_START, SHARE_IDLE };

/* ------------------------------------------------------------------------ */
/* Keys and entries                                                           */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The seconds entries are stamped with: never 0, as history.c's. */
static uint32_t mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_sec + 1;
}

static void share_key(int k, struct he_hist_entry *e) {
    int a = k < SHARE_ADDRS * 2 ? k / 2 : k - SHARE_ADDRS * 2;
    memset(e, 0, sizeof *e);
    e->netid = k < SHARE_ADDRS * 2 ? NET_A : k < SHARE_KEYS ? NET_B : NET_OWN;
    e->kind = HE_HIST_ADDR;
    e->port = (k < SHARE_ADDRS * 2 && (k & 1)) ? 80 : 443;
    if (a % 2 == 0) {
        e->addr.family = AF_INET;
        memcpy(e->addr.bytes, (const uint8_t[]){198, 51, 100, (uint8_t)a}, 4);
    } else {
        e->addr.family = AF_INET6;
        memcpy(e->addr.bytes, (const uint8_t[]){0x20, 0x01, 0x0d, 0xb8}, 4);
        e->addr.bytes[15] = (uint8_t)a;
    }
}

static int share_same_key(const struct he_hist_entry *a, const struct he_hist_entry *b) {
    return a->netid == b->netid && a->kind == b->kind && a->port == b->port &&
           a->addr.family == b->addr.family && memcmp(a->addr.bytes, b->addr.bytes, 16) == 0;
}

/* What ties an entry's payload to its key. */
static uint32_t share_tag(const struct he_hist_entry *e) {
    return he_addr_hash(&e->addr) ^ (uint32_t)e->netid ^ (uint32_t)e->port << 16 ^ e->kind;
}

/* One writer's whole entry: every field follows from token and the key,
 * so that words of two writers mixed would not. */
static void share_fill(struct he_hist_entry *e, uint32_t token, uint32_t now_s) {
    e->srtt_us = token;
    e->rttvar_us = token ^ share_tag(e);
    e->outcome = (uint8_t)(HE_HIST_CONNECTED + token % 4);
    e->fails = (uint8_t)(token >> 8);
    e->outcome_at_s = e->connected_at_s = now_s;
}

static int share_whole(const struct he_hist_entry *e) {
    return e->rttvar_us == (e->srtt_us ^ share_tag(e)) &&
           e->outcome == HE_HIST_CONNECTED + e->srtt_us % 4 &&
           e->fails == (uint8_t)(e->srtt_us >> 8) && e->connected_at_s != 0 &&
           e->outcome_at_s == e->connected_at_s;
}

/* What update gives fn for a key it has no entry for. */
static int share_fresh(const struct he_hist_entry *e) {
    return e->outcome == HE_HIST_NONE && e->fails == 0 && e->srtt_us == 0 && e->rttvar_us == 0 &&
           e->outcome_at_s == 0 && e->connected_at_s == 0;
}

struct share_write {
    uint32_t token, now_s;
    int torn;
    int yield; /* gives the processor away holding the slot */
};

static void share_writer(struct he_hist_entry *e, void *ctx) {
    struct share_write *w = ctx;
    /* Under the claim the slot holds one writer's entry, or none. */
    if (!share_fresh(e) && !share_whole(e)) {
        w->torn++;
    }
    share_fill(e, w->token, w->now_s);
    if (w->yield) {
        sched_yield();
    }
}

/* ------------------------------------------------------------------------ */
/* The children                                                               */

struct share_thread {
    struct he_hist_table *t;
    uint32_t id;
    /* Writes only, and now and then yields holding the slot, so that a
     * kill often finds it there. */
    int doomed;
    int ready; /* a pipe told after the first operation, or -1 */
    int64_t until_ms;
    long ops, hits, bad;
};

static uint32_t share_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 32);
}

/* Updates and gets of random keys until until_ms. */
static void *share_run(void *arg) {
    struct share_thread *th = arg;
    uint64_t rng = (uint64_t)getpid() << 32 ^ th->id ^ 0x9e3779b97f4a7c15ull;
    uint32_t n = 0;
    while (mono_ms() < th->until_ms) {
        uint32_t r = share_rand(&rng);
        struct he_hist_entry key, out;
        share_key((int)(r % SHARE_KEYS), &key);
        if (th->doomed || (r >> 24) % 2 == 0) {
            struct share_write w = {th->id << 24 | (n++ & 0xffffff), mono_s(), 0,
                                    th->doomed && (r >> 24) % 4 == 0};
            int rc = he_hist_table_update(th->t, &key, w.now_s, share_writer, &w);
            th->bad += w.torn + (rc != 0 && rc != -EBUSY);
        } else {
            int rc = he_hist_table_get(th->t, &key, &out);
            th->bad += rc != 0 && rc != -ENOENT;
            th->bad += rc == 0 && !(share_same_key(&out, &key) && share_whole(&out));
            th->hits += rc == 0;
        }
        if (th->ops++ == 0 && th->ready >= 0 && write(th->ready, "", 1) != 1) {
            th->ready = -1; /* the killer waits it out instead */
        }
    }
    return NULL;
}

static int share_map(const char *path, struct he_hist_table *t) {
    void *mem;
    size_t size;
    char why[256];
    if (he_hist_file_map(path, 0, &mem, &size, why, sizeof why) != 0) {
        fprintf(stderr, "%s: %s\n", path, why);
        return -1;
    }
    return he_hist_table_open(t, mem, size);
}

/* A child of SHARE_THREADS threads on its own mapping of the file.
 * Returns its exit status. */
static int share_child(const char *path, int child, int64_t until_ms) {
    struct he_hist_table t;
    if (share_map(path, &t) != 0) {
        return SHARE_NO_TABLE;
    }
    struct share_thread th[SHARE_THREADS];
    pthread_t tid[SHARE_THREADS];
    for (int i = 0; i < SHARE_THREADS; i++) {
        th[i] = (struct share_thread){.t = &t,
                                      .id = (uint32_t)(child * SHARE_THREADS + i),
                                      .ready = -1,
                                      .until_ms = until_ms};
        if (pthread_create(&tid[i], NULL, share_run, &th[i]) != 0) {
            return SHARE_NO_START;
        }
    }
    long ops = 0, hits = 0, bad = 0;
    for (int i = 0; i < SHARE_THREADS; i++) {
        pthread_join(tid[i], NULL);
        ops += th[i].ops;
        hits += th[i].hits;
        bad += th[i].bad;
    }
    if (bad > 0) {
        fprintf(stderr, "child %d: %ld of %ld operations saw a torn entry\n", child, bad, ops);
        return SHARE_TORN;
    }
    return ops > 0 && hits > 0 ? SHARE_OK : SHARE_IDLE;
}

/* One doomed writer: forked, killed a few milliseconds after it started
 * writing.  Returns 1 when it was killed, 0 when it ran out of time, or
 * minus the exit status the killer should end with. */
static int share_doom(struct he_hist_table *t, int64_t until_ms, uint64_t *rng) {
    int ready[2];
    if (pipe(ready) != 0) {
        return -SHARE_NO_START;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* Its own deadline too, should the killer die first. */
        struct share_thread th = {.t = t,
                                  .id = SHARE_CHILDREN * SHARE_THREADS,
                                  .doomed = 1,
                                  .ready = ready[1],
                                  .until_ms = until_ms + 1000};
        share_run(&th);
        _exit(th.bad > 0 ? SHARE_TORN : SHARE_OK);
    }
    close(ready[1]);
    char c;
    /* Not before it writes: a process not yet running dies holding nothing. */
    if (pid > 0 && read(ready[0], &c, 1) == 1) {
        struct timespec ts = {0, (long)(500 + share_rand(rng) % 4500) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    close(ready[0]);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -SHARE_NO_START;
    }
    return WIFSIGNALED(status) ? 1 : WEXITSTATUS(status) == SHARE_OK ? 0 : -WEXITSTATUS(status);
}

/* Kills doomed writers one after the other until until_ms: some die
 * holding a slot.  Returns its exit status. */
static int share_killer(const char *path, int64_t until_ms) {
    struct he_hist_table t;
    if (share_map(path, &t) != 0) {
        return SHARE_NO_TABLE;
    }
    uint64_t rng = (uint64_t)getpid() * 0x2545f4914f6cdd1dull;
    int kills = 0;
    while (mono_ms() < until_ms) {
        int rc = share_doom(&t, until_ms, &rng);
        if (rc < 0) {
            return -rc;
        }
        kills += rc;
    }
    return kills > 0 ? SHARE_OK : SHARE_IDLE;
}

/* ------------------------------------------------------------------------ */
/* The parent's checks                                                        */

struct share_seen {
    int n, torn, unknown;
    uint32_t lo_s, hi_s;
};

static int share_known(const struct he_hist_entry *e) {
    for (int k = 0; k < SHARE_KEYS + SHARE_OWN_KEYS; k++) {
        struct he_hist_entry key;
        share_key(k, &key);
        if (share_same_key(e, &key)) {
            return 1;
        }
    }
    return 0;
}

static void share_walked(const struct he_hist_entry *e, void *ctx) {
    struct share_seen *s = ctx;
    s->n++;
    s->torn += !share_whole(e) || e->connected_at_s < s->lo_s || e->connected_at_s > s->hi_s;
    s->unknown += !share_known(e);
}

static void share_die(struct he_hist_entry *e, void *ctx) {
    (void)e;
    (void)ctx;
    raise(SIGKILL);
}

/* One of the parent's keys, written by the parent so that its slot is
 * known and readable, then claimed by a child that dies holding it.
 * Returns the key's number. */
static int share_die_holding(struct he_hist_table *t, int from) {
    struct he_hist_entry key;
    int k = from;
    for (;; k++) {
        ck_assert_int_lt(k, SHARE_KEYS + SHARE_OWN_KEYS);
        share_key(k, &key);
        /* A window a killed writer left busy may refuse it: another key. */
        struct share_write w = {.token = 0xff000000u | (uint32_t)k, .now_s = mono_s()};
        if (he_hist_table_update(t, &key, w.now_s, share_writer, &w) == 0) {
            break;
        }
    }
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        he_hist_table_update(t, &key, mono_s(), share_die, NULL);
        _exit(SHARE_IDLE); /* not claimed */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the dying writer did not die in its update (status %#x)", status);
    return k;
}

static int share_lock_odd(const struct he_hist_table *t, uint32_t i) {
    return __atomic_load_n(&t->slots[(size_t)i * 8], __ATOMIC_ACQUIRE) & 1;
}

static uint32_t share_claim_s(const struct he_hist_table *t, uint32_t i) {
    return (uint32_t)(__atomic_load_n(&t->slots[(size_t)i * 8], __ATOMIC_ACQUIRE) >> 32);
}

START_TEST(test_shared_table_survives) {
    char dir[] = "/tmp/he-histshare-XXXXXX", path[64], why[256] = "";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/history", dir);
    void *mem = NULL;
    size_t size = 0;
    ck_assert_msg(he_hist_file_map(path, 1, &mem, &size, why, sizeof why) == 0, "%s", why);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
    ck_assert_uint_eq((size_t)st.st_size, he_hist_table_size(HE_HIST_SLOTS_DEFAULT));
    struct he_hist_table t;
    ck_assert_int_eq(he_hist_table_open(&t, mem, size), 0);

    /* The children: readers and writers, and the killer of writers. */
    uint32_t start_s = mono_s();
    int64_t until_ms = mono_ms() + SHARE_RUN_MS;
    pid_t pids[SHARE_CHILDREN + 1];
    for (int c = 0; c <= SHARE_CHILDREN; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            _exit(c < SHARE_CHILDREN ? share_child(path, c, until_ms)
                                     : share_killer(path, until_ms));
        }
    }
    for (int c = 0; c <= SHARE_CHILDREN; c++) {
        int status;
        ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == SHARE_OK,
                      "child %d (%s) ended with status %#x", c,
                      c < SHARE_CHILDREN ? "threads" : "killer", status);
    }

    /* Only whole entries of keys that were written; most keys made it. */
    struct share_seen seen = {0, 0, 0, start_s, mono_s()};
    ck_assert_int_eq(he_hist_table_walk(&t, share_walked, &seen), seen.n);
    ck_assert_int_eq(seen.torn, 0);
    ck_assert_int_eq(seen.unknown, 0);
    ck_assert_int_ge(seen.n, SHARE_KEYS / 2);

    /* A slot whose writer died is busy now, and can be had once its claim
     * is stale. */
    int k = share_die_holding(&t, SHARE_KEYS);
    struct he_hist_entry key, out;
    share_key(k, &key);
    uint32_t now_s = mono_s();
    struct share_write w = {.token = 0xfe000000u, .now_s = now_s};
    ck_assert_int_eq(he_hist_table_update(&t, &key, now_s, share_writer, &w), -EBUSY);
    w.now_s = now_s + HE_HIST_STALE_CLAIM_S + 1;
    ck_assert_int_eq(he_hist_table_update(&t, &key, w.now_s, share_writer, &w), 0);
    ck_assert_int_eq(w.torn, 0);
    ck_assert_int_eq(he_hist_table_get(&t, &key, &out), 0);
    ck_assert(share_whole(&out) && out.srtt_us == 0xfe000000u);

    /* Another left dead, with whatever the killed writers left: a clear
     * now leaves exactly the slots claimed within the stale time, a clear
     * one stale time later none. */
    share_die_holding(&t, k + 1);
    now_s = mono_s();
    int fresh = 0;
    for (uint32_t i = 0; i < t.nslots; i++) {
        fresh += share_lock_odd(&t, i) &&
                 (uint32_t)(now_s - share_claim_s(&t, i)) < HE_HIST_STALE_CLAIM_S;
    }
    ck_assert_int_ge(fresh, 1);
    ck_assert_int_eq(he_hist_table_clear(&t, now_s), fresh);
    ck_assert_int_eq(he_hist_table_clear(&t, now_s + HE_HIST_STALE_CLAIM_S + 1), 0);
    for (uint32_t i = 0; i < t.nslots; i++) {
        ck_assert_msg(!share_lock_odd(&t, i), "slot %u still held", i);
    }
    seen = (struct share_seen){0, 0, 0, 0, UINT32_MAX};
    ck_assert_int_eq(he_hist_table_walk(&t, share_walked, &seen), 0);

    munmap(mem, size);
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *histshare_suite(void) {
    Suite *s = suite_create("histshare");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_shared_table_survives);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(histshare_suite)
