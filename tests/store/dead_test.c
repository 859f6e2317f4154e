/*
 * Dead letters: add (with attempts), list, retry to a bus, delete, purge;
 * a retry whose statements cannot be prepared.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "core/event.h"

#include "fixture.h"

typedef struct seen {
	int      n;
	uint64_t id[16];
	uint32_t attempts[16];
	weir_err code[16];
	char     origin[16][32];
	char     message[16][64];
	char     topic[16][32];
} seen;

static weir_err
on_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	seen *s = arg;
	(void) st;
	assert_true(dl->first_failure <= dl->last_failure);
	s->id[s->n]       = dl->id;
	s->attempts[s->n] = dl->attempts;
	s->code[s->n]     = dl->code;
	snprintf(s->origin[s->n], 32, "%s", dl->origin);
	snprintf(s->message[s->n], 64, "%s", dl->message);
	snprintf(s->topic[s->n], 32, "%s", weir_event_topic(dl->ev));
	s->n++;
	return WEIR_OK;
}

static void
test_add_and_list(void **state)
{
	fx         *f  = *state;
	weir_event *e1 = fx_event("orders.created", "1");
	weir_event *e2 = fx_event("users.signup", "2");
	uint64_t    id1, id1b, id2;
	seen        s = { 0 };
	assert_weir_ok(weir_store_dead_add(f->st, e1, "kafka:orders",
	    WEIR_ETIMEDOUT, "broker timeout", &id1));
	assert_weir_ok(weir_store_dead_add(
	    f->st, e2, "sub:mailer", WEIR_EHANDLER, "smtp down", &id2));
	assert_weir_ok(weir_store_dead_add(f->st, e1, "kafka:orders",
	    WEIR_ETOOBIG, "message too large", &id1b));
	assert_int_equal(id1, id1b);
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, &s));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.attempts[0], 2);
	assert_int_equal(s.code[0], WEIR_ETOOBIG);
	assert_string_equal(s.message[0], "message too large");
	assert_string_equal(s.topic[0], "orders.created");
	assert_string_equal(s.origin[1], "sub:mailer");
	memset(&s, 0, sizeof(s));
	assert_weir_ok(
	    weir_store_dead_list(f->st, "sub:mailer", 0, on_dead, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], id2);
	assert_weir_err(
	    weir_store_dead_add(f->st, e1, "", WEIR_EIO, "x", NULL),
	    WEIR_EBADNAME);
	weir_event_release(e1);
	weir_event_release(e2);
}

typedef struct retry {
	weir_bus *bus;
	int       fail_topic_users;
} retry;

static weir_err
to_bus(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	retry *r = arg;
	(void) st;
	if (r->fail_topic_users &&
	    strcmp(weir_event_topic(dl->ev), "users.signup") == 0) {
		return WEIR_EBACKEND;
	}
	return weir_emit_event(r->bus, dl->ev, NULL);
}

static void
test_retry_to_bus(void **state)
{
	fx    *f   = *state;
	retry  r   = { .fail_topic_users = 1 };
	int    got = 0;
	seen   s   = { 0 };
	size_t retried;
	assert_weir_ok(weir_bus_create(&r.bus, NULL));
	assert_weir_ok(
	    weir_on(r.bus, ">", wt_count_int_handler, &got, NULL, 0, NULL));
	weir_event *e1 = fx_event("orders.created", "1");
	weir_event *e2 = fx_event("users.signup", "2");
	assert_weir_ok(
	    weir_store_dead_add(f->st, e1, "r", WEIR_EIO, "x", NULL));
	assert_weir_ok(
	    weir_store_dead_add(f->st, e2, "r", WEIR_EIO, "x", NULL));
	assert_weir_ok(
	    weir_store_dead_retry(f->st, "r", to_bus, &r, &retried));
	assert_int_equal(retried, 1);
	assert_int_equal(got, 1);
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, &s));
	assert_int_equal(s.n, 1); // the success is gone, the failure counted
	assert_string_equal(s.topic[0], "users.signup");
	assert_int_equal(s.attempts[0], 2);
	assert_int_equal(s.code[0], WEIR_EBACKEND);
	r.fail_topic_users = 0;
	assert_weir_ok(
	    weir_store_dead_retry(f->st, NULL, to_bus, &r, &retried));
	assert_int_equal(retried, 1);
	assert_int_equal(got, 2);
	memset(&s, 0, sizeof(s));
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, &s));
	assert_int_equal(s.n, 0);
	weir_event_release(e1);
	weir_event_release(e2);
	weir_bus_destroy(r.bus);
}

static void
test_delete_and_purge(void **state)
{
	fx      *f = *state;
	uint64_t id, purged;
	seen     s = { 0 };
	for (int i = 0; i < 6; i++) {
		weir_event *ev = fx_event("x.y", "p");
		assert_weir_ok(weir_store_dead_add(
		    f->st, ev, i % 2 ? "a" : "b", WEIR_EIO, NULL, &id));
		weir_event_release(ev);
	}
	assert_weir_ok(weir_store_dead_delete(f->st, id));
	assert_weir_err(weir_store_dead_delete(f->st, id), WEIR_ENOENT);
	assert_weir_ok(weir_store_dead_purge(f->st, "a", &purged));
	assert_int_equal(purged, 2);
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, &s));
	assert_int_equal(s.n, 3);
	assert_string_equal(s.message[0], weir_strerror(WEIR_EIO));
	assert_weir_ok(weir_store_dead_purge(f->st, NULL, &purged));
	assert_int_equal(purged, 3);
}

// ---- SQLite memory that shows a statement finalized twice

// While `sq_hold` is set, blocks SQLite frees are zeroed and kept, not
// given back: a second sqlite3_finalize() of a statement then finds its
// db pointer NULL and reports SQLITE_MISUSE to the log (counted in
// sq_misuse) instead of freeing memory twice. Lookaside is off, so
// every statement comes from these functions.
static sqlite3_mem_methods sq_real;
static atomic_int          sq_hold;
static atomic_int          sq_misuse;
static pthread_mutex_t     sq_mu = PTHREAD_MUTEX_INITIALIZER;
static void               *sq_kept[1 << 14];
static size_t              sq_nkept;

static void
sq_free(void *p)
{
	if (p != NULL && atomic_load(&sq_hold)) {
		pthread_mutex_lock(&sq_mu);
		if (sq_nkept < sizeof(sq_kept) / sizeof(sq_kept[0])) {
			memset(p, 0, (size_t) sq_real.xSize(p));
			sq_kept[sq_nkept++] = p;
			p                   = NULL;
		}
		pthread_mutex_unlock(&sq_mu);
	}
	if (p != NULL) {
		sq_real.xFree(p);
	}
}

static void
sq_release_kept(void)
{
	atomic_store(&sq_hold, 0);
	pthread_mutex_lock(&sq_mu);
	for (size_t i = 0; i < sq_nkept; i++) {
		sq_real.xFree(sq_kept[i]);
	}
	sq_nkept = 0;
	pthread_mutex_unlock(&sq_mu);
}

static void
sq_log(void *arg, int code, const char *msg)
{
	(void) arg;
	(void) msg;
	if ((code & 0xff) == SQLITE_MISUSE) {
		atomic_fetch_add(&sq_misuse, 1);
	}
}

// Before SQLite initialises: main() calls it first.
static void
sq_install(void)
{
	static sqlite3_mem_methods m;
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sq_real), 0);
	m       = sq_real;
	m.xFree = sq_free;
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), 0);
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0), 0);
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_LOG, sq_log, NULL), 0);
}

// ---- a retry whose statements do not prepare

// Runs sql on a connection of its own, as another process would.
static void
exec_aside(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static weir_err
fail_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(void) arg;
	return WEIR_EBACKEND; // the retry then updates the letter
}

static weir_err
ok_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(void) arg;
	return WEIR_OK; // the retry then deletes the letter
}

// A trigger calling an unknown function makes the retry's DELETE or
// UPDATE fail in sqlite3_prepare_v2() (triggers are compiled into the
// statement), while the read of the dead letters still works.
static void
run_unpreparable(fx *f, const char *op)
{
	char        sql[200];
	uint64_t    seq;
	size_t      retried = 99;
	weir_event *ev      = fx_event("orders.created", "1");
	assert_weir_ok(
	    weir_store_dead_add(f->st, ev, "r", WEIR_EIO, "x", NULL));
	snprintf(sql, sizeof(sql),
	    "CREATE TRIGGER sabotage BEFORE %s ON dead_letters"
	    " BEGIN SELECT weir_no_such_function(); END",
	    op);
	exec_aside(f->path, sql);
	// The writer sees the new schema (and so the trigger) from here.
	assert_weir_ok(weir_store_append(f->st, ev, NULL, &seq, NULL));
	atomic_store(&sq_misuse, 0);
	atomic_store(&sq_hold, 1);
	weir_err rv = weir_store_dead_retry(f->st, NULL,
	    strcmp(op, "UPDATE") == 0 ? fail_fn : ok_fn, NULL, &retried);
	sq_release_kept();
	assert_weir_err(rv, WEIR_ESTORE);
	assert_non_null(
	    strstr(weir_store_errmsg(f->st), "weir_no_such_function"));
	assert_int_equal(retried, 0);
	assert_int_equal(atomic_load(&sq_misuse), 0); // no double finalize
	// The store goes on: without the trigger the retry works.
	exec_aside(f->path, "DROP TRIGGER sabotage");
	assert_weir_ok(weir_store_append(f->st, ev, NULL, &seq, NULL));
	assert_weir_ok(
	    weir_store_dead_retry(f->st, NULL, ok_fn, NULL, &retried));
	assert_int_equal(retried, 1);
	weir_event_release(ev);
}

// The UPDATE does not prepare; the DELETE before it did.
static void
test_retry_update_unpreparable(void **state)
{
	run_unpreparable(*state, "UPDATE");
}

// The DELETE, the first statement, does not prepare.
static void
test_retry_delete_unpreparable(void **state)
{
	run_unpreparable(*state, "DELETE");
}

static weir_err
on_dead_payload(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	size_t len;
	(void) st;
	(void) weir_event_payload(dl->ev, &len);
	*(size_t *) arg = len;
	return WEIR_OK;
}

static weir_err
count_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(*(int *) arg)++;
	return WEIR_OK;
}

// Regression: weir_store_dead_add had no size check.
static void
test_add_too_big(void **state)
{
	fx             *f   = *state;
	size_t          len = WEIR_STORE_DEFAULT_MAX_EVENT + 1;
	char           *p   = calloc(1, len);
	weir_event     *ev  = NULL;
	weir_event_init in  = { .size = sizeof(in),
		 .topic               = "a.b",
		 .payload             = p,
		 .payload_len         = len };
	int             n   = 0;
	assert_non_null(p);
	assert_weir_ok(weir_event_new(&ev, &in));
	assert_weir_err(
	    weir_store_dead_add(f->st, ev, "r", WEIR_ETOOBIG, NULL, NULL),
	    WEIR_ETOOBIG);
	assert_non_null(strstr(weir_store_errmsg(f->st), "exceeds"));
	in.payload_len = len - 1 - strlen("a.b");
	weir_event_release(ev);
	assert_weir_ok(weir_event_new(&ev, &in));
	assert_weir_ok(
	    weir_store_dead_add(f->st, ev, "r", WEIR_ETOOBIG, NULL, NULL));
	weir_event_release(ev);
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, count_dead, &n));
	assert_int_equal(n, 1);
	free(p);
}

static void
no_free(void *p)
{
	(void) p;
}

// Regression: a payload over SQLite's length limit (1,000,000,000
// bytes) failed its bind, unchecked, and the dead letter was stored
// with an empty payload and acknowledged. The payload is a reserved,
// never touched mapping: nothing reads it once the size is refused.
static void
test_add_over_sqlite_limit(void **state)
{
	fx             *f   = *state;
	size_t          len = 1000000001u;
	void           *p   = mmap(NULL, len, PROT_READ,
	                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	weir_event     *ev  = NULL;
	weir_event_init in  = { .size = sizeof(in),
		 .topic               = "a.b",
		 .payload             = p,
		 .payload_len         = len };
	size_t          got = 0;
	assert_true(p != MAP_FAILED);
	assert_weir_ok(weir__event_make(&ev, &in, no_free, NULL));
	weir_err rv =
	    weir_store_dead_add(f->st, ev, "r", WEIR_ETOOBIG, NULL, NULL);
	assert_weir_err(rv, WEIR_ETOOBIG);
	assert_weir_ok(
	    weir_store_dead_list(f->st, NULL, 0, on_dead_payload, &got));
	assert_int_equal(got, 0);
	weir_event_release(ev);
	munmap(p, len);
}

// Fails every letter whose payload is odd ("1", "3", ...).
static weir_err
odd_fails_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	size_t      len;
	char        text[16];
	const char *p = weir_event_payload(dl->ev, &len);
	(void) st;
	snprintf(text, sizeof(text), "%.*s", (int) len, p);
	(*(int *) arg)++;
	return atoi(text) % 2 ? WEIR_EBACKEND : WEIR_OK;
}

// More letters than the retry's first outcome array (64) holds: every
// one is handed out once, the taken ones go, the failed ones stay with
// one more attempt.
static void
test_retry_many(void **state)
{
	fx    *f = *state;
	char   text[16];
	int    calls   = 0;
	size_t retried = 0;
	for (int i = 0; i < 150; i++) {
		snprintf(text, sizeof(text), "%d", i);
		weir_event *ev = fx_event("orders.created", text);
		assert_weir_ok(
		    weir_store_dead_add(f->st, ev, "r", WEIR_EIO, "x", NULL));
		weir_event_release(ev);
	}
	assert_weir_ok(
	    weir_store_dead_retry(f->st, "r", odd_fails_fn, &calls, &retried));
	assert_int_equal(calls, 150);
	assert_int_equal(retried, 75);
	seen s = { 0 };
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 16, on_dead, &s));
	assert_int_equal(s.n, 16);
	assert_int_equal(s.attempts[0], 2);
	assert_int_equal(s.code[0], WEIR_EBACKEND);
	// No count to report: the letters go all the same.
	calls = 0;
	assert_weir_ok(weir_store_dead_retry(f->st, NULL, ok_fn, NULL, NULL));
	int n = 0;
	assert_weir_ok(
	    weir_store_dead_list(f->st, NULL, SIZE_MAX, count_dead, &n));
	assert_int_equal(n, 0);
}

// The retry's DELETE prepares but fails when it runs (a trigger that
// aborts it): the retry says so, and no letter is lost or counted.
static void
test_retry_delete_refused(void **state)
{
	fx         *f       = *state;
	size_t      retried = 99;
	weir_event *ev      = fx_event("orders.created", "1");
	uint64_t    seq;
	assert_weir_ok(
	    weir_store_dead_add(f->st, ev, "r", WEIR_EIO, "x", NULL));
	exec_aside(f->path,
	    "CREATE TRIGGER refuse BEFORE DELETE ON dead_letters"
	    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
	assert_weir_ok(weir_store_append(f->st, ev, NULL, &seq, NULL));
	assert_weir_err(
	    weir_store_dead_retry(f->st, NULL, ok_fn, NULL, &retried),
	    WEIR_ESTORE);
	assert_non_null(strstr(weir_store_errmsg(f->st), "refused by test"));
	assert_int_equal(retried, 0);
	int n = 0;
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, count_dead, &n));
	assert_int_equal(n, 1);
	weir_event_release(ev);
}

// A letter whose message column was emptied to NULL (a damaged or hand
// edited store) is listed with an empty message, never a NULL one.
static void
test_null_message(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("orders.created", "1");
	assert_weir_ok(
	    weir_store_dead_add(f->st, ev, "r", WEIR_EIO, "x", NULL));
	weir_event_release(ev);
	exec_aside(f->path, "UPDATE dead_letters SET message = NULL");
	seen s = { 0 };
	assert_weir_ok(weir_store_dead_list(f->st, "r", 0, on_dead, &s));
	assert_int_equal(s.n, 1);
	assert_string_equal(s.message[0], "");
	assert_string_equal(s.origin[0], "r");
	assert_weir_err(
	    weir_store_dead_delete(f->st, (uint64_t) INT64_MAX + 1),
	    WEIR_EINVAL);
	assert_weir_err(weir_store_dead_delete(f->st, 0), WEIR_EINVAL);
	assert_weir_ok(weir_store_dead_purge(f->st, "other", NULL));
	s.n = 0;
	assert_weir_ok(weir_store_dead_list(f->st, "r", 0, on_dead, &s));
	assert_int_equal(s.n, 1); // another origin's purge left it
	assert_weir_err(
	    weir_store_dead_delete(f->st, s.id[0] + 1), WEIR_ENOENT);
	assert_weir_ok(weir_store_dead_delete(f->st, s.id[0]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_add_and_list, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_to_bus, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_delete_and_purge, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_update_unpreparable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_delete_unpreparable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_add_too_big, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_add_over_sqlite_limit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_many, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_delete_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_null_message, fx_setup, fx_teardown),
	};
	sq_install();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
