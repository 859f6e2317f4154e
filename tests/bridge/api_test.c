/*
 * The bridge's public calls on bad arguments, bad settings and failing
 * backends (issue 12, item 13): each refusal with its documented code
 * and text, the stats JSON's every field and section, and the memory
 * paths of route_add and the stats section under allocation failure
 * (tests/support/fault_alloc.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "fault_alloc.h"
#include "inbound_fixture.h"

#include "bridge/handoff.h"
#include "core/evpool.h"

/* ---- vsnprintf failing (a wrap, tests/bridge/CMakeLists.txt) --------- */

/* The stats JSON's writes (core/jbuf.c) go through vsnprintf, or with
 * _FORTIFY_SOURCE its checked variant: both wrapped. */
int __real_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int __wrap_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int __real___vsnprintf_chk(
    char *buf, size_t size, int flag, size_t len, const char *fmt, va_list ap);
int __wrap___vsnprintf_chk(
    char *buf, size_t size, int flag, size_t len, const char *fmt, va_list ap);

static const char *_Atomic snprintf_fail; /* fail formats starting so */

static int
api_fails(const char *fmt)
{
	const char *f = atomic_load(&snprintf_fail);
	return f != NULL && strncmp(fmt, f, strlen(f)) == 0;
}

int
__wrap_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return api_fails(fmt) ? -1 : __real_vsnprintf(buf, size, fmt, ap);
}

int
__wrap___vsnprintf_chk(
    char *buf, size_t size, int flag, size_t len, const char *fmt, va_list ap)
{
	if (api_fails(fmt))
		return -1;
	return __real___vsnprintf_chk(buf, size, flag, len, fmt, ap);
}

/* ---- backends of this file ------------------------------------------ */

static weir_err
api_init_ok(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	(void) state;
	(void) cfg;
	(void) sink;
	return WEIR_OK;
}

static weir_err
api_init_fail(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	(void) state;
	(void) cfg;
	(void) sink;
	return WEIR_EIO;
}

static void
api_nop(void *state)
{
	(void) state;
}

static weir_err
api_start_ok(void *state)
{
	(void) state;
	return WEIR_OK;
}

static weir_err
api_start_fail(void *state)
{
	(void) state;
	return WEIR_EBACKEND;
}

static weir_err
api_publish(void *state, const weir_bridge_msg *msg)
{
	(void) state;
	(void) msg;
	return WEIR_ECLOSED;
}

static void
api_poll(void *state, int timeout_ms)
{
	(void) state;
	(void) timeout_ms;
}

static const char *
api_errmsg_null(void *state)
{
	(void) state;
	return NULL;
}

/* A reason of 300 bytes, as a client library may give. */
static const char *
api_errmsg_long(void *state)
{
	(void) state;
	static char text[301];
	if (text[0] == '\0') {
		memset(text, 'e', 300);
		memcpy(text, "down: ", 6);
	}
	return text;
}

static const weir_backend_ops down_ops = { .version = WEIR_BACKEND_V1,
	.scheme                                     = "down",
	.init                                       = api_init_ok,
	.fini                                       = api_nop,
	.start                                      = api_start_fail,
	.stop                                       = api_nop,
	.publish                                    = api_publish,
	.poll                                       = api_poll,
	.errmsg                                     = api_errmsg_long };

/* ---- create, register, start ----------------------------------------- */

static weir_err
api_create(bt *t, const char *key, const char *value)
{
	weir_bridge_config *cfg;
	assert_weir_ok(weir_bridge_config_create(&cfg));
	assert_weir_ok(weir_bridge_config_set_str(cfg, key, value));
	weir_err e = weir_bridge_create(&t->br, t->bus, t->st, cfg);
	weir_bridge_config_destroy(cfg);
	return e;
}

