/*
 * store_bench: weir::store against bare SQLite, in one run, on disk.
 *
 *   append:  weir_store_append (NOWAIT, group commit) of N events
 *            vs a prepared INSERT loop of the same rows, BEGIN/COMMIT
 *            every `batch` rows, same PRAGMAs, one row per step, SQLite's
 *            defaults otherwise: into weir's table as weir made it (its
 *            id and stream indexes; the peer leaves weir's per-block ts
 *            ranges alone) and into a plain table (rowid seq, no index).
 *            weir writes 32 rows per INSERT where a batch allows.
 *   replay:  weir_store_replay into a bus (emit to a no-op listener, and
 *            publish to a no-op subscription on a loop thread)
 *            vs a bare SELECT scan reading the same columns.
 *
 * Prints one JSON line per comparison (the median of --reps runs of each
 * side, the sides run in turn, with each side's fastest and slowest run;
 * appends are compared with a bare INSERT into weir's own schema and
 * into a plain event table without secondary indexes):
 * {"name":..., "events_per_s":..., "ns_per_event":..., "peer":...,
 *  "peer_events_per_s":..., "ratio":...}
 *
 * Usage: store_bench [--dir DIR] [--n N] [--batch B] [--reps R] [--smoke]
 * DIR defaults to /var/tmp; a tmpfs directory is refused (the point is
 * the disk).
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <weir/store.h>

#define TMPFS_MAGIC 0x01021994

typedef struct bench {
	const char  *dir;
	char         path[600];
	size_t       n;
	size_t       batch;
	int          reps;
	weir_event **evs;
} bench;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, detail);
	exit(1);
}

static void
remove_store(const bench *b)
{
	char p[700];
	unlink(b->path);
	snprintf(p, sizeof(p), "%s-wal", b->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", b->path);
	unlink(p);
}

static weir_store *
open_store(const bench *b, weir_store_durability d)
{
	weir_store_config *cfg;
	weir_store        *st;
	char               msg[256];
	weir_store_config_create(&cfg);
	weir_store_config_set_durability(cfg, d);
	weir_store_config_set_batch(cfg, b->batch, 8 * b->batch);
	if (weir_store_open(&st, b->path, cfg, msg, sizeof(msg)) != WEIR_OK) {
		die("open", msg);
	}
	weir_store_config_destroy(cfg);
	return st;
}

static void
make_events(bench *b)
{
	char payload[100];
	memset(payload, 'p', sizeof(payload));
	b->evs = calloc(b->n, sizeof(*b->evs));
	for (size_t i = 0; i < b->n; i++) {
		weir_event_init init = { .size = sizeof(weir_event_init),
			.topic                 = "bench.orders.created",
			.payload               = payload,
			.payload_len           = sizeof(payload) };
		if (weir_event_new(&b->evs[i], &init) != WEIR_OK) {
			die("event", "out of memory");
		}
	}
}

// ---- append ------------------------------------------------------------

static double
run_store_append(const bench *b, weir_store_durability d)
{
	remove_store(b);
	weir_store            *st  = open_store(b, d);
	weir_store_append_opts opt = { .size = sizeof(opt),
		.flags                       = WEIR_STORE_APPEND_NOWAIT };
	double                 t   = now_s();
	for (size_t i = 0; i < b->n; i++) {
		if (weir_store_append(st, b->evs[i], &opt, NULL, NULL) != 0) {
			die("append", weir_store_errmsg(st));
		}
	}
	if (weir_store_flush(st) != WEIR_OK) {
		die("flush", weir_store_errmsg(st));
	}
	t = now_s() - t;
	weir_store_destroy(st);
	return t;
}

static void
sql_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		die(sql, sqlite3_errmsg(db));
	}
}

static void
bind_row(sqlite3_stmt *s, const weir_event *ev, uint64_t seq)
{
	size_t      len;
	const void *p = weir_event_payload(ev, &len);
	sqlite3_bind_int64(s, 1, (sqlite3_int64) seq);
	sqlite3_bind_blob(s, 2, weir_event_id(ev), 16, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, weir_event_ts(ev));
	sqlite3_bind_text(s, 4, weir_event_topic(ev), -1, SQLITE_STATIC);
	sqlite3_bind_null(s, 5);
	sqlite3_bind_null(s, 6);
	sqlite3_bind_blob(s, 7, p, (int) len, SQLITE_STATIC);
	sqlite3_bind_null(s, 8);
	sqlite3_bind_null(s, 9);
}

// The plain event table of the second peer: the same columns, the seq
// as rowid, no other index or constraint.
#define PLAIN_TABLE                                                          \
	"CREATE TABLE events(seq INTEGER PRIMARY KEY, id BLOB, ts INTEGER, " \
	"topic TEXT, key BLOB, headers BLOB, payload BLOB, stream TEXT, "    \
	"version INTEGER)"

// The peers: the same PRAGMAs, one prepared INSERT, a COMMIT every
// `batch` rows, into weir's own table (made by weir, then closed) or,
// with @p plain, into a plain event table.
static double
run_bare_insert(const bench *b, weir_store_durability d, int plain)
{
	sqlite3      *db;
	sqlite3_stmt *s;
	remove_store(b);
	if (!plain) {
		weir_store_destroy(open_store(b, d));
	}
	if (sqlite3_open(b->path, &db) != SQLITE_OK) {
		die("sqlite open", b->path);
	}
	if (plain) {
		sql_exec(db, PLAIN_TABLE);
	}
	sql_exec(db,
	    d == WEIR_STORE_DURABILITY_FULL ? "PRAGMA synchronous=FULL"
	                                    : "PRAGMA synchronous=NORMAL");
	sql_exec(db, "PRAGMA journal_mode=WAL");
	sqlite3_prepare_v3(db,
	    "INSERT INTO events(seq,id,ts,topic,key,headers,payload,stream,"
	    "version) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
	    -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	double t = now_s();
	for (size_t i = 0; i < b->n; i++) {
		if (i % b->batch == 0) {
			sql_exec(db, "BEGIN IMMEDIATE");
		}
		bind_row(s, b->evs[i], i + 1);
		if (sqlite3_step(s) != SQLITE_DONE) {
			die("insert", sqlite3_errmsg(db));
		}
		sqlite3_reset(s);
		if (i % b->batch == b->batch - 1 || i == b->n - 1) {
			sql_exec(db, "COMMIT");
		}
	}
	t = now_s() - t;
	sqlite3_finalize(s);
	sqlite3_close(db);
	return t;
}

// ---- replay ------------------------------------------------------------

static weir_err
noop(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_OK;
}

static double
run_replay_emit(const bench *b)
{
	weir_bus   *bus;
	weir_store *st = open_store(b, WEIR_STORE_DURABILITY_NORMAL);
	uint64_t    n;
	weir_bus_create(&bus, NULL);
	weir_on(bus, ">", noop, NULL, NULL, 0, NULL);
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_EMIT,
		.bus                        = bus };
	double                 t  = now_s();
	if (weir_store_replay(st, &rp, &n) != WEIR_OK || n != b->n) {
		die("replay", weir_store_errmsg(st));
	}
	t = now_s() - t;
	weir_bus_destroy(bus);
	weir_store_destroy(st);
	return t;
}

typedef struct counter {
	weir_bus       *bus;
	size_t          want;
	size_t          got;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
} counter;

static weir_err
count_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	counter *c = arg;
	(void) ev;
	if (++c->got == c->want) {
		weir_bus_stop(bus);
	}
	return WEIR_OK;
}

static void *
loop_main(void *arg)
{
	counter *c = arg;
	weir_bus_run(c->bus, WEIR_RUN_DEFAULT);
	return NULL;
}

// Replay by publish: the subscription's loop runs on its own thread, as
// an application would run it; the time includes draining the queue.
static double
run_replay_publish(const bench *b)
{
	counter             c  = { .want = b->n };
	weir_store         *st = open_store(b, WEIR_STORE_DURABILITY_NORMAL);
	weir_subscr        *sub;
	weir_subscr_config *sc;
	pthread_t           th;
	uint64_t            n;
	weir_bus_create(&c.bus, NULL);
	weir_subscr_config_create(&sc);
	weir_subscr_config_set_capacity(sc, 4096);
	weir_subscribe(&sub, c.bus, ">", count_handler, &c, NULL, sc);
	weir_subscr_config_destroy(sc);
	pthread_create(&th, NULL, loop_main, &c);
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_PUBLISH,
		.bus                        = c.bus };
	double                 t  = now_s();
	if (weir_store_replay(st, &rp, &n) != WEIR_OK || n != b->n) {
		die("replay", weir_store_errmsg(st));
	}
	pthread_join(th, NULL);
	t = now_s() - t;
	weir_unsubscribe(sub);
	weir_bus_destroy(c.bus);
	weir_store_destroy(st);
	return t;
}

// The peer: one read-only connection stepping through the same select
// and reading every column a replay decodes.
static double
run_bare_select(const bench *b)
{
	sqlite3      *db;
	sqlite3_stmt *s;
	size_t        rows = 0, bytes = 0;
	sqlite3_open_v2(b->path, &db, SQLITE_OPEN_READONLY, NULL);
	double t = now_s();
	sqlite3_prepare_v2(db,
	    "SELECT seq,id,ts,topic,key,headers,payload,stream,version"
	    " FROM events WHERE seq BETWEEN 0 AND 9223372036854775807"
	    " ORDER BY seq",
	    -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW) {
		// Each column with its own type's accessor, as a replay does.
		int64_t sum = sqlite3_column_int64(s, 0) +
		    sqlite3_column_int64(s, 2) + sqlite3_column_int64(s, 8);
		(void) sqlite3_column_text(s, 3);
		(void) sqlite3_column_text(s, 7);
		for (int col = 4; col < 7; col++) {
			(void) sqlite3_column_blob(s, col);
			bytes += (size_t) sqlite3_column_bytes(s, col);
		}
		(void) sqlite3_column_blob(s, 1);
		bytes += (size_t) sqlite3_column_bytes(s, 1) + (sum != 0);
		rows++;
	}
	sqlite3_finalize(s);
	t = now_s() - t;
	sqlite3_close(db);
	if (rows != b->n || bytes == 0) {
		die("select", "wrong row count");
	}
	return t;
}

// ---- driver ------------------------------------------------------------

typedef double (*run_fn)(const bench *b);

#define MAX_REPS 32

// The runs of one side: median and range, in seconds per run.
typedef struct runs {
	double t[MAX_REPS];
	int    n;
} runs;

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return (x > y) - (x < y);
}

static double
runs_median(runs *r)
{
	qsort(r->t, (size_t) r->n, sizeof(double), cmp_double);
	return r->t[r->n / 2];
}

// How weir was linked into this program (bench/build_label.cmake).
#ifndef WEIR_BENCH_BUILD
#define WEIR_BENCH_BUILD "app"
#endif

// Medians of the interleaved runs, with the range of each side.
static void
report(const bench *b, const char *name, runs *w, const char *peer, runs *p)
{
	double t = runs_median(w), pt = runs_median(p);
	double eps = (double) b->n / t, peps = (double) b->n / pt;
	double k = 1e9 / (double) b->n;
	printf("{\"name\":\"%s\",\"build\":\"%s\",\"events_per_s\":%.0f,"
	       "\"ns_per_event\":%.1f,\"ns_min\":%.1f,\"ns_max\":%.1f,"
	       "\"peer\":\"%s\",\"peer_events_per_s\":%.0f,"
	       "\"peer_ns_per_event\":%.1f,\"peer_ns_min\":%.1f,"
	       "\"peer_ns_max\":%.1f,\"ratio\":%.3f,\"n\":%zu,\"batch\":%zu,"
	       "\"reps\":%d}\n",
	    name, WEIR_BENCH_BUILD, eps, t * k, w->t[0] * k,
	    w->t[w->n - 1] * k, peer, peps, pt * k, p->t[0] * k,
	    p->t[p->n - 1] * k, eps / peps, b->n, b->batch, w->n);
	fflush(stdout);
}

// Appends against both bare inserts, the three in turn each round so a
// phase of the machine hits all alike; reports medians, never the best.
static void
compare_append(const bench *b, weir_store_durability d, const char *name,
    const char *peer, const char *plain_peer)
{
	runs w = { .n = b->reps }, p = { .n = b->reps }, q = { .n = b->reps };
	for (int r = 0; r < b->reps; r++) {
		w.t[r] = run_store_append(b, d);
		p.t[r] = run_bare_insert(b, d, 0);
		q.t[r] = run_bare_insert(b, d, 1);
		fprintf(stderr, "  %s round %d: %.0f %.0f %.0f ns/event\n",
		    name, r + 1, w.t[r] * 1e9 / (double) b->n,
		    p.t[r] * 1e9 / (double) b->n,
		    q.t[r] * 1e9 / (double) b->n);
	}
	runs w2 = w;
	report(b, name, &w, peer, &p);
	report(b, name, &w2, plain_peer, &q);
}

static void
compare_replay(const bench *b, run_fn fn, const char *name)
{
	runs w = { .n = b->reps }, p = { .n = b->reps };
	for (int r = 0; r < b->reps; r++) {
		w.t[r] = fn(b);
		p.t[r] = run_bare_select(b);
	}
	report(b, name, &w, "sqlite_select_scan", &p);
}

static void
parse_args(bench *b, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i],
		           *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--smoke") == 0) {
			b->n    = 2000;
			b->reps = 1;
		} else if (strcmp(a, "--dir") == 0 && v) {
			b->dir = argv[++i];
		} else if (strcmp(a, "--n") == 0 && v) {
			b->n = strtoul(argv[++i], NULL, 10);
		} else if (strcmp(a, "--batch") == 0 && v) {
			b->batch = strtoul(argv[++i], NULL, 10);
		} else if (strcmp(a, "--reps") == 0 && v) {
			b->reps = atoi(argv[++i]);
		} else {
			die("usage",
			    "store_bench [--dir DIR] [--n N] [--batch B] "
			    "[--reps R] [--smoke]");
		}
	}
	if (b->n == 0 || b->batch == 0 || b->reps <= 0 || b->reps > MAX_REPS) {
		die("usage", "n, batch and reps must be positive");
	}
}

int
main(int argc, char **argv)
{
	bench b = { .dir = "/var/tmp", .n = 200000, .batch = 1024, .reps = 3 };
	struct statfs fs;
	char          dir[520];
	parse_args(&b, argc, argv);
	if (statfs(b.dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
		die(b.dir, "is tmpfs; give --dir on a real disk");
	}
	snprintf(dir, sizeof(dir), "%s/weir-bench-XXXXXX", b.dir);
	if (mkdtemp(dir) == NULL) {
		die("mkdtemp", dir);
	}
	snprintf(b.path, sizeof(b.path), "%s/bench.db", dir);
	fprintf(stderr,
	    "store_bench: %zu events of 100 bytes, batch %zu, "
	    "median of %d, in %s (SQLite %s)\n",
	    b.n, b.batch, b.reps, dir, sqlite3_libversion());
	make_events(&b);
	compare_append(&b, WEIR_STORE_DURABILITY_NORMAL, "store_append_normal",
	    "sqlite_insert_loop_normal", "sqlite_insert_plain_normal");
	compare_append(&b, WEIR_STORE_DURABILITY_FULL, "store_append_full",
	    "sqlite_insert_loop_full", "sqlite_insert_plain_full");
	// The log left by the last append run feeds the replays.
	run_store_append(&b, WEIR_STORE_DURABILITY_NORMAL);
	compare_replay(&b, run_replay_emit, "store_replay_emit");
	compare_replay(&b, run_replay_publish, "store_replay_publish");
	remove_store(&b);
	rmdir(dir);
	for (size_t i = 0; i < b.n; i++) {
		weir_event_release(b.evs[i]);
	}
	free(b.evs);
	return 0;
}
