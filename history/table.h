/* The history table: a fixed number of 64-byte slots after a 64-byte
 * header, in one region of memory that may be a file shared by every
 * process of the user (history/file.c) or the process's own memory.
 *
 * Many processes read and write the region at once, and any of them can
 * die at any instruction; the file may also hold garbage.  So (DESIGN.md,
 * "Connection history"):
 * - offsets, never pointers; the header (magic, version, sizes) is checked
 *   before the region is used, and nothing past its stated size is read;
 * - each slot has a 64-bit lock word: a sequence number, odd while a writer
 *   holds it, and the second the writer claimed it.  Writers claim it with
 *   compare-and-swap; readers copy the slot and check the word did not
 *   move.  A slot held for more than HE_HIST_STALE_CLAIM_S (its writer
 *   died) is taken over.  Every try is bounded; a slot that cannot be had
 *   is skipped: the history is a hint;
 * - a checksum over each slot's payload, so that torn or foreign bytes
 *   read as an empty slot;
 * - slot positions come from a hash seeded per file, probed over a short
 *   window; a full window evicts its least recently used slot. */
#ifndef HE_HIST_TABLE_H
#define HE_HIST_TABLE_H

#include "../common/addr.h"

#include <stddef.h>
#include <stdint.h>

#define HE_HIST_MAGIC 0x5453484548424c4cull /* "LLBHEHST" */
#define HE_HIST_VERSION 1
#define HE_HIST_SLOT_SIZE 64
#define HE_HIST_HEADER_SIZE 64
#define HE_HIST_SLOTS_MIN 16
#define HE_HIST_SLOTS_MAX (1u << 20)
/* Slots a key may live in: its hash's slot and the next ones. */
#define HE_HIST_PROBE 8
/* A writer holds a slot for a few stores; one held this long died. */
#define HE_HIST_STALE_CLAIM_S 2
/* Writers' clock readings differ by the moments between them: a claim up
 * to this far in the future is a live one. */
#define HE_HIST_CLOCK_SKEW_S 60

enum he_hist_outcome {
    HE_HIST_NONE = 0,
    HE_HIST_CONNECTED,
    HE_HIST_REFUSED,  /* RST: ECONNREFUSED */
    HE_HIST_TIMEDOUT, /* never completed: ETIMEDOUT, or lost a race it ran long in */
    HE_HIST_UNREACH,  /* EHOSTUNREACH, ENETUNREACH, a local firewall */
    HE_HIST_OUTCOMES
};

/* What a slot is about: one destination (address and port), or a prefix
 * (/24, /64) whose RTT stands in for an address not yet measured. */
enum he_hist_kind { HE_HIST_ADDR = 1, HE_HIST_PREFIX = 2 };

/* One slot, unpacked.  Times are seconds of CLOCK_MONOTONIC (0: never),
 * which every process of one boot shares; the boot is part of netid. */
struct he_hist_entry {
    uint64_t netid; /* the network it was learned in (history/netid.c) */
    struct he_addr addr;
    uint16_t port; /* host order; 0 for a prefix */
    uint8_t kind;
    uint8_t outcome; /* enum he_hist_outcome, the last one */
    uint8_t fails;   /* consecutive failures */
    uint32_t srtt_us, rttvar_us;
    uint32_t outcome_at_s, connected_at_s;
};

struct he_hist_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint32_t slot_size;
    uint32_t nslots; /* a power of two */
    uint64_t seed;   /* the hash's, chosen when the file was made */
    uint64_t total_size;
    uint64_t spare[3];
};

/* A checked region: where its slots are and how many. */
struct he_hist_table {
    uint64_t *slots; /* nslots * 8 words */
    uint32_t nslots;
    uint64_t seed;
};

size_t he_hist_table_size(uint32_t nslots);
void he_hist_header_make(struct he_hist_header *h, uint32_t nslots, uint64_t seed);
/* Writes a header and empty slots over mem (size he_hist_table_size). */
void he_hist_table_format(void *mem, uint32_t nslots, uint64_t seed);
/* Checks a header found at the start of size bytes.  Returns 0, -EBADMSG
 * (not a table), -EPROTO (another version or slot size) or -EMSGSIZE (its
 * sizes disagree with each other or with size). */
int he_hist_header_check(const struct he_hist_header *h, size_t size);
/* Checks the header of a region of size bytes (he_hist_header_check) and
 * fills *t.  Returns 0 or its -errno. */
int he_hist_table_open(struct he_hist_table *t, void *mem, size_t size);

/* Finds key's slot (netid, addr, port and kind of key).  Returns 0 and
 * fills *out, or -ENOENT. */
int he_hist_table_get(const struct he_hist_table *t, const struct he_hist_entry *key,
                      struct he_hist_entry *out);
/* Updates key's slot with fn (which sees the current entry, or a zeroed
 * one carrying the key) or makes it, evicting the least recently used
 * slot of its window.  Returns 0, or -EBUSY when no slot could be had. */
typedef void (*he_hist_update_fn)(struct he_hist_entry *e, void *ctx);
int he_hist_table_update(struct he_hist_table *t, const struct he_hist_entry *key, uint32_t now_s,
                         he_hist_update_fn fn, void *ctx);
/* Calls fn for every readable entry (at most nslots). */
typedef void (*he_hist_walk_fn)(const struct he_hist_entry *e, void *ctx);
int he_hist_table_walk(const struct he_hist_table *t, he_hist_walk_fn fn, void *ctx);
/* Empties every slot that can be had now.  Returns how many were left. */
int he_hist_table_clear(struct he_hist_table *t, uint32_t now_s);

#endif