static void
test_create_settings(void **state)
{
	(void) state;
	bt t;
	memset(&t, 0, sizeof t);
	assert_weir_ok(weir_bus_create(&t.bus, NULL));
	assert_weir_err(
	    weir_bridge_create(NULL, t.bus, NULL, NULL), WEIR_EINVAL);
	t.br = (weir_bridge *) &t; /* set to NULL on failure */
	assert_weir_err(
	    weir_bridge_create(&t.br, NULL, NULL, NULL), WEIR_EINVAL);
	assert_null(t.br);
	assert_string_equal(weir_bridge_errmsg(NULL), "no bridge");
	static const char *const bad[][2] = { { "bridge.window", "0" },
		{ "bridge.window", "65537" }, { "bridge.window", "-1" },
		{ "bridge.window", "12x" }, { "bridge.window", "" },
		{ "bridge.max_backlog", "99999999999999999999999" },
		{ "bridge.policy", "sometimes" },
		{ "bridge.block_timeout_ms", "86400001" },
		{ "bridge.block_timeout_ms", "-2" } };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_weir_err(
		    api_create(&t, bad[i][0], bad[i][1]), WEIR_EINVAL);
		assert_null(t.br);
	}
	assert_weir_ok(api_create(&t, "bridge.policy", "drop_newest"));
	assert_int_equal(t.br->policy, WEIR_POLICY_DROP_NEWEST);
	weir_bridge_destroy(t.br);
	assert_weir_ok(api_create(&t, "bridge.block_timeout_ms", "250"));
	assert_int_equal(t.br->policy, WEIR_POLICY_BLOCK);
	assert_int_equal(t.br->block_timeout_ms, 250);
	weir_bridge_destroy(t.br);
	assert_weir_ok(api_create(&t, "bridge.block_timeout_ms", "-1"));
	assert_int_equal(t.br->block_timeout_ms, UINT64_MAX);
	weir_bridge_destroy(t.br);
	assert_weir_ok(api_create(&t, "bridge.source", "weir://here/bus"));
	assert_string_equal(t.br->source, "weir://here/bus");
	bt_close(&t);
}

static void
test_register_args(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	assert_weir_err(
	    weir_bridge_register(NULL, weir_backend_mem()), WEIR_EINVAL);
	assert_weir_err(weir_bridge_register(t.br, NULL), WEIR_EINVAL);
	assert_null(weir__bridge_backend_state(t.br, "down"));
	// init fails: the backend's reason, or weir_strerror's when it has
	// none (no errmsg, or one that returns NULL).
	weir_backend_ops ops = down_ops;
	ops.init             = api_init_fail;
	ops.errmsg           = NULL;
	char want[200];
	snprintf(want, sizeof want, "backend down: init: %s",
	    weir_strerror(WEIR_EIO));
	assert_weir_err(weir_bridge_register(t.br, &ops), WEIR_EIO);
	assert_string_equal(weir_bridge_errmsg(t.br), want);
	ops.errmsg = api_errmsg_null;
	assert_weir_err(weir_bridge_register(t.br, &ops), WEIR_EIO);
	assert_string_equal(weir_bridge_errmsg(t.br), want);
	assert_null(weir__bridge_backend_state(t.br, "down"));
	// state_size 0: the bridge still gives the backend a state.
	ops       = down_ops;
	ops.start = api_start_ok;
	assert_weir_ok(weir_bridge_register(t.br, &ops));
	assert_non_null(weir__bridge_backend_state(t.br, "down"));
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", NULL, NULL));
	assert_weir_ok(weir_bridge_start(t.br)); /* "down" has no route */
	ops        = down_ops;
	ops.scheme = "other";
	assert_weir_err(weir_bridge_register(t.br, &ops), WEIR_EBUSY);
	assert_string_equal(weir_bridge_errmsg(t.br), "bridge started");
	assert_weir_err(weir_bridge_start(NULL), WEIR_EINVAL);
	assert_weir_err(weir_bridge_start(t.br), WEIR_EBUSY);
	assert_string_equal(weir_bridge_errmsg(t.br), "bridge started");
	weir_bridge_stop(NULL);
	weir_bridge_stop(t.br);
	weir_bridge_stop(t.br); /* not started: nothing to do */
	assert_null(weir_bridge_route_refused(NULL, "r"));
	assert_null(weir_bridge_route_refused(t.br, NULL));
	assert_null(weir_bridge_route_refused(t.br, "nope"));
	assert_null(weir_bridge_route_refused(t.br, "r"));
	bt_close(&t);
}

