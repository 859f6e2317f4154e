// Design notes.
//
// A replay reads the selection from one snapshot on a read connection
// and delivers each event on the caller's thread. Pacing computes when
// each event is due (from the first event's timestamp divided by the
// factor, or n / rate) and sleeps on the store's cancel condition
// variable, so weir_store_replay_cancel() ends even a long wait at once.
// Cancellation is a generation counter: a replay is cancelled when the
// counter moves past the value it saw at its start.
#include <time.h>

#include "store/query.h"
#include "store/store.h"

typedef struct replay_run {
	weir_store                   *st;
	const weir_store_replay_opts *rp;
	uint64_t                      gen;
	int64_t                       start_ns; // monotonic
	int64_t  first_ts; // event time of the first event
	uint64_t done;
	uint64_t total;
	uint64_t last_seq;
} replay_run;

static int64_t
replay_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
replay_canceled(const replay_run *run)
{
	return atomic_load(&run->st->cancel_gen) != run->gen;
}

// Sleeps until the monotonic time @p due, or until cancelled.
static weir_err
replay_wait(replay_run *run, int64_t due)
{
	weir_store *st = run->st;
	pthread_mutex_lock(&st->cancel_mu);
	while (!replay_canceled(run) && replay_mono() < due) {
		struct timespec ts = { .tv_sec = (time_t) (due / 1000000000),
			.tv_nsec               = (long) (due % 1000000000) };
		pthread_cond_timedwait(&st->cancel_cv, &st->cancel_mu, &ts);
	}
	pthread_mutex_unlock(&st->cancel_mu);
	return replay_canceled(run) ? WEIR_ECANCELED : WEIR_OK;
}

// start + gap in monotonic ns. A gap past what int64 holds (from now
// on) saturates at INT64_MAX, a wait that only a cancel ends: converting
// it to an integer would overflow and run the replay unpaced.
static int64_t
replay_due(int64_t start, double gap)
{
	if (!(gap > 0)) {
		return start;
	}
	if (gap >= (double) (INT64_MAX - start)) {
		return INT64_MAX;
	}
	return start + (int64_t) gap;
}

static weir_err
replay_pace(replay_run *run, const weir_event *ev)
{
	const weir_store_replay_opts *rp = run->rp;
	if (rp->speed == WEIR_STORE_REPLAY_FAST) {
		return WEIR_OK;
	}
	if (run->done == 0) {
		run->start_ns = replay_mono();
		run->first_ts = weir_event_ts(ev);
		return WEIR_OK;
	}
	// In double: timestamps at both ends of int64 differ by more than
	// int64 holds, and a tiny factor or rate makes any gap huge.
	double gap = rp->speed == WEIR_STORE_REPLAY_RATE
	    ? (double) run->done * 1e9 / rp->rate
	    : ((double) weir_event_ts(ev) - (double) run->first_ts) /
	        rp->factor;
	return replay_wait(run, replay_due(run->start_ns, gap));
}

static weir_err
replay_deliver(
    replay_run *run, const weir_event *ev, const char *stream, int64_t version)
{
	const weir_store_replay_opts *rp = run->rp;
	weir_err                      rv;
	switch (rp->target) {
	case WEIR_STORE_REPLAY_PUBLISH:
		rv = weir_publish_event(rp->bus, ev);
		break;
	case WEIR_STORE_REPLAY_EMIT:
		rv = weir_emit_event(rp->bus, ev, NULL);
		break;
	default:
		rv = rp->fn(run->st, ev, stream, version, rp->arg);
		return rv == WEIR_OK ? WEIR_OK : WEIR_ECANCELED;
	}
	if (rv != WEIR_OK) {
		return weir__store_fail(run->st, rv,
		    "replay stopped at seq %llu: the bus said %s",
		    (unsigned long long) weir_event_seq(ev),
		    weir_err_name(rv));
	}
	return WEIR_OK;
}

static weir_err
replay_progress(replay_run *run, uint64_t seq)
{
	const weir_store_replay_opts *rp = run->rp;
	if (rp->progress == NULL) {
		return WEIR_OK;
	}
	weir_err rv = rp->progress(
	    run->st, run->done, run->total, seq, rp->progress_arg);
	return rv == WEIR_OK ? WEIR_OK : WEIR_ECANCELED;
}

