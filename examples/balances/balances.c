// balances: event sourcing with weir. Account events (deposits and
// withdrawals) are published on a bus; a subscriber keeps the live read
// model (each account's balance) while the store logs every event. Then
// the model is rebuilt from the log alone, by replaying it through the
// same handler, and the two are compared: any difference exits 1.
//
//   balances [-n EVENTS] [-s STORE] [--save FILE]   the live run and check
//   balances --rebuild -s STORE [--expect FILE]      rebuild an existing log
//
// Topics are bank.<account>.deposit and bank.<account>.withdraw; the
// payload is the amount in cents as decimal text. A withdrawal larger
// than the balance is refused, so the model depends on the order of the
// events, and the check tests that the log kept it.
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weir/store.h>
#include <weir/weir.h>

#define MAX_ACCOUNTS 64

// The read model.
typedef struct model {
	char     name[MAX_ACCOUNTS][32];
	int64_t  balance[MAX_ACCOUNTS]; // cents
	size_t   n;
	uint64_t applied; // events seen
	uint64_t refused; // withdrawals refused (not enough money)
	uint64_t stop_at; // live run: stop the bus after this many events
} model;

static int64_t *
model_account(model *m, const char *name, size_t len)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strlen(m->name[i]) == len &&
		    memcmp(m->name[i], name, len) == 0) {
			return &m->balance[i];
		}
	}
	if (m->n == MAX_ACCOUNTS || len >= sizeof(m->name[0])) {
		return NULL;
	}
	memcpy(m->name[m->n], name, len);
	m->name[m->n][len] = '\0';
	m->balance[m->n]   = 0;
	return &m->balance[m->n++];
}

static int64_t
amount_of(const weir_event *ev)
{
	char        buf[32];
	size_t      len;
	const char *p = weir_event_payload(ev, &len);
	if (len >= sizeof(buf)) {
		return -1;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	return strtoll(buf, NULL, 10);
}

// The one handler that applies an event to a model: the live
// subscription and the rebuild both use it, which is the point of event
// sourcing (the state is a function of the log).
static weir_err
model_apply(weir_bus *bus, const weir_event *ev, void *arg)
{
	model      *m     = arg;
	const char *acct  = weir_event_topic(ev) + strlen("bank.");
	const char *kind  = strchr(acct, '.');
	int64_t     cents = amount_of(ev);
	int64_t    *bal;
	if (kind == NULL || cents < 0 ||
	    (bal = model_account(m, acct, (size_t) (kind - acct))) == NULL) {
		return WEIR_EINVAL;
	}
	if (strcmp(kind, ".deposit") == 0) {
		*bal += cents;
	} else if (strcmp(kind, ".withdraw") != 0) {
		return WEIR_EINVAL;
	} else if (*bal >= cents) {
		*bal -= cents;
	} else {
		m->refused++;
	}
	if (++m->applied == m->stop_at) {
		weir_bus_stop(bus);
	}
	return WEIR_OK;
}

static const int64_t *
model_find(const model *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->name[i], name) == 0) {
			return &m->balance[i];
		}
	}
	return NULL;
}

// Compares @p got with @p want account by account; prints each
// difference. Returns the number of differences.
static int
model_diff(const model *want, const model *got, const char *what)
{
	int bad = 0;
	for (size_t i = 0; i < want->n; i++) {
		const int64_t *b = model_find(got, want->name[i]);
		if (b == NULL || *b != want->balance[i]) {
			printf("mismatch: %s: %s %" PRId64 ", rebuilt %s\n",
			    want->name[i], what, want->balance[i],
			    b ? "differs" : "missing");
			bad++;
		}
	}
	for (size_t i = 0; i < got->n; i++) {
		if (model_find(want, got->name[i]) == NULL) {
			printf("mismatch: %s: only in the rebuilt model\n",
			    got->name[i]);
			bad++;
		}
	}
	return bad;
}

static void
model_print(const model *live, const model *rebuilt, const char *what)
{
	printf("%-10s %12s %12s\n", "account", what, "rebuilt");
	for (size_t i = 0; i < rebuilt->n; i++) {
		const int64_t *b      = model_find(live, rebuilt->name[i]);
		char           lv[32] = "-";
		if (b != NULL) {
			snprintf(lv, sizeof(lv), "%" PRId64 ".%02" PRId64,
			    *b / 100, *b % 100);
		}
		printf("%-10s %12s %9" PRId64 ".%02" PRId64 "\n",
		    rebuilt->name[i], lv, rebuilt->balance[i] / 100,
		    rebuilt->balance[i] % 100);
	}
}