/* The child's objects, reachable (LeakSanitizer) when it exits. */
static weir_bus    *child_bus;
static weir_bridge *child_br;

/* The assert aborts the child, which is then single-threaded: exit()
 * rather than _exit() so that a coverage build writes its counts. */
static void
api_abort_handler(int sig)
{
	(void) sig;
	exit(100);
}

/* A table without a mandatory slot aborts in builds with asserts and is
 * refused with WEIR_EINVAL without (include/weir/bridge.h), whichever
 * slot it lacks. Each case runs in a child process. */
static void
test_incomplete_ops(void **state)
{
	(void) state;
	for (int slot = 0; slot < 7; slot++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			signal(SIGABRT, api_abort_handler);
			weir_backend_ops ops = down_ops;
			ops.start            = api_start_ok;
			switch (slot) {
			case 0:
				ops.scheme = NULL;
				break;
			case 1:
				ops.init = NULL;
				break;
			case 2:
				ops.fini = NULL;
				break;
			case 3:
				ops.start = NULL;
				break;
			case 4:
				ops.stop = NULL;
				break;
			case 5:
				ops.publish = NULL;
				break;
			default:
				ops.poll = NULL;
				break;
			}
			if (weir_bus_create(&child_bus, NULL) != WEIR_OK ||
			    weir_bridge_create(
			        &child_br, child_bus, NULL, NULL) != WEIR_OK)
				_exit(1);
			weir_err e = weir_bridge_register(child_br, &ops);
			_exit(e == WEIR_EINVAL ? 101 : 2);
		}
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
#ifdef NDEBUG
		assert_int_equal(WEXITSTATUS(st), 101);
#else
		assert_int_equal(WEXITSTATUS(st), 100);
#endif
	}
}

/* Partial start with two failing backends and three refused routes:
 * the list in errmsg is cut at its size, each route's own reason stays
 * whole, and the first error is the one a start without routes left
 * would return. */
static void
test_partial_long_reasons(void **state)
{
	(void) state;
	bt                t;
	const char *const kv[] = { "bridge.start.partial", "1", NULL };
	bt_open(&t, kv);
	weir_backend_ops other = down_ops;
	other.scheme           = "down2";
	other.errmsg           = NULL;
	assert_weir_ok(weir_bridge_register(t.br, &down_ops));
	assert_weir_ok(weir_bridge_register(t.br, &other));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "good", "g.>", "mem", "x", NULL, NULL));
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "b1", "b.>", "down", "x", NULL, NULL));
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "b2", "c.>", "down", "x", NULL, NULL));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "b3", "d.>", "down2", "x", NULL, NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	const char *msg = weir_bridge_errmsg(t.br);
	assert_int_equal(strlen(msg), WEIR__BRIDGE_ERRMSG - 1);
	const char *head = "started 1 of 4 routes; refused: route 'b1': "
	                   "backend down: start: down: eee";
	assert_int_equal(strncmp(msg, head, strlen(head)), 0);
	char want[400];
	snprintf(want, sizeof want, "backend down: start: %s",
	    api_errmsg_long(NULL));
	assert_string_equal(weir_bridge_route_refused(t.br, "b2"), want);
	snprintf(want, sizeof want, "backend down2: start: %s",
	    weir_strerror(WEIR_EBACKEND));
	assert_string_equal(weir_bridge_route_refused(t.br, "b3"), want);
	char *js = weir_bus_stats_json(t.bus);
	assert_non_null(strstr(js, "\"breaker_opens\":0,\"refused\":true}"));
	weir_free(js);
	// Without the good route: nothing starts, the first error returns.
	weir_bridge_destroy(t.br);
	t.br = NULL;
	weir_bridge_config *cfg;
	assert_weir_ok(weir_bridge_config_create(&cfg));
	assert_weir_ok(
	    weir_bridge_config_set_str(cfg, "bridge.start.partial", "1"));
	assert_weir_ok(weir_bridge_create(&t.br, t.bus, t.st, cfg));
	weir_bridge_config_destroy(cfg);
	assert_weir_ok(weir_bridge_register(t.br, &down_ops));
	assert_weir_ok(weir_bridge_register(t.br, &other));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "b1", "b.>", "down2", "x", NULL, NULL));
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "b2", "c.>", "down", "x", NULL, NULL));
	assert_weir_err(weir_bridge_start(t.br), WEIR_EBACKEND);
	bt_close(&t);
}

