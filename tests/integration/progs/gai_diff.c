/* gai_diff QUERY... | gai_diff @FILE | gai_diff -
 *
 * Asks the resolver functions a list of questions and prints a canonical
 * dump of every answer, so that two runs (plain glibc, and libhe answering
 * with HE_RESOLVE=cares) can be compared with diff.  Each argument is one
 * query, @FILE reads one query per line from FILE and - from stdin; empty
 * lines and lines starting with # are skipped.  A query is
 *
 *   gai NAME SERVICE FAMILY SOCKTYPE FLAGS
 *       getaddrinfo.  NAME and SERVICE may be - for NULL.  FAMILY is
 *       UNSPEC, INET or INET6; SOCKTYPE 0, STREAM, DGRAM or RAW; FLAGS 0 or
 *       AI_ names without the prefix joined by |: PASSIVE, CANONNAME,
 *       NUMERICHOST, NUMERICSERV, V4MAPPED, ALL, ADDRCONFIG.
 *   ghbn NAME              gethostbyname
 *   ghbn2 NAME FAMILY      gethostbyname2 (FAMILY INET or INET6)
 *   ghbn_r NAME            gethostbyname_r
 *   ghbn2_r NAME FAMILY    gethostbyname2_r
 *
 * Output: the query after "> ", then for getaddrinfo one line per entry,
 * "  FAMILY SOCKTYPE PROTOCOL ADDRESS PORT" (plus " canon=NAME" where
 * ai_canonname is set), or "  EAI_xxx" (with errno's name for EAI_SYSTEM);
 * for the gethostbyname family "  name=H_NAME type=FAMILY length=N",
 * "  alias NAME" and "  addr ADDRESS" lines, or "  h_errno=xxx" (and the
 * _r functions' return value, "  rc=N", when it is not 0).
 *
 * Exit status 0 whatever the answers; 2 for a query it cannot parse. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_TOKENS 8

struct name_val {
    const char *name;
    int val;
};

static const struct name_val families[] = {
    {"UNSPEC", AF_UNSPEC}, {"INET", AF_INET}, {"INET6", AF_INET6}, {NULL, 0}};
static const struct name_val socktypes[] = {
    {"0", 0}, {"STREAM", SOCK_STREAM}, {"DGRAM", SOCK_DGRAM}, {"RAW", SOCK_RAW}, {NULL, 0}};
static const struct name_val ai_flags[] = {
    {"PASSIVE", AI_PASSIVE},         {"CANONNAME", AI_CANONNAME},
    {"NUMERICHOST", AI_NUMERICHOST}, {"NUMERICSERV", AI_NUMERICSERV},
    {"V4MAPPED", AI_V4MAPPED},       {"ALL", AI_ALL},
    {"ADDRCONFIG", AI_ADDRCONFIG},   {NULL, 0}};
static const struct name_val eai_codes[] = {{"EAI_BADFLAGS", EAI_BADFLAGS},
                                            {"EAI_NONAME", EAI_NONAME},
                                            {"EAI_AGAIN", EAI_AGAIN},
                                            {"EAI_FAIL", EAI_FAIL},
                                            {"EAI_FAMILY", EAI_FAMILY},
                                            {"EAI_SOCKTYPE", EAI_SOCKTYPE},
                                            {"EAI_SERVICE", EAI_SERVICE},
                                            {"EAI_MEMORY", EAI_MEMORY},
                                            {"EAI_SYSTEM", EAI_SYSTEM},
                                            {"EAI_OVERFLOW", EAI_OVERFLOW},
                                            {"EAI_NODATA", EAI_NODATA},
                                            {"EAI_ADDRFAMILY", EAI_ADDRFAMILY},
                                            {"EAI_INPROGRESS", EAI_INPROGRESS},
                                            {"EAI_CANCELED", EAI_CANCELED},
                                            {"EAI_NOTCANCELED", EAI_NOTCANCELED},
                                            {"EAI_ALLDONE", EAI_ALLDONE},
                                            {"EAI_INTR", EAI_INTR},
                                            {"EAI_IDN_ENCODE", EAI_IDN_ENCODE},
                                            {NULL, 0}};
static const struct name_val h_errnos[] = {{"HOST_NOT_FOUND", HOST_NOT_FOUND},
                                           {"TRY_AGAIN", TRY_AGAIN},
                                           {"NO_RECOVERY", NO_RECOVERY},
                                           {"NO_DATA", NO_DATA},
                                           {"NETDB_INTERNAL", NETDB_INTERNAL},
                                           {"NETDB_SUCCESS", NETDB_SUCCESS},
                                           {NULL, 0}};

static int lookup(const struct name_val *t, const char *name, int *val) {
    for (; t->name != NULL; t++) {
        if (strcmp(t->name, name) == 0) {
            *val = t->val;
            return 0;
        }
    }
    return -1;
}

/* The table's name for val, or the number in buf. */
static const char *name_of(const struct name_val *t, int val, char *buf, size_t len) {
    for (; t->name != NULL; t++) {
        if (t->val == val) {
            return t->name;
        }
    }
    snprintf(buf, len, "%d", val);
    return buf;
}

static int parse_flags(const char *s, int *flags) {
    char copy[256];
    *flags = 0;
    if (strcmp(s, "0") == 0) {
        return 0;
    }
    snprintf(copy, sizeof copy, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(copy, "|", &save); tok != NULL; tok = strtok_r(NULL, "|", &save)) {
        int f;
        if (lookup(ai_flags, tok, &f) != 0) {
            return -1;
        }
        *flags |= f;
    }
    return 0;
}

static const char *null_if_dash(const char *s) {
    return strcmp(s, "-") == 0 ? NULL : s;
}

