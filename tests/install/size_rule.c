/*
 * Built outside the project against the INSTALLED headers and library
 * (scripts/test.sh, stage `shared`): every public struct follows the
 * size rule of weir.h ("Structs that grow"): it starts with a size_t
 * `size`, a size of 0 is refused with WEIR_EINVAL, and its own sizeof
 * is accepted.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weir/store.h>
#include <weir/weir.h>

#define SIZE_FIRST(T)                                              \
	_Static_assert(offsetof(T, size) == 0, #T ": size first"); \
	_Static_assert(sizeof(((T *) 0)->size) == sizeof(size_t),  \
	    #T ": size is a size_t")

SIZE_FIRST(weir_allocator);
SIZE_FIRST(weir_event_init);
SIZE_FIRST(weir_subscr_stats);
SIZE_FIRST(weir_loop_stats);
SIZE_FIRST(weir_store_filter);
SIZE_FIRST(weir_store_append_opts);
SIZE_FIRST(weir_store_replay_opts);
SIZE_FIRST(weir_store_dead_letter);
SIZE_FIRST(weir_store_attach_stats);

static int failures;

static void
expect(const char *what, weir_err got, weir_err want)
{
	if (got != want) {
		fprintf(stderr, "size_rule: %s: %s, expected %s\n", what,
		    weir_err_name(got), weir_err_name(want));
		failures++;
	}
}

static void
check_allocator(void)
{
	weir_allocator a = { .size = 0,
		.malloc_fn         = malloc,
		.calloc_fn         = calloc,
		.realloc_fn        = realloc,
		.free_fn           = free };
	expect("weir_allocator size 0", weir_set_allocator(&a), WEIR_EINVAL);
	a.size = sizeof(a);
	expect("weir_allocator sizeof", weir_set_allocator(&a), WEIR_OK);
	expect("weir_allocator reset", weir_set_allocator(NULL), WEIR_OK);
}

static void
check_event_init(void)
{
	weir_event     *ev   = NULL;
	weir_event_init init = { .size = 0, .topic = "size.rule" };
	expect(
	    "weir_event_init size 0", weir_event_new(&ev, &init), WEIR_EINVAL);
	init.size = sizeof(init);
	expect("weir_event_init sizeof", weir_event_new(&ev, &init), WEIR_OK);
	weir_event_release(ev);
}

static weir_err
nop(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus, (void) ev, (void) arg;
	return WEIR_OK;
}

static void
check_stats(void)
{
	weir_bus    *bus;
	weir_subscr *sub;
	if (weir_bus_create(&bus, NULL) != WEIR_OK ||
	    weir_subscribe(&sub, bus, "s.>", nop, NULL, NULL, NULL) !=
	        WEIR_OK) {
		fprintf(stderr, "size_rule: bus set-up failed\n");
		exit(1);
	}
	weir_subscr_stats ss = { .size = 0 };
	weir_loop_stats   ls = { .size = 0 };
	weir_loop        *lp = weir_bus_loop(bus);
	expect("weir_subscr_stats size 0", weir_subscr_stats_get(sub, &ss),
	    WEIR_EINVAL);
	ss.size = sizeof(ss);
	expect("weir_subscr_stats sizeof", weir_subscr_stats_get(sub, &ss),
	    WEIR_OK);
	expect("weir_loop_stats size 0", weir_loop_stats_get(lp, &ls),
	    WEIR_EINVAL);
	ls.size = sizeof(ls);
	expect(
	    "weir_loop_stats sizeof", weir_loop_stats_get(lp, &ls), WEIR_OK);
	weir_bus_destroy(bus);
}

static weir_err
read_one(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st, (void) ev, (void) stream, (void) version, (void) arg;
	return WEIR_OK;
}

// A scratch store file, and its -wal and -shm, removed afterwards.
static void
remove_store(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
}

static void
check_store(void)
{
	weir_store     *st;
	weir_event     *ev;
	weir_event_init init = { .size = sizeof(init), .topic = "size.rule" };
	char            msg[256] = "";
	char            path[]   = "/tmp/weir-size-rule-XXXXXX";
	int             fd       = mkstemp(path);
	if (fd < 0 || close(fd) != 0 ||
	    weir_store_open(&st, path, NULL, msg, sizeof(msg)) != WEIR_OK ||
	    weir_event_new(&ev, &init) != WEIR_OK) {
		fprintf(stderr, "size_rule: store set-up failed: %s\n", msg);
		exit(1);
	}
	weir_store_append_opts ao = { .size = 0 };
	expect("weir_store_append_opts size 0",
	    weir_store_append(st, ev, &ao, NULL, NULL), WEIR_EINVAL);
	ao.size = sizeof(ao);
	expect("weir_store_append_opts sizeof",
	    weir_store_append(st, ev, &ao, NULL, NULL), WEIR_OK);
	weir_store_filter f = { .size = 0 };
	expect("weir_store_filter size 0",
	    weir_store_read(st, &f, read_one, NULL), WEIR_EINVAL);
	f.size = sizeof(f);
	expect("weir_store_filter sizeof",
	    weir_store_read(st, &f, read_one, NULL), WEIR_OK);
	weir_store_replay_opts rp = { .size = 0 };
	expect("weir_store_replay_opts size 0",
	    weir_store_replay(st, &rp, NULL), WEIR_EINVAL);
	weir_event_release(ev);
	weir_store_destroy(st);
	remove_store(path);
}

int
main(void)
{
	check_allocator();
	check_event_init();
	check_stats();
	check_store();
	if (failures == 0) {
		printf(
		    "size_rule: every public struct follows the size rule\n");
	}
	return failures == 0 ? 0 : 1;
}