/* ---- route_add ---------------------------------------------------------- */

static void
test_route_args(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	weir_bridge *br = t.br;
	assert_weir_err(
	    weir_bridge_route_add(NULL, "r", "a", "mem", "x", NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_route_add(br, NULL, "a", "mem", "x", NULL, NULL),
	    WEIR_EINVAL);
	char name[70];
	memset(name, 'n', 65);
	name[65]                = '\0';
	const char *bad_names[] = { "", name, "a b", "a/b", "a{", "\x7f" };
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
		assert_weir_err(weir_bridge_route_add(br, bad_names[i], "a",
		                    "mem", "x", NULL, NULL),
		    WEIR_EBADNAME);
	name[64] = '\0'; /* 64 characters: the longest name */
	assert_weir_ok(
	    weir_bridge_route_add(br, name, "a", "mem", "x", NULL, NULL));
	assert_weir_ok(
	    weir_bridge_route_add(br, "Az09_.-", "a", "mem", "x", NULL, NULL));
	assert_weir_err(
	    weir_bridge_route_add(br, "r", NULL, "mem", "x", NULL, NULL),
	    WEIR_EBADPATTERN);
	assert_string_equal(weir_bridge_errmsg(br),
	    "route 'r': pattern: '(null)' is not a topic pattern");
	assert_weir_err(
	    weir_bridge_route_add(br, "r", "a", NULL, "x", NULL, NULL),
	    WEIR_ENOENT);
	assert_string_equal(weir_bridge_errmsg(br),
	    "route 'r': scheme: no backend '(null)' is registered");
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.window                 = 65537;
	assert_weir_err(
	    weir_bridge_route_add(br, "r", "a", "mem", "x", NULL, &o),
	    WEIR_EINVAL);
	assert_string_equal(
	    weir_bridge_errmsg(br), "route 'r': window: 65537 is above 65536");
	o.size = 8; /* older than the oldest layout */
	assert_weir_err(
	    weir_bridge_route_add(br, "r", "a", "mem", "x", NULL, &o),
	    WEIR_EINVAL);
	assert_string_equal(
	    weir_bridge_errmsg(br), "route 'r': opts: bad size");
	const char *bad_keys[] = { "{0}", "{x}", "{1", "1}", "{}", "{12345}",
		"{topic" };
	for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
		assert_weir_err(weir_bridge_route_add(br, "r", "a.b", "mem",
		                    "x", bad_keys[i], NULL),
		    WEIR_EINVAL);
		assert_non_null(
		    strstr(weir_bridge_errmsg(br), "route 'r': key: '"));
	}
	// Options that override the bridge's settings.
	memset(&o, 0, sizeof o);
	o.size         = sizeof o;
	o.window       = 7;
	o.max_backlog  = 9;
	o.max_attempts = 3;
	assert_weir_ok(
	    weir_bridge_route_add(br, "r", "a.b", "mem", "x", "{topic}", &o));
	weir__route *rt = weir__bridge_route(br, "r");
	assert_int_equal(rt->window, 7);
	assert_int_equal(rt->max_backlog, 9);
	assert_int_equal(rt->max_attempts, 3);
	assert_weir_ok(weir_bridge_start(br));
	assert_weir_err(
	    weir_bridge_route_add(br, "late", "a", "mem", "x", NULL, NULL),
	    WEIR_EBUSY);
	assert_string_equal(
	    weir_bridge_errmsg(br), "route 'late': the bridge is started");
	bt_close(&t);
}

/* ---- config ------------------------------------------------------------- */

static weir_err
api_stop_fn(const char *key, const char *value, void *arg)
{
	(void) value;
	(*(int *) arg)++;
	return strcmp(key, "mem.b") == 0 ? WEIR_ECANCELED : WEIR_OK;
}