static weir_err
replay_one(replay_run *run, weir__query *q, uint64_t every)
{
	weir_event *ev;
	const char *stream;
	int64_t     version;
	weir_err    rv = weir__query_next(run->st, q, &ev, &stream, &version);
	if (rv != WEIR_OK) {
		return rv;
	}
	uint64_t seq  = weir_event_seq(ev);
	run->last_seq = seq;
	rv            = replay_pace(run, ev);
	if (rv == WEIR_OK) {
		rv = replay_deliver(run, ev, stream, version);
	}
	weir_event_release(ev);
	if (rv == WEIR_OK && ++run->done % every == 0) {
		rv = replay_progress(run, seq);
	}
	if (rv == WEIR_OK && replay_canceled(run)) {
		rv = WEIR_ECANCELED;
	}
	return rv;
}

static weir_err
replay_check(weir_store *st, const weir_store_replay_opts *rp)
{
	int bad = rp->target > WEIR_STORE_REPLAY_CALL ||
	    (rp->target != WEIR_STORE_REPLAY_CALL && rp->bus == NULL) ||
	    (rp->target == WEIR_STORE_REPLAY_CALL && rp->fn == NULL) ||
	    rp->speed > WEIR_STORE_REPLAY_RATE ||
	    (rp->speed == WEIR_STORE_REPLAY_FACTOR && !(rp->factor > 0)) ||
	    (rp->speed == WEIR_STORE_REPLAY_RATE && !(rp->rate > 0));
	if (bad) {
		return weir__store_fail(st, WEIR_EINVAL,
		    "replay: a target (bus or fn) and a positive factor or "
		    "rate are needed");
	}
	return weir__store_check_open(st);
}

// Copies the caller's options and filter (rule 4 sizes) and checks them.
static weir_err
replay_args(weir_store *st, const weir_store_replay_opts *rp,
    weir_store_replay_opts *opts, weir_store_filter *filter)
{
	weir_err rv = weir__store_struct_in(
	    st, opts, sizeof(*opts), rp, WEIR__STORE_REPLAY_V1, "replay");
	*filter = (weir_store_filter) { .size = sizeof(*filter) };
	if (rv == WEIR_OK && opts->filter != NULL) {
		rv = weir__store_struct_in(st, filter, sizeof(*filter),
		    opts->filter, WEIR__STORE_FILTER_V1, "replay filter");
	}
	opts->filter = filter;
	return rv != WEIR_OK ? rv : replay_check(st, opts);
}

weir_err
weir_store_replay(
    weir_store *st, const weir_store_replay_opts *rp, uint64_t *count)
{
	weir__query            q;
	weir_store_replay_opts opts;
	weir_store_filter      f;
	replay_run             run = { .st = st, .rp = &opts };
	if (count != NULL) {
		*count = 0;
	}
	if (st == NULL || rp == NULL) {
		return WEIR_EINVAL;
	}
	run.gen     = atomic_load(&st->cancel_gen);
	weir_err rv = replay_args(st, rp, &opts, &f);
	if (rv == WEIR_OK) {
		rv = weir__query_open(st, &f, 0, &q);
	}
	if (rv != WEIR_OK) {
		return rv;
	}
	if (opts.progress != NULL) {
		rv = weir__query_count(st, &f, 0, &q, &run.total);
	}
	uint64_t every = opts.progress_every ? opts.progress_every : 1000;
	while (rv == WEIR_OK) {
		rv = replay_one(&run, &q, every);
	}
	weir__query_close(st, &q);
	if (rv == WEIR_ENOENT) {
		rv = replay_progress(&run, run.last_seq);
	}
	if (rv == WEIR_ECANCELED) {
		weir__store_fail(st, rv, "replay canceled after %llu events",
		    (unsigned long long) run.done);
	}
	if (count != NULL) {
		*count = run.done;
	}
	return rv;
}

void
weir_store_replay_cancel(weir_store *st)
{
	if (st == NULL) {
		return;
	}
	pthread_mutex_lock(&st->cancel_mu);
	atomic_fetch_add(&st->cancel_gen, 1);
	pthread_cond_broadcast(&st->cancel_cv);
	pthread_mutex_unlock(&st->cancel_mu);
}
