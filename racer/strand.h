/* Per-thread record of the race in progress, so that what a race leaves
 * behind when a signal handler siglongjmps out of connect() (wget's
 * --connect-timeout does) is reaped on the thread's next entry into libhe.
 *
 * The record also tells a hook that it runs nested inside a race (a signal
 * handler called connect() while the race waited): nested calls never race. */
#ifndef HE_STRAND_H
#define HE_STRAND_H

#include <stdint.h>

/* The real close(2), used to reap. */
typedef int (*he_close_fn)(int fd);

extern __thread int he_strand_active __attribute__((tls_model("initial-exec")));

/* Starts the record for a race on caller_fd, whose status flags were fl;
 * frame is the address of a local in the hook that runs the race. */
void he_strand_begin(uintptr_t frame, int caller_fd, int fl);
/* Notes the caller socket's identity, so that its flags can be restored. */
void he_strand_note_caller(void);
/* Notes the thread's signal mask before the race first blocks: a signal
 * handler that runs on top of the race has its signal blocked, which is how
 * a nested call is told from a later one after a siglongjmp. */
void he_strand_note_mask(void);
/* Whether the race begun on this thread is still the one on record (0 when
 * a call made while it waited found it abandoned and reaped it: its sockets
 * are no longer the race's to touch). */
int he_strand_current(unsigned gen);
/* The record's generation, taken when the race begins. */
unsigned he_strand_gen(void);
/* A sibling socket was opened / is being closed by the race itself. */
void he_strand_add(int fd);
void he_strand_del(int fd);
/* The race returned normally. */
void he_strand_end(void);

/* Called at hook entry when he_strand_active is set.  Returns 1 when the
 * call is nested inside the race (pass it through), 0 when the race was
 * abandoned and has now been reaped: sibling sockets that are still ours
 * closed, the caller's socket given back its flags. */
int he_strand_check(uintptr_t frame, he_close_fn real_close);

/* Reaps the record now: closes the siblings that are still ours and gives
 * the caller's socket its flags back.  Also the pthread_cancel cleanup of a
 * race (poll(2) is a cancellation point). */
void he_strand_reap(he_close_fn real_close);

/* Whether the caller's fd no longer holds the socket noted by
 * he_strand_note_caller (0 when it does, or when nothing was noted). */
int he_strand_caller_replaced(void);
#endif