static void
test_config_args(void **state)
{
	(void) state;
	weir_bridge_config *cfg;
	assert_weir_err(weir_bridge_config_create(NULL), WEIR_EINVAL);
	assert_weir_ok(weir_bridge_config_create(&cfg));
	assert_weir_err(
	    weir_bridge_config_set_str(NULL, "mem.a", "1"), WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_config_set_str(cfg, NULL, "1"), WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_config_set_str(cfg, "mem.", "1"), WEIR_EINVAL);
	assert_weir_ok(
	    weir_bridge_config_set_str(cfg, "mem.x", NULL)); /* unset */
	for (int i = 0; i < 10; i++) { /* past the first capacity */
		char key[16];
		snprintf(key, sizeof key, "mem.%c", 'a' + i);
		assert_weir_ok(weir_bridge_config_set_str(cfg, key, "v"));
	}
	assert_null(weir_bridge_config_get(NULL, "mem.a"));
	assert_null(weir_bridge_config_get(cfg, NULL));
	int n = 0;
	assert_weir_err(weir_bridge_config_each(NULL, "mem.", api_stop_fn, &n),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_config_each(cfg, NULL, api_stop_fn, &n), WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_config_each(cfg, "mem.", NULL, &n), WEIR_EINVAL);
	assert_weir_err(weir_bridge_config_each(cfg, "mem.", api_stop_fn, &n),
	    WEIR_ECANCELED);
	assert_int_equal(n, 2); /* stopped at mem.b */
	weir_bridge_config_destroy(cfg);
}

/* ---- stats -------------------------------------------------------------- */

static void
test_stats_fields(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	assert_string_equal(
	    weir_bridge_breaker_name(WEIR_BRIDGE_BREAKER_CLOSED), "closed");
	assert_string_equal(
	    weir_bridge_breaker_name(WEIR_BRIDGE_BREAKER_OPEN), "open");
	assert_string_equal(
	    weir_bridge_breaker_name(WEIR_BRIDGE_BREAKER_HALF_OPEN),
	    "half_open");
	assert_string_equal(
	    weir_bridge_breaker_name((weir_bridge_breaker) 42), "unknown");
	weir_bridge_route_stats rs = WEIR_STRUCT_INIT(weir_bridge_route_stats);
	assert_weir_err(
	    weir_bridge_route_stats_get(NULL, "r", &rs), WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_route_stats_get(t.br, NULL, &rs), WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_route_stats_get(t.br, "r", NULL), WEIR_EINVAL);
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.direct                 = 1;
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", NULL, NULL));
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "d", "d.>", "mem", "x", NULL, &o));
	(void) it_route(&t, "in", "orders", "in.{topic}", NULL);
	// Not started: no subscription, nothing counted.
	assert_weir_ok(weir_bridge_route_stats_get(t.br, "r", &rs));
	assert_int_equal(rs.lag_events, 0);
	assert_weir_ok(weir_bridge_start(t.br));
	// An event held in the window, stamped a minute in the future: lag
	// in seconds is 0, not negative; one stamped a second ago counts.
	weir__mem_hold_acks(t.mem, 1);
	for (int i = 0; i < 2; i++) {
		weir_event     *ev;
		weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
		init.topic           = "a.b";
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		init.ts = ((int64_t) now.tv_sec + (i == 0 ? 60 : -1)) *
		    INT64_C(1000000000);
		assert_weir_ok(weir_event_new(&ev, &init));
		assert_weir_ok(weir_publish_event(t.bus, ev));
		weir_event_release(ev);
		BT_WAIT(&t, "r", s.sent == (uint64_t) i + 1);
		rs = bt_stats(&t, "r");
		if (i == 0)
			assert_true(rs.lag_seconds == 0);
	}
	rs = bt_stats(&t, "r");
	assert_true(rs.lag_seconds == 0); /* the head is the future one */
	char *js = weir_bus_stats_json(t.bus);
	assert_non_null(js);
	assert_non_null(strstr(js,
	    "\"bridge\":{\"routes\":[{\"name\":\"r\",\"mode\":\"store\","
	    "\"scheme\":\"mem\",\"sent\":2,\"acked\":0,"));
	assert_non_null(strstr(js,
	    "},{\"name\":\"d\",\"mode\":\"direct\",\"scheme\":\"mem\","
	    "\"sent\":0,"));
	assert_non_null(strstr(js,
	    "],"
	    "\"inbound\":[{\"name\":\"in\",\"scheme\":\"mem\","
	    "\"received\":0,\"appended\":0,\"duplicates\":0,\"dead\":0,"
	    "\"paused\":0,\"in_flight\":0,\"fetch_errors\":0,"
	    "\"halted\":false}]}"));
	weir_free(js);
	weir_inlet *in =
	    t.br->inlets[0]; /* as a failed dead letter leaves it */
	pthread_mutex_lock(&in->lock);
	in->halted = 1;
	pthread_mutex_unlock(&in->lock);
	js = weir_bus_stats_json(t.bus);
	assert_non_null(strstr(js, "\"fetch_errors\":0,\"halted\":true}]}"));
	weir_free(js);
	pthread_mutex_lock(&in->lock);
	in->halted = 0;
	pthread_mutex_unlock(&in->lock);
	// A route's or an inbound route's text that cannot be made: the
	// whole call fails (it used to leave "bridge" out and return the
	// rest), and the next call, the failure gone, is whole.
	const char *fmts[] = { "{\"name\":\"%s\",\"mode\"",
		"{\"name\":\"%s\",\"scheme\"" };
	for (size_t i = 0; i < 2; i++) {
		atomic_store(&snprintf_fail, fmts[i]);
		js = weir_bus_stats_json(t.bus);
		atomic_store(&snprintf_fail, NULL);
		assert_null(js);
		js = weir_bus_stats_json(t.bus);
		assert_non_null(strstr(js, "\"bridge\":{\"routes\":[{"));
		weir_free(js);
	}
	weir__mem_hold_acks(t.mem, 0);
	BT_WAIT(&t, "r", s.acked == 2 && s.backlog == 0);
	bt_close(&t);
}

