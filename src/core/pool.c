// Design notes. The bus may own N loops, each run by a thread of its
// own between weir_bus_start() and weir_bus_join(): the "one loop per
// core" shape, where a subscription is served by exactly one loop (so
// its events, delivered by one consumer, keep their queue order) and
// subscriptions spread over the loops for parallelism. Round-robin is a
// relaxed counter: an even spread, not a balanced one; busy
// subscriptions can be placed by index instead.
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/loop.h"
#include "core/pool.h"

struct weir__pool {
	size_t          n;
	weir_loop     **loops;
	pthread_t      *threads;
	int             started; // guarded by mx
	atomic_size_t   rr;
	pthread_mutex_t mx;
};

weir_err
weir__pool_create(weir__pool **out, size_t n)
{
	if (n == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		n          = cores > 0 ? (size_t) cores : 1;
	}
	weir__pool *pool = weir__zalloc(sizeof(*pool));
	if (pool == NULL ||
	    (pool->loops = weir__zalloc(n * sizeof(weir_loop *))) == NULL ||
	    (pool->threads = weir__zalloc(n * sizeof(pthread_t))) == NULL) {
		weir__pool_destroy(pool);
		return WEIR_ENOMEM;
	}
	pthread_mutex_init(&pool->mx, NULL);
	for (size_t i = 0; i < n; i++) {
		weir_err rv = weir_loop_create(&pool->loops[i]);
		if (rv != WEIR_OK) {
			weir__pool_destroy(pool);
			return rv;
		}
		pool->n = i + 1;
	}
	*out = pool;
	return WEIR_OK;
}

void
weir__pool_destroy(weir__pool *pool)
{
	if (pool == NULL) {
		return;
	}
	// n counts the loops created, so it is 0 while loops is NULL (the
	// pool is zeroed; the analyzer cannot see through the hook).
	assert(pool->n == 0 || pool->loops != NULL);
	for (size_t i = 0; i < pool->n; i++) {
		weir_loop_destroy(pool->loops[i]);
	}
	if (pool->threads != NULL) {
		pthread_mutex_destroy(&pool->mx);
	}
	weir__free(pool->threads);
	weir__free(pool->loops);
	weir__free(pool);
}

weir_loop *
weir__pool_pick(weir_bus *bus, weir_loop *explicit_loop, size_t index_plus1)
{
	weir__pool *pool = bus->pool;
	if (explicit_loop != NULL) {
		return explicit_loop;
	}
	if (index_plus1 > 0) {
		return pool && index_plus1 <= pool->n
		    ? pool->loops[index_plus1 - 1]
		    : NULL;
	}
	if (pool == NULL) {
		return bus->loop;
	}
	size_t i =
	    atomic_fetch_add_explicit(&pool->rr, 1, memory_order_relaxed);
	return pool->loops[i % pool->n];
}

size_t
weir_bus_loop_count(weir_bus *bus)
{
	return bus && bus->pool ? bus->pool->n : 0;
}

weir_loop *
weir_bus_loop_at(weir_bus *bus, size_t i)
{
	return bus && bus->pool && i < bus->pool->n ? bus->pool->loops[i]
	                                            : NULL;
}

static void *
pool_main(void *arg)
{
	(void) weir_loop_run(arg, WEIR_RUN_DEFAULT);
	return NULL;
}

static void
pool_join_locked(weir__pool *pool, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pthread_join(pool->threads[i], NULL);
	}
	pool->started = 0;
}

weir_err
weir_bus_start(weir_bus *bus)
{
	if (bus == NULL || bus->pool == NULL) {
		return WEIR_EINVAL;
	}
	weir__pool *pool = bus->pool;
	weir_err    rv   = WEIR_OK;
	pthread_mutex_lock(&pool->mx);
	if (pool->started) {
		rv = WEIR_EBUSY;
	}
	for (size_t i = 0; rv == WEIR_OK && i < pool->n; i++) {
		if (pthread_create(&pool->threads[i], NULL, pool_main,
		        pool->loops[i]) != 0) {
			for (size_t j = 0; j < i; j++) {
				weir_loop_stop(pool->loops[j]);
			}
			pool_join_locked(pool, i);
			rv = WEIR_EINTERNAL;
		}
	}
	if (rv == WEIR_OK) {
		pool->started = 1;
	}
	pthread_mutex_unlock(&pool->mx);
	return rv;
}

weir_err
weir_bus_join(weir_bus *bus)
{
	if (bus == NULL || bus->pool == NULL) {
		return bus ? WEIR_OK : WEIR_EINVAL;
	}
	weir__pool *pool = bus->pool;
	for (size_t i = 0; i < pool->n; i++) {
		if (weir__loop_on_thread(pool->loops[i])) {
			return WEIR_EBUSY; // it would wait for itself
		}
	}
	pthread_mutex_lock(&pool->mx);
	if (pool->started) {
		pool_join_locked(pool, pool->n);
	}
	pthread_mutex_unlock(&pool->mx);
	return WEIR_OK;
}

weir_err
weir_bus_config_set_loops(weir_bus_config *cfg, size_t n)
{
	if (cfg == NULL || n > 1024) {
		return WEIR_EINVAL;
	}
	cfg->loops     = n;
	cfg->has_loops = 1;
	return WEIR_OK;
}
