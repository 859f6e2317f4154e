/*
 * mem_bench: what weir's objects cost in memory, measured through the
 * allocator hook (weir_set_allocator) as the live bytes malloc hands
 * out (malloc_usable_size: rounding included, malloc's own headers not).
 *
 * Prints one JSON line per figure:
 *   subscription_idle   one subscription with the default config and
 *                       nothing queued, on a pattern shared by all
 *   queued_event_64     one queued event of a 64-byte payload: the event
 *                       block plus its ring cell
 *   tree_node           one more token-tree node: a subscription on a
 *                       pattern of its own minus one on a shared pattern
 *   listener            one listener on a shared pattern
 *
 * Usage: mem_bench [N] (default 100000; --smoke: 2000).
 */
#define _GNU_SOURCE /* malloc_usable_size */

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/weir.h>

static atomic_llong mem_live;

static void *
mem_malloc(size_t n)
{
	void *p = malloc(n);
	if (p != NULL) {
		atomic_fetch_add(&mem_live, (long long) malloc_usable_size(p));
	}
	return p;
}

static void *
mem_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p != NULL) {
		atomic_fetch_add(&mem_live, (long long) malloc_usable_size(p));
	}
	return p;
}

static void
mem_free(void *p)
{
	if (p != NULL) {
		atomic_fetch_sub(&mem_live, (long long) malloc_usable_size(p));
	}
	free(p);
}

static void *
mem_realloc(void *p, size_t n)
{
	long long old = p ? (long long) malloc_usable_size(p) : 0;
	void     *q   = realloc(p, n);
	if (q != NULL) {
		atomic_fetch_add(
		    &mem_live, (long long) malloc_usable_size(q) - old);
	}
	return q;
}

static void *
mem_aligned(size_t align, size_t n)
{
	void *p = aligned_alloc(align, (n + align - 1) / align * align);
	if (p != NULL) {
		atomic_fetch_add(&mem_live, (long long) malloc_usable_size(p));
	}
	return p;
}

static void
check(weir_err rv, const char *what)
{
	if (rv != WEIR_OK) {
		fprintf(
		    stderr, "mem_bench: %s: %s\n", what, weir_strerror(rv));
		exit(1);
	}
}

static void
report(const char *name, long long bytes, size_t n, const char *what)
{
	printf("{\"name\":\"%s\",\"bytes_per_item\":%.1f,\"n\":%zu,"
	       "\"what\":\"%s\"}\n",
	    name, (double) bytes / (double) n, n, what);
}

/* Live bytes added by @p n subscriptions on "mem.shared" (@p distinct:
 * on mem.<i> each) with capacity @p cap. */
static long long
subs_cost(size_t n, int distinct, size_t cap)
{
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	char                pattern[48];
	check(weir_bus_create(&bus, NULL), "bus");
	check(weir_subscr_config_create(&sc), "config");
	check(weir_subscr_config_set_capacity(sc, cap), "capacity");
	long long before = atomic_load(&mem_live);
	for (size_t i = 0; i < n; i++) {
		snprintf(pattern, sizeof(pattern), "mem.%zu",
		    distinct ? i : (size_t) 0);
		check(weir_subscribe(&sub, bus, pattern, NULL, NULL, NULL, sc),
		    "subscribe");
	}
	long long cost = atomic_load(&mem_live) - before;
	weir_subscr_config_destroy(sc);
	weir_bus_destroy(bus);
	return cost;
}

/* Live bytes added by @p n queued events of 64 bytes in one pull
 * subscription of capacity @p n, and the subscription's own. */
static long long
queue_cost(size_t n, long long *sub_bytes)
{
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	unsigned char       payload[64];
	memset(payload, 0xab, sizeof(payload));
	check(weir_bus_create(&bus, NULL), "bus");
	check(weir_subscr_config_create(&sc), "config");
	check(weir_subscr_config_set_capacity(sc, n), "capacity");
	long long before = atomic_load(&mem_live);
	check(weir_subscribe(&sub, bus, "mem.q", NULL, NULL, NULL, sc),
	    "subscribe");
	*sub_bytes      = atomic_load(&mem_live) - before;
	long long start = atomic_load(&mem_live);
	for (size_t i = 0; i < n; i++) {
		check(weir_publish(
		          bus, "mem.q", payload, sizeof(payload), 0, NULL),
		    "publish");
	}
	long long cost = atomic_load(&mem_live) - start;
	weir_subscr_config_destroy(sc);
	weir_bus_destroy(bus);
	return cost;
}

static weir_err
nop(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_OK;
}

static long long
listeners_cost(size_t n)
{
	weir_bus *bus;
	check(weir_bus_create(&bus, NULL), "bus");
	check(weir_bus_set_max_listeners(bus, 0), "max listeners");
	long long before = atomic_load(&mem_live);
	for (size_t i = 0; i < n; i++) {
		check(weir_on(bus, "mem.l", nop, NULL, NULL, 0, NULL), "on");
	}
	long long cost = atomic_load(&mem_live) - before;
	weir_bus_destroy(bus);
	return cost;
}

int
main(int argc, char **argv)
{
	size_t         n = 100000;
	weir_allocator a = { .size = sizeof(weir_allocator),
		.malloc_fn         = mem_malloc,
		.calloc_fn         = mem_calloc,
		.realloc_fn        = mem_realloc,
		.free_fn           = mem_free,
		.aligned_fn        = mem_aligned };
	if (argc > 1) {
		n = strcmp(argv[1], "--smoke") == 0
		    ? 2000
		    : (size_t) strtoull(argv[1], NULL, 10);
	}
	if (n == 0) {
		fprintf(stderr, "usage: mem_bench [N | --smoke]\n");
		return 2;
	}
	check(weir_set_allocator(&a), "set_allocator");
	long long sub_bytes;
	long long q      = queue_cost(n, &sub_bytes);
	long long shared = subs_cost(n, 0, 64);
	long long own    = subs_cost(n, 1, 64);
	report("subscription_idle", shared, n,
	    "weir_subscribe, default policy, capacity 64, shared pattern");
	report("queued_event_64", q + sub_bytes - shared / (long long) n, n,
	    "event block of a 64-byte payload plus its ring cell");
	report("tree_node", own - shared, n,
	    "a pattern of its own (tree node, hash slot) over a shared one");
	report(
	    "listener", listeners_cost(n), n, "weir_on on a shared pattern");
	check(weir_set_allocator(NULL), "set_allocator");
	return 0;
}