/* Regression: the buffer of the stats section was sized for route
 * names of 64 bytes and short schemes; a backend whose scheme was a few
 * hundred bytes long made the whole "bridge" section vanish from the
 * bus's stats JSON. */
static void
test_stats_long_scheme(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	char scheme[1001];
	memset(scheme, 's', 1000);
	scheme[1000]         = '\0';
	weir_backend_ops ops = down_ops;
	ops.scheme           = scheme;
	ops.start            = api_start_ok;
	assert_weir_ok(weir_bridge_register(t.br, &ops));
	char name[65];
	memset(name, 'r', 64);
	name[64] = '\0';
	for (int i = 0; i < 3; i++) {
		name[0] = (char) ('a' + i);
		assert_weir_ok(weir_bridge_route_add(
		    t.br, name, "a.>", scheme, "x", NULL, NULL));
	}
	char *js = weir_bus_stats_json(t.bus);
	assert_non_null(js);
	char want[1100];
	snprintf(want, sizeof want, "\"mode\":\"store\",\"scheme\":\"%s\",",
	    scheme);
	const char *p = strstr(js, "\"bridge\":{\"routes\":[{\"name\":\"arrr");
	assert_non_null(p);
	assert_non_null(p = strstr(p, want));
	assert_non_null(p = strstr(p + 1, want));
	assert_non_null(p = strstr(p + 1, want));
	assert_non_null(strstr(p, "\"breaker_opens\":0}]}"));
	weir_free(js);
	bt_close(&t);
}

/* ---- allocation failures ------------------------------------------------ */

static int
api_fi_setup(void **state)
{
	(void) state;
	return weir_set_allocator(&fi_alloc) == WEIR_OK ? 0 : -1;
}

static int
api_fi_teardown(void **state)
{
	(void) state;
	fail_at = 0;
	weir__evpool_flush();
	weir_set_allocator(NULL);
	return 0;
}

/* route_add of a direct route with tokens in its destination and key:
 * every allocation failing in turn gives WEIR_ENOMEM and no route. */