// Rebuilds @p m from the log: every bank.> event from @p from_seq on,
// in seq order, emitted on a bus of its own to model_apply.
static weir_err
rebuild(weir_store *st, uint64_t from_seq, model *m, uint64_t *count)
{
	weir_bus *bus;
	weir_err  rv = weir_bus_create(&bus, NULL);
	if (rv != WEIR_OK) {
		return rv;
	}
	weir_store_filter f       = WEIR_STRUCT_INIT(weir_store_filter);
	f.from_seq                = from_seq;
	f.pattern                 = "bank.>";
	weir_store_replay_opts rp = WEIR_STRUCT_INIT(weir_store_replay_opts);
	rp.filter                 = &f;
	rp.target                 = WEIR_STORE_REPLAY_EMIT;
	rp.bus                    = bus;
	rv = weir_on(bus, "bank.>", model_apply, m, NULL, 0, NULL);
	if (rv == WEIR_OK) {
		rv = weir_store_replay(st, &rp, count);
	}
	weir_bus_destroy(bus);
	return rv;
}

// The service: publishes @p n account events from its own thread.
typedef struct producer {
	weir_bus *bus;
	uint64_t  n;
	uint32_t  seed;
	weir_err  rv;
} producer;

static void *
producer_main(void *arg)
{
	static const char *const names[] = { "alice", "bob", "carol", "dave",
		"erin", "frank", "grace", "heidi" };
	producer                *p       = arg;
	uint32_t                 x       = p->seed ? p->seed : 1;
	for (uint64_t i = 0; i < p->n && p->rv == WEIR_OK; i++) {
		char topic[64], body[32];
		x ^= x << 13, x ^= x >> 17, x ^= x << 5; // xorshift32
		snprintf(topic, sizeof(topic), "bank.%s.%s", names[x % 8],
		    (x >> 8) % 3 == 0 ? "withdraw" : "deposit");
		int len = snprintf(
		    body, sizeof(body), "%" PRIu32, 100 + (x >> 12) % 50000);
		p->rv =
		    weir_publish(p->bus, topic, body, (size_t) len, 0, NULL);
	}
	if (p->rv != WEIR_OK) {
		weir_bus_stop(p->bus); // the model will not see them all
	}
	return NULL;
}

// The live run: the producer publishes, a subscriber keeps @p live,
// the store logs every event (from seq *first on). Returns what went
// wrong, or WEIR_OK once all @p n events are in the model and the log.
static weir_err
live_run(weir_store *st, uint64_t n, model *live, uint64_t *first)
{
	weir_bus              *bus;
	weir_subscr           *sub;
	weir_store_attachment *att = NULL;
	producer               p   = { .n = n, .seed = 2463534242u };
	pthread_t              th;
	uint64_t               last = 0;
	weir_err               rv   = weir_store_last_seq(st, &last);
	if (rv != WEIR_OK || (rv = weir_bus_create(&bus, NULL)) != WEIR_OK) {
		return rv;
	}
	*first = last + 1;
	p.bus  = bus;
	if ((rv = weir_subscribe(&sub, bus, "bank.>", model_apply, live, NULL,
	         NULL)) == WEIR_OK &&
	    (rv = weir_store_attach(&att, st, bus, "bank.>", NULL)) ==
	        WEIR_OK &&
	    pthread_create(&th, NULL, producer_main, &p) == 0) {
		live->stop_at = n;
		weir_bus_run(
		    bus, WEIR_RUN_DEFAULT); // the subscriber runs here
		pthread_join(th, NULL);
		rv = p.rv;
	}
	weir_store_detach(att); // logs what is still queued
	weir_bus_destroy(bus);
	if (rv == WEIR_OK && live->applied != n) {
		rv = WEIR_EINTERNAL;
	}
	return rv == WEIR_OK ? weir_store_flush(st) : rv;
}

// An expected model: one "account cents" line per account.
static int
model_load(model *m, const char *path)
{
	FILE   *f = fopen(path, "r");
	char    name[32];
	int64_t cents;
	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fscanf(f, "%31s %" SCNd64, name, &cents) == 2) {
		int64_t *b = model_account(m, name, strlen(name));
		if (b != NULL) {
			*b = cents;
		}
	}
	fclose(f);
	return 0;
}

static int
model_save(const model *m, const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	for (size_t i = 0; i < m->n; i++) {
		fprintf(f, "%s %" PRId64 "\n", m->name[i], m->balance[i]);
	}
	return fclose(f) == 0 ? 0 : -1;
}

typedef struct opts {
	uint64_t    n;
	const char *store;
	const char *save;
	const char *expect;
	int         rebuild;
} opts;

