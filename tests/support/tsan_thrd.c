/*
 * For TSan builds only: C11 thrd_create, thrd_join and thrd_detach over
 * their pthread counterparts. GCC 12's
 * TSan runtime intercepts pthread_create but not glibc's thrd_create,
 * which librdkafka uses for its threads; a thread TSan never saw crashes
 * in its first intercepted call (getaddrinfo, malloc). Defined in the
 * test executable, this thrd_create is the one librdkafka binds to.
 * glibc's thrd_join and thrd_exit carry the int result as a pointer,
 * as done here.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

typedef struct thrd_tsan {
	thrd_start_t fn;
	void        *arg;
} thrd_tsan;

static void *
thrd_tsan_main(void *p)
{
	thrd_tsan t = *(thrd_tsan *) p;
	free(p);
	return (void *) (intptr_t) t.fn(t.arg);
}

/* Default visibility: the tests build with hidden symbols, and this
 * one must be seen from librdkafka. */
__attribute__((visibility("default"))) int
thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
	thrd_tsan *t = malloc(sizeof *t);
	if (t == NULL)
		return thrd_nomem;
	t->fn  = fn;
	t->arg = arg;
	if (pthread_create(thr, NULL, thrd_tsan_main, t) != 0) {
		free(t);
		return thrd_error;
	}
	return thrd_success;
}

/* thrd_join and thrd_detach too: TSan must see a thread end, or it
 * takes a new thread with the same id for a duplicate. */
__attribute__((visibility("default"))) int
thrd_join(thrd_t thr, int *res)
{
	void *r;
	if (pthread_join(thr, &r) != 0)
		return thrd_error;
	if (res != NULL)
		*res = (int) (intptr_t) r;
	return thrd_success;
}

__attribute__((visibility("default"))) int
thrd_detach(thrd_t thr)
{
	return pthread_detach(thr) == 0 ? thrd_success : thrd_error;
}