static void
test_route_add_oom(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	long n;
	for (n = 1; n < 200; n++) {
		weir_bridge_route_opts o =
		    WEIR_STRUCT_INIT(weir_bridge_route_opts);
		o.direct = 1;
		fi_arm(n);
		weir_err e = weir_bridge_route_add(
		    t.br, "d", "a.*.>", "mem", "x.{2}.y.{topic}", "{2}", &o);
		long calls = alloc_calls;
		fail_at    = 0;
		if (e == WEIR_OK) {
			assert_true(calls < n);
			break;
		}
		assert_weir_err(e, WEIR_ENOMEM);
		assert_null(weir__bridge_route(t.br, "d"));
	}
	assert_true(n > 5 && n < 200);
	// The stats section without memory is left out of the bus's JSON.
	fi_arm(1);
	char *js = weir__bridge_stats_json(t.bus, t.br);
	fail_at  = 0;
	assert_null(js);
	bt_close(&t);
}

/* The handoff's ring cannot grow: the event is not kept (the relay reads
 * it from the store), and the next put grows it. */
static void
test_handoff_no_memory(void **state)
{
	(void) state;
	weir_event     *ev;
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	init.topic           = "t.a";
	assert_weir_ok(weir_event_new(&ev, &init));
	weir__handoff ho;
	weir__handoff_init(&ho, 1 << 20);
	fi_arm(1);
	int kept = weir__handoff_put(&ho, ev, 1);
	fail_at  = 0;
	assert_int_equal(kept, 0);
	assert_int_equal(ho.count, 0);
	assert_int_equal(weir__handoff_put(&ho, ev, 1), 1);
	assert_int_equal(ho.count, 1);
	weir__handoff_clear(&ho);
	weir_event_release(ev);
	// A sink that is no bridge's: the acknowledgement is ignored.
	struct weir_sink none = { NULL };
	weir_sink_ack(&none, UINT64_C(1) << 48, WEIR_OK, 0, "x");
}

/* A backend that fails to start, whose reason cannot be copied: its
 * routes are refused with "backend not started". */
static void
test_partial_no_memory_for_reason(void **state)
{
	(void) state;
	bt                t;
	const char *const kv[] = { "bridge.start.partial", "1", NULL };
	memset(&t, 0, sizeof t);
	bt_dir(&t);
	bt_open_store(&t);
	assert_weir_ok(weir_bus_create(&t.bus, NULL));
	weir_bridge_config *cfg;
	assert_weir_ok(weir_bridge_config_create(&cfg));
	assert_weir_ok(weir_bridge_config_set_str(cfg, kv[0], kv[1]));
	assert_weir_ok(weir_bridge_create(&t.br, t.bus, t.st, cfg));
	weir_bridge_config_destroy(cfg);
	assert_weir_ok(weir_bridge_register(t.br, &down_ops)); /* first */
	assert_weir_ok(weir_bridge_register(t.br, weir_backend_mem()));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "good", "g.>", "mem", "x", NULL, NULL));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "bad", "b.>", "down", "x", NULL, NULL));
	fi_arm(1); /* the copy of the reason is start's first allocation */
	weir_err e = weir_bridge_start(t.br);
	fail_at    = 0;
	assert_weir_ok(e);
	assert_string_equal(
	    weir_bridge_route_refused(t.br, "bad"), "backend not started");
	assert_null(weir_bridge_route_refused(t.br, "good"));
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_incomplete_ops), /* first: no thread yet */
		cmocka_unit_test(test_create_settings),
		cmocka_unit_test(test_register_args),
		cmocka_unit_test(test_partial_long_reasons),
		cmocka_unit_test(test_route_args),
		cmocka_unit_test(test_config_args),
		cmocka_unit_test(test_stats_fields),
		cmocka_unit_test(test_stats_long_scheme),
		cmocka_unit_test_setup_teardown(
		    test_route_add_oom, api_fi_setup, api_fi_teardown),
		cmocka_unit_test_setup_teardown(
		    test_handoff_no_memory, api_fi_setup, api_fi_teardown),
		cmocka_unit_test_setup_teardown(
		    test_partial_no_memory_for_reason, api_fi_setup,
		    api_fi_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
