/* fork_bind ROUNDS
 *
 * Two threads bind sockets with port 0 in a loop (libhe's bind() hook
 * takes a lock to remember them) while the main thread forks up to ROUNDS
 * times; each child binds once more and exits.  A lock inherited held would hang a
 * child for good, with every signal blocked: such a child is killed after
 * 2 s and counted.  Prints "result rounds=N hung=H"; exit 0 when none hung. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static volatile int stop;

static void bind_once(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s >= 0) {
        bind(s, (struct sockaddr *)&a, sizeof a);
        close(s);
    }
}

static void *binder(void *unused) {
    (void)unused;
    while (!stop) {
        bind_once();
    }
    return NULL;
}

/* Waits up to 2 s for pid; kills it after.  Returns 1 when it hung. */
static int reap(pid_t pid) {
    for (int i = 0; i < 2000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            return 0;
        }
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, binder, NULL);
    }
    int hung = 0;
    for (int i = 0; i < rounds && !hung; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            bind_once();
            _exit(0);
        }
        hung += pid > 0 && reap(pid);
    }
    stop = 1;
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    printf("result rounds=%d hung=%d\n", rounds, hung);
    return hung ? 1 : HE_EXIT_OK;
}
