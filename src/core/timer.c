// Design notes. A timer is in the heap while armed and in the loop's
// `all` list until stopped, so a one-shot timer that fired can still be
// stopped (and is freed with the loop if never stopped). A timer stopped
// from its own callback is freed when the callback returns. Ties on the
// due time go by start order (the sequence number).
#include "core/timer.h"
#include "core/alloc.h"
#include "core/loop.h"
#include "core/uuid.h"

struct weir_timer {
	weir_loop    *loop;
	int64_t       due_ns;
	uint64_t      repeat_ns;
	uint64_t      seq;
	size_t        idx; // position in the heap, SIZE_MAX if not in
	int           running;
	int           stopped;
	weir_timer_fn cb;
	void         *arg;
	void (*fin)(void *arg); // see weir__timer_set_fin()
	struct weir_timer *next;
	struct weir_timer *prev;
};

static int
timer_before(const weir_timer *a, const weir_timer *b)
{
	return a->due_ns < b->due_ns ||
	    (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void
heap_set(weir__timers *ts, size_t i, weir_timer *t)
{
	ts->heap[i] = t;
	t->idx      = i;
}

static void
heap_up(weir__timers *ts, size_t i)
{
	weir_timer *t = ts->heap[i];
	while (i > 0 && timer_before(t, ts->heap[(i - 1) / 2])) {
		heap_set(ts, i, ts->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(ts, i, t);
}

static void
heap_down(weir__timers *ts, size_t i)
{
	weir_timer *t = ts->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= ts->n) {
			break;
		}
		if (c + 1 < ts->n &&
		    timer_before(ts->heap[c + 1], ts->heap[c])) {
			c++;
		}
		if (!timer_before(ts->heap[c], t)) {
			break;
		}
		heap_set(ts, i, ts->heap[c]);
		i = c;
	}
	heap_set(ts, i, t);
}

static int
heap_push(weir__timers *ts, weir_timer *t)
{
	if (ts->n == ts->cap) {
		size_t       ncap = ts->cap ? ts->cap * 2 : 16;
		weir_timer **nh = weir__realloc(ts->heap, ncap * sizeof(*nh));
		if (nh == NULL) {
			return 0;
		}
		ts->heap = nh;
		ts->cap  = ncap;
	}
	t->seq = ts->next_seq++;
	heap_set(ts, ts->n++, t);
	heap_up(ts, ts->n - 1);
	return 1;
}

static void
heap_remove(weir__timers *ts, weir_timer *t)
{
	size_t i = t->idx;
	if (i == SIZE_MAX) {
		return;
	}
	t->idx = SIZE_MAX;
	if (i != --ts->n) {
		weir_timer *moved = ts->heap[ts->n];
		heap_set(ts, i, moved);
		heap_up(ts, i);
		heap_down(ts, moved->idx);
	}
}

void
weir__timers_init(weir__timers *ts)
{
	*ts = (weir__timers) { 0 };
}

void
weir__timers_fini(weir__timers *ts)
{
	while (ts->all != NULL) {
		weir_timer *t = ts->all;
		ts->all       = t->next;
		if (t->fin != NULL) {
			t->fin(t->arg);
		}
		weir__free(t);
	}
	weir__free(ts->heap);
	*ts = (weir__timers) { 0 };
}

int
weir__timers_timeout(weir__timers *ts)
{
	if (ts->n == 0) {
		return -1;
	}
	int64_t now_ns = weir__mono_ns();
	int64_t d      = ts->heap[0]->due_ns - now_ns;
	if (d <= 0) {
		return 0;
	}
	int64_t ms = (d + 999999) / 1000000;
	return ms > 0x7fffffff ? 0x7fffffff : (int) ms;
}

static void
timer_unlink(weir__timers *ts, weir_timer *t)
{
	if (t->prev != NULL) {
		t->prev->next = t->next;
	} else {
		ts->all = t->next;
	}
	if (t->next != NULL) {
		t->next->prev = t->prev;
	}
	weir__free(t);
}

void
weir__timers_run(weir__timers *ts)
{
	if (ts->n == 0) {
		return;
	}
	int64_t now_ns = weir__mono_ns();
	while (ts->n > 0 && ts->heap[0]->due_ns <= now_ns) {
		weir_timer *t = ts->heap[0];
		heap_remove(ts, t);
		t->running = 1;
		t->cb(t, t->arg);
		t->running = 0;
		if (t->stopped) {
			timer_unlink(ts, t);
		} else if (t->repeat_ns > 0 && t->idx == SIZE_MAX) {
			t->due_ns += (int64_t) t->repeat_ns;
			if (t->due_ns < now_ns) {
				t->due_ns =
				    now_ns; // fell behind: do not burst
			}
			heap_push(ts, t);
		}
	}
}

weir_err
weir_timer_start(weir_timer **out, weir_loop *loop, uint64_t timeout_ms,
    uint64_t repeat_ms, weir_timer_fn cb, void *arg)
{
	if (loop == NULL || cb == NULL || out == NULL) {
		return WEIR_EINVAL;
	}
	weir__timers *ts = &loop->timers;
	weir_timer   *t  = weir__zalloc(sizeof(*t));
	if (t == NULL) {
		return WEIR_ENOMEM;
	}
	t->loop      = loop;
	t->due_ns    = weir__mono_ns() + (int64_t) timeout_ms * 1000000;
	t->repeat_ns = repeat_ms * 1000000;
	t->cb        = cb;
	t->arg       = arg;
	t->idx       = SIZE_MAX;
	if (!heap_push(ts, t)) {
		weir__free(t);
		return WEIR_ENOMEM;
	}
	t->next = ts->all;
	if (ts->all != NULL) {
		ts->all->prev = t;
	}
	ts->all = t;
	*out    = t;
	return WEIR_OK;
}

void
weir_timer_stop(weir_timer *t)
{
	if (t == NULL || t->stopped) {
		return;
	}
	weir__timers *ts = &t->loop->timers;
	heap_remove(ts, t);
	t->stopped = 1;
	if (!t->running) {
		timer_unlink(ts, t);
	}
}

void
weir__timer_set_fin(weir_timer *t, void (*fin)(void *arg))
{
	t->fin = fin;
}
