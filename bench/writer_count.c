/*
 * writer_count: the store writer's instructions per append, for
 * `valgrind --tool=callgrind --separate-threads=yes` (not a timing
 * bench: it prints nothing but what it did).
 *
 * The writer is held inside a call (weir__writer_call) while the main
 * thread queues N appends without waiting, then let go, so its batches
 * are full (max_batch, 1024) whatever valgrind's thread scheduling does:
 * the count is the writer's steady state, deterministic run to run.
 *
 * usage: writer_count [--inbox] [--normal] [--dup K] [--trimmed K] [--n N]
 *                     [--dir DIR]
 *   --inbox   inbox appends (the inbound bridge's path), else plain ones
 *   --dup K   with --inbox: every K-th append repeats an earlier id
 *   --trimmed K  first (by an earlier writer, in a thread of its own) K
 *             inbox appends trimmed from the log, so that the inbox has
 *             K rows: the path that looks ids up there
 * Events: topic "in.orders", a 36-byte ce_id-like header, 64-byte
 * payload, UUIDv7 ids (as the Kafka inbound bench's producer makes).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weir/store.h>

#include "store/inbox.h"
#include "store/writer.h"

typedef struct gate {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	int             entered;
	int             open;
} gate;

static gate g_gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
	0 };

static weir_err
gate_call(weir_store *st, sqlite3 *db, void *arg)
{
	gate *g = arg;
	(void) st;
	(void) db;
	pthread_mutex_lock(&g->mu);
	g->entered = 1;
	pthread_cond_broadcast(&g->cv);
	while (!g->open) {
		pthread_cond_wait(&g->cv, &g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return WEIR_OK;
}

static void *
gate_thread(void *arg)
{
	(void) weir__writer_call(arg, gate_call, &g_gate);
	return NULL;
}

static void
die(const char *what)
{
	fprintf(stderr, "writer_count: %s\n", what);
	exit(1);
}

static weir_event *make_event(const weir_event *like);

// Leaves @p k ids in the inbox of the store at @p path: inbox appends,
// then a trim that moves their ids there. Its own open, so its writer
// is another thread (another callgrind file) than the one measured.
static void
fill_inbox(const char *path, size_t k)
{
	weir_store *st;
	char        why[256];
	uint64_t    last = 0;
	if (weir_store_open(&st, path, NULL, why, sizeof why) != WEIR_OK) {
		die(why);
	}
	for (size_t i = 0; i < k; i++) {
		weir_event *ev = make_event(NULL);
		if (weir__store_inbox_append(st, ev, NULL, NULL) != WEIR_OK) {
			die("inbox append");
		}
		weir_event_release(ev);
	}
	weir_store_flush(st);
	weir_store_last_seq(st, &last);
	if (weir_store_trim(st, last + 1, 0, NULL) != WEIR_OK) {
		die("trim");
	}
	weir_store_destroy(st);
}

static weir_event *
make_event(const weir_event *like)
{
	static const char payload[65] = "0123456789abcdef0123456789abcdef"
	                                "0123456789abcdef0123456789abcdef";
	static const char ce[]        = "0190f5e2-7b3c-7a11-8000-0123456789ab";
	weir_header       h  = { .name = "ce_id", .value = ce, .len = 36 };
	weir_event_init   in = { .size = sizeof in,
		  .topic               = "in.orders",
		  .payload             = payload,
		  .payload_len         = 64,
		  .headers             = &h,
		  .header_count        = 1,
		  .id = like != NULL ? weir_event_id(like) : NULL };
	weir_event       *ev;
	if (weir_event_new(&ev, &in) != WEIR_OK) {
		die("event");
	}
	return ev;
}

int
main(int argc, char **argv)
{
	size_t      n = 20000, dup = 0, trimmed = 0;
	int         inbox = 0, normal = 0;
	const char *dir = "/var/tmp";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--inbox")) {
			inbox = 1;
		} else if (!strcmp(argv[i], "--normal")) {
			normal = 1;
		} else if (!strcmp(argv[i], "--n") && i + 1 < argc) {
			n = (size_t) atol(argv[++i]);
		} else if (!strcmp(argv[i], "--dup") && i + 1 < argc) {
			dup = (size_t) atol(argv[++i]);
		} else if (!strcmp(argv[i], "--trimmed") && i + 1 < argc) {
			trimmed = (size_t) atol(argv[++i]);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			die("usage: [--inbox] [--normal] [--dup K] "
			    "[--trimmed K] [--n N] [--dir DIR]");
		}
	}
	char path[600];
	snprintf(path, sizeof path, "%s/writer_count_%d.db", dir, getpid());
	if (trimmed > 0) { // before the events: their ids come after
		fill_inbox(path, trimmed);
	}
	weir_event **evs = calloc(n, sizeof *evs);
	for (size_t i = 0; i < n; i++) {
		evs[i] =
		    make_event(dup && i % dup == dup - 1 ? evs[i / 2] : NULL);
	}
	weir_store_config *cfg;
	weir_store        *st;
	char               why[256];
	weir_store_config_create(&cfg);
	weir_store_config_set_durability(cfg,
	    normal ? WEIR_STORE_DURABILITY_NORMAL
	           : WEIR_STORE_DURABILITY_FULL);
	weir_store_config_set_batch(cfg, 1024, n + 16);
	if (weir_store_open(&st, path, cfg, why, sizeof why) != WEIR_OK) {
		die(why);
	}
	weir_store_config_destroy(cfg);
	pthread_t t;
	pthread_create(&t, NULL, gate_thread, st);
	pthread_mutex_lock(&g_gate.mu);
	while (!g_gate.entered) {
		pthread_cond_wait(&g_gate.cv, &g_gate.mu);
	}
	pthread_mutex_unlock(&g_gate.mu);
	weir_store_append_opts o = { .size = sizeof o,
		.flags                     = WEIR_STORE_APPEND_NOWAIT };
	for (size_t i = 0; i < n; i++) {
		weir_err rv = inbox
		    ? weir__store_inbox_append(st, evs[i], NULL, NULL)
		    : weir_store_append(st, evs[i], &o, NULL, NULL);
		if (rv != WEIR_OK) {
			die(weir_err_name(rv));
		}
	}
	pthread_mutex_lock(&g_gate.mu);
	g_gate.open = 1;
	pthread_cond_broadcast(&g_gate.cv);
	pthread_mutex_unlock(&g_gate.mu);
	pthread_join(t, NULL);
	weir_store_flush(st);
	uint64_t last = 0;
	weir_store_last_seq(st, &last);
	printf("{\"appends\":%zu,\"inbox\":%d,\"logged\":%llu}\n", n, inbox,
	    (unsigned long long) last);
	weir_store_destroy(st);
	for (size_t i = 0; i < n; i++) {
		weir_event_release(evs[i]);
	}
	free(evs);
	const char *sfx[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		char p[620];
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
	}
	return 0;
}
