/*
 * Helpers shared by the bridge tests: a store in a fresh directory, a
 * bus, a bridge with the mem backend, and bounded waits on the route's
 * counters (no sleeps standing in for a condition).
 */
#ifndef WEIR_BRIDGE_FIXTURE_H
#define WEIR_BRIDGE_FIXTURE_H

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weir_test.h"
#include <weir/bridge.h>
#include <weir/store.h>

#include "bridge/bridge.h"
#include "bridge/mem.h"

#define BT_DEADLINE_MS 20000

typedef struct bt {
	char         dir[512];
	char         path[600];
	weir_store  *st;
	weir_bus    *bus;
	weir_bridge *br;
	void        *mem;
} bt;

static inline void
bt_dir(bt *t)
{
	const char *base = getenv("WEIR_TEST_DIR");
	snprintf(t->dir, sizeof t->dir, "%s/weir-bridge-XXXXXX",
	    base != NULL ? base : ".");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof t->path, "%s/log.db", t->dir);
}

static inline void
bt_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	char           p[1200];
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

static inline void
bt_open_store(bt *t)
{
	weir_store_config *cfg;
	char               msg[256];
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_durability(
	    cfg, WEIR_STORE_DURABILITY_NORMAL));
	assert_weir_ok(weir_store_open(&t->st, t->path, cfg, msg, sizeof msg));
	weir_store_config_destroy(cfg);
}

/* Only the store at @p path in t (a child process's or a check's view;
 * no directory of its own, so bt_close leaves the files alone). */
static inline void
bt_open_at(bt *t, const char *path)
{
	memset(t, 0, sizeof *t);
	snprintf(t->path, sizeof t->path, "%s", path);
	bt_open_store(t);
}

/* weir_store_read callback: counts the events into *(uint64_t *) arg. */
static inline weir_err
bt_count_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) ev;
	(void) stream;
	(void) version;
	(*(uint64_t *) arg)++;
	return WEIR_OK;
}

/* The events in @p st (its whole log; usable in a forked child). */
static inline uint64_t
bt_stored(weir_store *st)
{
	uint64_t n = 0;
	weir_store_read_all(st, 1, 0, bt_count_fn, &n);
	return n;
}

/* Runs @p child (path, record) in a forked process, which must _exit;
 * SIGKILLs it once @p progress (record) reaches @p kill_at, or after
 * 60 s (0: never, wait for its exit). Returns its exit status, -1 if
 * it was killed, -2 if it died of a signal. */