static void print_sockaddr(const struct sockaddr *sa) {
    char addr[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
        printf("%s %u", addr, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
        printf("%s %u", addr, ntohs(in6->sin6_port));
        if (in6->sin6_flowinfo != 0 || in6->sin6_scope_id != 0) {
            printf(" flowinfo=%u scope=%u", in6->sin6_flowinfo, in6->sin6_scope_id);
        }
    } else {
        printf("family-%d", sa->sa_family);
    }
}

static int do_gai(char **tok, int n) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    if (n != 6 || lookup(families, tok[3], &hints.ai_family) != 0 ||
        lookup(socktypes, tok[4], &hints.ai_socktype) != 0 ||
        parse_flags(tok[5], &hints.ai_flags) != 0) {
        return -1;
    }
    struct addrinfo *res = NULL;
    errno = 0;
    int rc = getaddrinfo(null_if_dash(tok[1]), null_if_dash(tok[2]), &hints, &res);
    char buf[32];
    if (rc != 0) {
        printf("  %s", name_of(eai_codes, rc, buf, sizeof buf));
        if (rc == EAI_SYSTEM) {
            printf(" errno=%s", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
        }
        printf("\n");
        return 0;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        char b1[32], b2[32];
        printf("  %s %s %d ", name_of(families, ai->ai_family, b1, sizeof b1),
               name_of(socktypes, ai->ai_socktype, b2, sizeof b2), ai->ai_protocol);
        if (ai->ai_addr == NULL) {
            printf("no-address");
        } else {
            print_sockaddr(ai->ai_addr);
            if ((ai->ai_family == AF_INET && ai->ai_addrlen != sizeof(struct sockaddr_in)) ||
                (ai->ai_family == AF_INET6 && ai->ai_addrlen != sizeof(struct sockaddr_in6))) {
                printf(" addrlen=%u", (unsigned)ai->ai_addrlen);
            }
        }
        if (ai->ai_canonname != NULL) {
            printf(" canon=%s", ai->ai_canonname);
        }
        printf("\n");
    }
    freeaddrinfo(res);
    return 0;
}

static void print_hostent(const struct hostent *h, int rc, int herr) {
    char buf[32];
    if (rc != 0) {
        printf("  rc=%s\n", strerrorname_np(rc) ? strerrorname_np(rc) : "?");
    }
    if (h == NULL) {
        printf("  h_errno=%s\n", name_of(h_errnos, herr, buf, sizeof buf));
        return;
    }
    printf("  name=%s type=%s length=%d\n", h->h_name ? h->h_name : "(null)",
           name_of(families, h->h_addrtype, buf, sizeof buf), h->h_length);
    for (char **a = h->h_aliases; a != NULL && *a != NULL; a++) {
        printf("  alias %s\n", *a);
    }
    for (char **a = h->h_addr_list; a != NULL && *a != NULL; a++) {
        char addr[INET6_ADDRSTRLEN];
        if ((h->h_addrtype == AF_INET || h->h_addrtype == AF_INET6) &&
            inet_ntop(h->h_addrtype, *a, addr, sizeof addr) != NULL) {
            printf("  addr %s\n", addr);
        } else {
            printf("  addr ?\n");
        }
    }
}

static int do_ghbn(char **tok, int n) {
    int family = AF_INET;
    int two = strncmp(tok[0], "ghbn2", 5) == 0;
    int reentrant = strstr(tok[0], "_r") != NULL;
    if (n != (two ? 3 : 2) || (two && lookup(families, tok[2], &family) != 0)) {
        return -1;
    }
    if (!reentrant) {
        h_errno = 0;
        struct hostent *h = two ? gethostbyname2(tok[1], family) : gethostbyname(tok[1]);
        print_hostent(h, 0, h_errno);
        return 0;
    }
    struct hostent he, *h = NULL;
    char buf[8192];
    int herr = 0;
    int rc = two ? gethostbyname2_r(tok[1], family, &he, buf, sizeof buf, &h, &herr)
                 : gethostbyname_r(tok[1], &he, buf, sizeof buf, &h, &herr);
    print_hostent(h, rc, herr);
    return 0;
}

/* Runs one query line; -1 if it does not parse. */
static int query(const char *line) {
    char copy[1024];
    char *tok[MAX_TOKENS];
    int n = 0;
    snprintf(copy, sizeof copy, "%s", line);
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t\r\n", &save); t != NULL && n < MAX_TOKENS;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        tok[n++] = t;
    }
    if (n == 0 || tok[0][0] == '#') {
        return 0;
    }
    printf(">");
    for (int i = 0; i < n; i++) {
        printf(" %s", tok[i]);
    }
    printf("\n");
    int rc = -1;
    if (strcmp(tok[0], "gai") == 0) {
        rc = do_gai(tok, n);
    } else if (strcmp(tok[0], "ghbn") == 0 || strcmp(tok[0], "ghbn2") == 0 ||
               strcmp(tok[0], "ghbn_r") == 0 || strcmp(tok[0], "ghbn2_r") == 0) {
        rc = do_ghbn(tok, n);
    }
    fflush(stdout);
    if (rc != 0) {
        fprintf(stderr, "gai_diff: cannot parse query '%s'\n", line);
    }
    return rc;
}

static int query_file(FILE *f) {
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL) {
        if (query(line) != 0) {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gai_diff QUERY... | @FILE | -\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        int rc;
        if (strcmp(argv[i], "-") == 0) {
            rc = query_file(stdin);
        } else if (argv[i][0] == '@') {
            FILE *f = fopen(argv[i] + 1, "r");
            if (f == NULL) {
                perror(argv[i] + 1);
                return 2;
            }
            rc = query_file(f);
            fclose(f);
        } else {
            rc = query(argv[i]);
        }
        if (rc != 0) {
            return 2;
        }
    }
    return 0;
}
