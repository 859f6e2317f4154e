/*
 * mem_bench: what weir's objects cost in memory, measured through the
 * allocator hook (weir_set_allocator) as the live bytes malloc hands
 * out (malloc_usable_size: rounding included, malloc's own headers not).
 *
 * Prints one JSON line per figure, with the bytes and the blocks (live
 * allocations) per item: malloc's own header per block (8 bytes in
 * glibc) is in neither, so a block costs its bytes plus that.
 *   subscription_idle   one subscription with the default config and
 *                       nothing queued, on a pattern shared by all
 *   queued_event_64     one queued event of a 64-byte payload on topic
 *                       "mem.q": the event block plus its ring cell
 *   queued_event_64_topic23  the same on a 23-byte topic
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
static atomic_llong mem_blocks;

typedef struct mem_snap {
	long long bytes;
	long long blocks;
} mem_snap;

static mem_snap
mem_now(void)
{
	mem_snap s = { atomic_load(&mem_live), atomic_load(&mem_blocks) };
	return s;
}

static mem_snap
mem_since(mem_snap before)
{
	mem_snap s = mem_now();
	s.bytes -= before.bytes;
	s.blocks -= before.blocks;
	return s;
}

static void *
mem_malloc(size_t n)
{
	void *p = malloc(n);
	if (p != NULL) {
		atomic_fetch_add(&mem_live, (long long) malloc_usable_size(p));
		atomic_fetch_add(&mem_blocks, 1);
	}
	return p;
}

static void *
mem_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p != NULL) {
		atomic_fetch_add(&mem_live, (long long) malloc_usable_size(p));
		atomic_fetch_add(&mem_blocks, 1);
	}
	return p;
}

static void
mem_free(void *p)
{
	if (p != NULL) {
		atomic_fetch_sub(&mem_live, (long long) malloc_usable_size(p));
		atomic_fetch_sub(&mem_blocks, 1);
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
		atomic_fetch_add(&mem_blocks, p == NULL);
	}
	return q;
}

static void *
mem_aligned(size_t align, size_t n)
{
	void *p = aligned_alloc(align, (n + align - 1) / align * align);
	if (p != NULL) {
		atomic_fetch_add(&mem_live, (long long) malloc_usable_size(p));
		atomic_fetch_add(&mem_blocks, 1);
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
report(const char *name, mem_snap m, size_t n, const char *what)
{
	printf("{\"name\":\"%s\",\"bytes_per_item\":%.1f,"
	       "\"blocks_per_item\":%.2f,\"n\":%zu,\"what\":\"%s\"}\n",
	    name, (double) m.bytes / (double) n,
	    (double) m.blocks / (double) n, n, what);
}

/* Live bytes added by @p n subscriptions on "mem.shared" (@p distinct:
 * on mem.<i> each) with capacity @p cap. */
static mem_snap
subs_cost(size_t n, int distinct, size_t cap)
{
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	char                pattern[48];
	check(weir_bus_create(&bus, NULL), "bus");
	check(weir_subscr_config_create(&sc), "config");
	check(weir_subscr_config_set_capacity(sc, cap), "capacity");
	mem_snap before = mem_now();
	for (size_t i = 0; i < n; i++) {
		snprintf(pattern, sizeof(pattern), "mem.%zu",
		    distinct ? i : (size_t) 0);
		check(weir_subscribe(&sub, bus, pattern, NULL, NULL, NULL, sc),
		    "subscribe");
	}
	mem_snap cost = mem_since(before);
	weir_subscr_config_destroy(sc);
	weir_bus_destroy(bus);
	return cost;
}

/* Live bytes added by @p n queued events of 64 bytes on @p topic in one
 * pull subscription of capacity @p n, and the subscription's own. */
static mem_snap
queue_cost(size_t n, const char *topic, mem_snap *sub_bytes)
{
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	unsigned char       payload[64];
	memset(payload, 0xab, sizeof(payload));
	check(weir_bus_create(&bus, NULL), "bus");
	check(weir_subscr_config_create(&sc), "config");
	check(weir_subscr_config_set_capacity(sc, n), "capacity");
	mem_snap before = mem_now();
	check(weir_subscribe(&sub, bus, topic, NULL, NULL, NULL, sc),
	    "subscribe");
	*sub_bytes     = mem_since(before);
	mem_snap start = mem_now();
	for (size_t i = 0; i < n; i++) {
		check(weir_publish(
		          bus, topic, payload, sizeof(payload), 0, NULL),
		    "publish");
	}
	mem_snap cost = mem_since(start);
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

static mem_snap
listeners_cost(size_t n)
{
	weir_bus *bus;
	check(weir_bus_create(&bus, NULL), "bus");
	check(weir_bus_set_max_listeners(bus, 0), "max listeners");
	mem_snap before = mem_now();
	for (size_t i = 0; i < n; i++) {
		check(weir_on(bus, "mem.l", nop, NULL, NULL, 0, NULL), "on");
	}
	mem_snap cost = mem_since(before);
	weir_bus_destroy(bus);
	return cost;
}

/* A queued event: the events' blocks, plus the ring of @p n cells that
 * came with the subscription (its cost less that of an idle one). */
static mem_snap
queued(mem_snap q, mem_snap sub, mem_snap shared, size_t n)
{
	q.bytes += sub.bytes - shared.bytes / (long long) n;
	q.blocks += sub.blocks - shared.blocks / (long long) n;
	return q;
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
	mem_snap sub1, sub23;
	mem_snap q1     = queue_cost(n, "mem.q", &sub1);
	mem_snap q23    = queue_cost(n, "mem.orders.eu.created.1", &sub23);
	mem_snap shared = subs_cost(n, 0, 64);
	mem_snap own    = subs_cost(n, 1, 64);
	report("subscription_idle", shared, n,
	    "weir_subscribe, default policy, capacity 64, shared pattern");
	report("queued_event_64", queued(q1, sub1, shared, n), n,
	    "event block of a 64-byte payload on mem.q plus its ring cell");
	report("queued_event_64_topic23", queued(q23, sub23, shared, n), n,
	    "the same on a 23-byte topic");
	own.bytes -= shared.bytes;
	own.blocks -= shared.blocks;
	report("tree_node", own, n,
	    "a pattern of its own (tree node, hash slot) over a shared one");
	report(
	    "listener", listeners_cost(n), n, "weir_on on a shared pattern");
	check(weir_set_allocator(NULL), "set_allocator");
	return 0;
}