static inline int
bt_run_child(void (*child)(const char *, const char *), const char *path,
    const char *record, size_t kill_at, size_t (*progress)(const char *))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child(path, record);
	int     st;
	int64_t end = wt_now_ms() + 60000;
	while (kill_at > 0 && progress(record) < kill_at &&
	    wt_now_ms() < end && waitpid(pid, &st, WNOHANG) == 0)
		usleep(200);
	if (kill_at > 0 && waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
	if (kill_at == 0)
		waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

/* Bus and bridge (with the mem backend) over t->st (may be NULL). */
static inline void
bt_bridge(bt *t, const weir_bridge_config *cfg)
{
	if (t->bus == NULL)
		assert_weir_ok(weir_bus_create(&t->bus, NULL));
	assert_weir_ok(weir_bridge_create(&t->br, t->bus, t->st, cfg));
	assert_weir_ok(weir_bridge_register(t->br, weir_backend_mem()));
	t->mem = weir__bridge_backend_state(t->br, "mem");
}

/* bt_bridge with a config of @p kv: NULL-terminated key, value pairs. */
static inline void
bt_bridge_kv(bt *t, const char *const *kv)
{
	weir_bridge_config *cfg;
	assert_weir_ok(weir_bridge_config_create(&cfg));
	for (; kv != NULL && kv[0] != NULL; kv += 2)
		assert_weir_ok(weir_bridge_config_set_str(cfg, kv[0], kv[1]));
	bt_bridge(t, cfg);
	weir_bridge_config_destroy(cfg);
}

/* A store, a bus and a bridge; @p kv: NULL-terminated key, value pairs. */
static inline void
bt_open(bt *t, const char *const *kv)
{
	memset(t, 0, sizeof *t);
	bt_dir(t);
	bt_open_store(t);
	bt_bridge_kv(t, kv);
}

/* A bus and a bridge with no store (config @p kv), and one started
 * direct route "d": a.* to the mem sink at @p dest, keyed by the event
 * key (the direct-mode tests' setup). */
static inline void
bt_open_direct(bt *t, const char *const *kv, const char *dest)
{
	memset(t, 0, sizeof *t);
	bt_bridge_kv(t, kv);
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.direct                 = 1;
	assert_weir_ok(
	    weir_bridge_route_add(t->br, "d", "a.*", "mem", dest, "key", &o));
	assert_weir_ok(weir_bridge_start(t->br));
}

/* bt_open, then one started route "r": @p pattern to the mem sink's
 * @p dest, keyed by @p key. */
static inline void
bt_open_route(bt *t, const char *const *kv, const char *pattern,
    const char *dest, const char *key)
{
	bt_open(t, kv);
	assert_weir_ok(weir_bridge_route_add(
	    t->br, "r", pattern, "mem", dest, key, NULL));
	assert_weir_ok(weir_bridge_start(t->br));
}

/* The retry and breaker tests' route: a.> to x, keyed by the event key. */
static inline void
bt_open_mem_route(bt *t, const char *const *kv)
{
	bt_open_route(t, kv, "a.>", "x", "key");
}

static inline void
bt_close(bt *t)
{
	weir_bridge_destroy(t->br);
	weir_bus_destroy(t->bus);
	weir_store_destroy(t->st);
	if (t->dir[0] != '\0')
		bt_rmdir(t->dir);
	memset(t, 0, sizeof *t);
}

static inline weir_bridge_route_stats
bt_stats(bt *t, const char *route)
{
	weir_bridge_route_stats s = WEIR_STRUCT_INIT(weir_bridge_route_stats);
	assert_weir_ok(weir_bridge_route_stats_get(t->br, route, &s));
	return s;
}

/* 1 when the route's intake has handled every event the bus gave it:
 * between the loop taking an event from the queue and the intake
 * counting it in the backlog, backlog and lag are both 0 although the
 * event is not done, so "backlog 0, lag 0" alone is not "drained". */
static inline int
bt_intake_idle(bt *t, const char *route)
{
	weir__route *rt = weir__bridge_route(t->br, route);
	assert_non_null(rt);
	pthread_mutex_lock(&rt->lock);
	weir_subscr      *sub = rt->sub;
	weir_subscr_stats ss  = WEIR_STRUCT_INIT(weir_subscr_stats);
	weir_err e = sub != NULL ? weir_subscr_stats_get(sub, &ss) : WEIR_OK;
	pthread_mutex_unlock(&rt->lock);
	assert_weir_ok(e);
	return ss.in_flight == 0 && ss.queued == 0 &&
	    ss.published ==
	    ss.delivered + ss.failed + ss.dropped + ss.rejected +
	        ss.timed_out + ss.coalesced;
}

/* Waits until @p expr holds (s: the route's stats), at most
 * BT_DEADLINE_MS; fails the test otherwise. */
#define BT_WAIT(t, route, expr)                                                 \
	do {                                                                    \
		int64_t                 bt_end_ = wt_now_ms() + BT_DEADLINE_MS; \
		weir_bridge_route_stats s       = bt_stats(t, route);           \
		while (!(expr) && wt_now_ms() < bt_end_) {                      \
			usleep(1000);                                           \
			s = bt_stats(t, route);                                 \
		}                                                               \
		if (!(expr)) {                                                  \
			print_error("timed out waiting for %s (acked %llu "     \
			            "dead %llu backlog %llu)\n",                \
			    #expr, (unsigned long long) s.acked,                \
			    (unsigned long long) s.dead,                        \
			    (unsigned long long) s.backlog);                    \
			fail();                                                 \
		}                                                               \
	} while (0)

/* Publishes "<topic>" with key @p key and a payload of @p i. */
static inline void
bt_publish(bt *t, const char *topic, const char *key, int i)
{
	wt_publish_keyed(
	    t->bus, topic, key, key ? strlen(key) : 0, &i, sizeof i);
}

/* The mem backend's records, allocated (free()); *n gets the count. */
static inline weir__mem_rec *
bt_records(bt *t, size_t *n)
{
	*n                 = weir__mem_records(t->mem, NULL, 0);
	weir__mem_rec *out = calloc(*n + 1, sizeof *out);
	*n                 = weir__mem_records(t->mem, out, *n);
	return out;
}

/* Per key, the seqs of first deliveries must rise (order per key). */
static inline void
bt_assert_key_order(const weir__mem_rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(r[i].key, r[j].key) == 0 &&
			    r[j].seq < r[i].seq) {
				int dup = 0; /* a re-send of an earlier one is
				                fine */
				for (size_t k = 0; k < i && !dup; k++)
					dup =
					    memcmp(r[k].id, r[j].id, 16) == 0;
				for (size_t k = i; k < j && !dup; k++)
					dup =
					    memcmp(r[k].id, r[j].id, 16) == 0;
				if (!dup) {
					print_error(
					    "key %s: seq %llu after %llu\n",
					    r[i].key,
					    (unsigned long long) r[j].seq,
					    (unsigned long long) r[i].seq);
					fail();
				}
			}
}

/* The first dead letter of a route, copied. */
typedef struct bt_dead {
	char    *origin, *message;
	weir_err code;
	size_t   size;  /* the event's payload length */
	size_t   count; /* dead letters of the route */
} bt_dead;

static inline weir_err
bt_dead_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	bt_dead *d = arg;
	if (d->count++ == 0) {
		d->origin  = strdup(dl->origin);
		d->message = strdup(dl->message);
		d->code    = dl->code;
		weir_event_payload(dl->ev, &d->size);
	}
	return WEIR_OK;
}

/* Fails the test when the route has no dead letter. */
static inline bt_dead
bt_dead_first(bt *t, const char *route)
{
	bt_dead d = { 0 };
	assert_weir_ok(weir_store_dead_list(t->st, route, 0, bt_dead_fn, &d));
	assert_true(d.count > 0);
	return d;
}

static inline void
bt_dead_free(bt_dead *d)
{
	free(d->origin);
	free(d->message);
}

#endif