static int
usage(void)
{
	fprintf(stderr,
	    "usage: balances [-n EVENTS] [-s STORE] [--save FILE]\n"
	    "       balances --rebuild -s STORE [--expect FILE]\n");
	return 2;
}

static int
opts_parse(opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i],
		           *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--rebuild") == 0) {
			o->rebuild = 1;
			continue;
		}
		if (v == NULL) {
			return -1;
		}
		if (strcmp(a, "-n") == 0) {
			o->n = strtoull(v, NULL, 10);
		} else if (strcmp(a, "-s") == 0) {
			o->store = v;
		} else if (strcmp(a, "--save") == 0) {
			o->save = v;
		} else if (strcmp(a, "--expect") == 0) {
			o->expect = v;
		} else {
			return -1;
		}
		i++;
	}
	return o->n == 0 || (o->rebuild && o->store == NULL) ? -1 : 0;
}

// Rebuilds the whole log of @p st and compares it with --expect.
static int
rebuild_only(weir_store *st, const opts *o)
{
	model    want = { 0 }, got = { 0 };
	uint64_t count;
	weir_err rv = rebuild(st, 1, &got, &count);
	if (rv != WEIR_OK) {
		fprintf(stderr, "balances: rebuild: %s\n", weir_strerror(rv));
		return 1;
	}
	printf("rebuilt: %" PRIu64 " events replayed from %s (%" PRIu64
	       " withdrawals refused)\n",
	    count, o->store, got.refused);
	if (o->expect != NULL && model_load(&want, o->expect) != 0) {
		return 1;
	}
	model_print(&want, &got, o->expect ? "expected" : "-");
	if (o->expect == NULL) {
		return 0;
	}
	if (model_diff(&want, &got, "expected") != 0) {
		printf("model check FAILED: the log does not give %s\n",
		    o->expect);
		return 1;
	}
	printf("model check OK: %zu accounts as expected\n", got.n);
	return 0;
}

// The live run, then the rebuild of what it logged, then the check.
static int
live_and_check(weir_store *st, const opts *o)
{
	model    live = { 0 }, got = { 0 };
	uint64_t first, count      = 0;
	weir_err rv = live_run(st, o->n, &live, &first);
	if (rv == WEIR_OK) {
		rv = rebuild(st, first, &got, &count);
	}
	if (rv != WEIR_OK) {
		fprintf(stderr, "balances: %s\n", weir_strerror(rv));
		return 1;
	}
	printf("live:    %" PRIu64 " events published, applied by a "
	       "subscriber (%" PRIu64 " withdrawals refused)\n",
	    live.applied, live.refused);
	printf("rebuilt: %" PRIu64
	       " events replayed from the log (seq %" PRIu64
	       " on) through the same handler\n",
	    count, first);
	model_print(&live, &got, "live");
	if (model_diff(&live, &got, "live") != 0 || count != live.applied ||
	    got.refused != live.refused) {
		printf("model check FAILED: the log does not give the live "
		       "model\n");
		return 1;
	}
	printf("model check OK: %zu accounts, the live model and the one "
	       "rebuilt from the log agree\n",
	    got.n);
	return o->save != NULL && model_save(&live, o->save) != 0;
}

// Without -s, the log lives in a temporary directory, removed at exit.
static int
tmp_store(char *dir, size_t dsize, char *path, size_t psize)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, dsize, "%s/weir-balances.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(path, psize, "%s/events.db", dir);
	return 0;
}

static void
tmp_remove(const char *dir, const char *path)
{
	static const char *const ext[] = { "", "-wal", "-shm" };
	char                     f[4096 + 32];
	for (size_t i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), "%s%s", path, ext[i]);
		unlink(f);
	}
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	opts        o = { .n = 2000 };
	weir_store *st;
	char        dir[4096], path[4096 + 16], msg[256];
	if (opts_parse(&o, argc, argv) != 0) {
		return usage();
	}
	if (o.store == NULL &&
	    tmp_store(dir, sizeof(dir), path, sizeof(path)) != 0) {
		return 1;
	}
	weir_err rv = weir_store_open(
	    &st, o.store ? o.store : path, NULL, msg, sizeof(msg));
	if (rv != WEIR_OK) {
		fprintf(stderr, "balances: %s: %s\n", o.store ? o.store : path,
		    msg);
		return 1;
	}
	int rc = o.rebuild ? rebuild_only(st, &o) : live_and_check(st, &o);
	weir_store_destroy(st);
	if (o.store == NULL) {
		tmp_remove(dir, path);
	}
	return rc;
}
