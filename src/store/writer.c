// Design notes.
//
// The writer thread owns the only connection that writes or checkpoints
// (DESIGN.md: the WAL-reset bug of SQLite 3.40 needs two of them).
// Appenders queue requests; the writer takes up to max_batch of them,
// runs them in one transaction and commits once: group commit. While it
// commits, new requests pile up and form the next batch.
//
// Invariants:
// - seq is chosen by the writer inside the transaction (next_seq); a
//   rolled-back batch resets next_seq, so a reader never sees a gap
//   that later fills and no acknowledged seq is ever reused.
// - A request is acknowledged (sync waiter woken, async done called)
//   only after its transaction committed or failed, in queue order.
// - A storage error fails the whole batch after a rollback: nothing in
//   it was acknowledged, so nothing acknowledged is lost.

#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "store/append.h"
#include "store/bind.h"
#include "store/schema.h"
#include "store/store.h"
#include "store/writer.h"

static const char writer_sql_ins[] =
    "INSERT INTO events(seq,id,ts,topic,key,headers,payload,stream,version)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)";
// The multi-row INSERTs of stream-less events (append.h): 7 columns.
// OR IGNORE: a statement that cannot abort half-way needs no statement
// journal (SQLite copies every page it touches into one otherwise); a
// row it skipped shows in sqlite3_changes (weir__append_rows_insert).
static const char writer_sql_rows[] =
    "INSERT OR IGNORE INTO events(seq,id,ts,topic,key,headers,payload)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7)";
static const char writer_sql_row[] = ",(?,?,?,?,?,?,?)";
static const char writer_sql_find[] =
    "SELECT seq,version FROM events WHERE id=?1";
static const char writer_sql_sget[] =
    "SELECT version FROM streams WHERE name=?1";
static const char writer_sql_sset[] =
    "INSERT INTO streams(name,version) VALUES(?1,?2)"
    " ON CONFLICT(name) DO UPDATE SET version=excluded.version";
static const char writer_sql_inbox_has[] = "SELECT 1 FROM inbox WHERE id=?1";
static const char writer_sql_inbox_any[] = "SELECT 1 FROM inbox WHERE id=?";
static const char writer_sql_inbox_or[]  = " OR id=?";
static const char writer_sql_ts_block[] =
    "INSERT INTO events_ts_blocks(block,lo,hi) VALUES(?1,?2,?3)"
    " ON CONFLICT(block) DO UPDATE SET lo=min(lo,excluded.lo),"
    " hi=max(hi,excluded.hi)";
static const char writer_sql_meta[] =
    "INSERT INTO meta(key,value) VALUES('last_seq',?1)"
    " ON CONFLICT(key) DO UPDATE SET value=excluded.value";

int
weir__writer_is_hard(weir_err rv)
{
	switch (rv) {
	case WEIR_ESTORE:
	case WEIR_ECORRUPT:
	case WEIR_EIO:
	case WEIR_ENOSPC:
	case WEIR_EREADONLY:
	case WEIR_ENOMEM:
	case WEIR_EINTERNAL:
		return 1;
	default:
		return 0;
	}
}

static weir_err
writer_exec(weir_store *st, const char *sql)
{
	int rc = sqlite3_exec(st->writer.db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		return weir__store_sqlerr(st, st->writer.db, rc, sql);
	}
	return WEIR_OK;
}

_Static_assert(sizeof(((weir__writer *) 0)->ins_rows) ==
        WEIR__APPEND_SIZES * sizeof(sqlite3_stmt *),
    "one multi-row INSERT per size");
_Static_assert(sizeof(((weir__writer *) 0)->inbox_any) ==
        WEIR__APPEND_SIZES * sizeof(sqlite3_stmt *),
    "one inbox lookup per run size");

// The multi-row INSERTs: @p head (one VALUES row), then one more @p row
// per further row (parameters numbered on implicitly), into @p out[size]
// for WEIR__APPEND_ROWS >> size rows.
static weir_err
writer_prepare_rows(
    weir_store *st, const char *head, const char *row, sqlite3_stmt **out)
{
	size_t head_len = strlen(head), row_len = strlen(row);
	char   sql[sizeof(writer_sql_rows) +
            WEIR__APPEND_ROWS * sizeof(writer_sql_row)];
	size_t len = head_len;
	memcpy(sql, head, len);
	for (int size = WEIR__APPEND_SIZES - 1; size >= 0; size--) {
		int rows = WEIR__APPEND_ROWS >> size;
		while (len < head_len + (size_t) (rows - 1) * row_len) {
			memcpy(sql + len, row, row_len);
			len += row_len;
		}
		int rc = sqlite3_prepare_v3(st->writer.db, sql, (int) len,
		    SQLITE_PREPARE_PERSISTENT, &out[size], NULL);
		if (rc != SQLITE_OK) {
			return weir__store_sqlerr(
			    st, st->writer.db, rc, "prepare");
		}
	}
	return WEIR_OK;
}

static weir_err
writer_prepare(weir_store *st)
{
	weir__writer *w = &st->writer;
	struct {
		const char    *sql;
		sqlite3_stmt **stmt;
	} list[] = { { writer_sql_ins, &w->ins },
		{ writer_sql_find, &w->find_id },
		{ writer_sql_sget, &w->stream_get },
		{ writer_sql_sset, &w->stream_set },
		{ writer_sql_meta, &w->meta_set },
		{ writer_sql_inbox_has, &w->inbox_has },
		{ writer_sql_ts_block, &w->ts_block_set } };
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		int rc = sqlite3_prepare_v3(w->db, list[i].sql, -1,
		    SQLITE_PREPARE_PERSISTENT, list[i].stmt, NULL);
		if (rc != SQLITE_OK) {
			return weir__store_sqlerr(st, w->db, rc, "prepare");
		}
	}
	weir_err rv = writer_prepare_rows(
	    st, writer_sql_rows, writer_sql_row, w->ins_rows);
	return rv != WEIR_OK ? rv
	                     : writer_prepare_rows(st, writer_sql_inbox_any,
	                           writer_sql_inbox_or, w->inbox_any);
}

// The next seq is one past both the largest seq present and the
// recorded high-water mark, so trimming the whole log never lets a seq
// be reused.
static weir_err
writer_load_seq(weir_store *st)
{
	sqlite3_stmt *stmt;
	const char sql[] = "SELECT max(coalesce((SELECT max(seq) FROM events),"
	                   "0),coalesce((SELECT value FROM meta WHERE "
	                   "key='last_seq'),0))";
	int rc = sqlite3_prepare_v2(st->writer.db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		return weir__store_sqlerr(st, st->writer.db, rc, "load seq");
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		weir_err rv = weir__store_sqlerr(st, st->writer.db, rc, "seq");
		sqlite3_finalize(stmt);
		return rv;
	}
	uint64_t last = (uint64_t) sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	st->writer.next_seq = last + 1;
	atomic_store(&st->writer.committed_seq, last);
	return WEIR_OK;
}

static weir_err
writer_run_call(weir_store *st, weir__req *r)
{
	if (r->call == NULL) {
		return WEIR_OK; // a flush marker
	}
	st->writer.batch_calls = 1;
	weir_err rv            = writer_exec(st, "SAVEPOINT call");
	if (rv != WEIR_OK) {
		return rv;
	}
	rv = r->call(st, st->writer.db, r->call_arg);
	if (rv != WEIR_OK && !weir__writer_is_hard(rv)) {
		(void) sqlite3_exec(
		    st->writer.db, "ROLLBACK TO call", NULL, NULL, NULL);
	}
	weir_err rel = writer_exec(st, "RELEASE call");
	return rv != WEIR_OK ? rv : rel;
}

static weir_err
writer_save_seq(weir_store *st)
{
	sqlite3_stmt *s = st->writer.meta_set;
	weir__bind    b;
	weir__bind_init(&b, s);
	weir__bind_int64(&b, 1, (int64_t) (st->writer.next_seq - 1));
	weir_err rv = weir__bind_check(&b, st, st->writer.db, "save seq");
	return rv != WEIR_OK
	    ? rv
	    : weir__store_step_done(st, st->writer.db, s, "save seq");
}

void
weir__writer_note_ts(weir__writer *w, uint64_t seq, int64_t ts)
{
	weir__ts_range *r =
	    &w->ts_ranges[(seq >> WEIR__TS_BLOCK_BITS) - w->ts_first_block];
	if (!r->used) {
		r->lo = r->hi = ts;
		r->used       = 1;
	} else if (ts < r->lo) {
		r->lo = ts;
	} else if (ts > r->hi) {
		r->hi = ts;
	}
}

// Widens the ts range of every block the batch added rows to, in its
// transaction: a reader never sees an event its block does not cover.
static weir_err
writer_save_ts(weir_store *st)
{
	weir__writer *w = &st->writer;
	for (size_t i = 0; i < w->ts_nranges; i++) {
		weir__ts_range *r = &w->ts_ranges[i];
		if (!r->used) {
			continue;
		}
		r->used = 0;
		weir__bind b;
		weir__bind_init(&b, w->ts_block_set);
		weir__bind_int64(&b, 1, (int64_t) (w->ts_first_block + i));
		weir__bind_int64(&b, 2, r->lo);
		weir__bind_int64(&b, 3, r->hi);
		weir_err rv = weir__bind_check(&b, st, w->db, "ts block");
		if (rv == WEIR_OK) {
			rv = weir__store_step_done(
			    st, w->db, w->ts_block_set, "ts block");
		}
		if (rv != WEIR_OK) {
			return rv;
		}
	}
	return WEIR_OK;
}

static int64_t
writer_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// After a full disk the WAL keeps the size it grew to (SQLite reuses it
// but never shrinks it), so freeing space would help little. A commit
// that succeeds again says space has returned: checkpoint and truncate
// the WAL, before the batch is acknowledged. A checkpoint that cannot
// finish (a reader still on old frames, or too little room yet for the
// database file) is tried again after a later commit, at most once a
// second, and never waits for readers (busy timeout 0 meanwhile).
static void
writer_shrink_wal(weir__writer *w)
{
	int64_t now = writer_mono_ns();
	if (now < w->shrink_after) {
		return;
	}
	sqlite3_busy_timeout(w->db, 0);
	int rc = sqlite3_wal_checkpoint_v2(
	    w->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(w->db, WEIR__STORE_BUSY_MS);
	w->shrink_wal   = rc != SQLITE_OK;
	w->shrink_after = now + 1000000000;
}

// Runs the requests of a batch in order: runs of plain appends and runs
// of inbox appends WEIR__APPEND_ROWS at a time (weir__append_rows,
// weir__append_inbox_rows), the rest one by one.
// Returns the storage error that fails the batch, or WEIR_OK.
static weir_err
writer_run_requests(weir_store *st, weir__req *r)
{
	size_t single = 0; // requests to run one by one from r
	while (r != NULL) {
		if (single == 0) {
			size_t n = r->inbox
			    ? weir__append_inbox_rows(st, r, &single)
			    : weir__append_rows(st, r, &single);
			if (r->rv != WEIR_OK) {
				return r->rv;
			}
			for (; n > 0; n--) {
				r = r->next;
			}
			continue;
		}
		r->rv = r->kind == WEIR__REQ_APPEND ? weir__append_exec(st, r)
		                                    : writer_run_call(st, r);
		if (weir__writer_is_hard(r->rv)) {
			return r->rv;
		}
		single--;
		r = r->next;
	}
	return WEIR_OK;
}

// Runs one batch in one transaction; sets every request's rv.
static void
writer_run_batch(weir_store *st, weir__req *batch)
{
	weir__writer *w     = &st->writer;
	uint64_t      start = w->next_seq;
	weir_err      hard  = writer_exec(st, "BEGIN IMMEDIATE");
	weir__req    *r;
	w->ts_first_block = start >> WEIR__TS_BLOCK_BITS;
	w->batch_calls    = 0;
	memset(w->ts_ranges, 0, w->ts_nranges * sizeof(*w->ts_ranges));
	if (hard == WEIR_OK) {
		hard = writer_run_requests(st, batch);
	}
	if (hard == WEIR_OK && w->next_seq != start) {
		hard = writer_save_ts(st);
	}
	// Only a call deletes events (a trim): a batch that ran one records
	// the highest seq handed out, so that an emptied log never hands
	// it out again (writer_load_seq). Appends alone leave it to
	// max(seq), sparing each commit the meta page.
	int save_seq = w->batch_calls && w->next_seq - 1 > w->meta_seq;
	if (hard == WEIR_OK && save_seq) {
		hard = writer_save_seq(st);
	}
	if (hard == WEIR_OK) {
		hard = writer_exec(st, "COMMIT");
	}
	if (hard == WEIR_OK) {
		w->meta_seq = save_seq ? w->next_seq - 1 : w->meta_seq;
		atomic_store(&w->committed_seq, w->next_seq - 1);
		atomic_fetch_add(&w->commits, 1);
		if (w->shrink_wal) {
			writer_shrink_wal(w);
		}
		return;
	}
	if (hard == WEIR_ENOSPC) {
		w->shrink_wal   = 1;
		w->shrink_after = 0;
	}
	// Nothing of this batch was acknowledged: undo it all and report
	// the storage error to every request that had not failed already.
	if (!sqlite3_get_autocommit(w->db)) {
		(void) sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	}
	w->next_seq = start;
	weir__inbox_rolled_back(w);
	for (r = batch; r != NULL; r = r->next) {
		int flush = r->kind == WEIR__REQ_CALL && r->call == NULL;
		if (!flush &&
		    (r->rv == WEIR_OK || weir__writer_is_hard(r->rv))) {
			r->rv  = hard;
			r->seq = 0;
		}
	}
}

// Acknowledges a finished batch in queue order. Async requests go to
// w->spent, freed by the next submitter (writer_free_spent).
static void
writer_finish(weir_store *st, weir__req *batch)
{
	weir__writer *w = &st->writer;
	for (weir__req *r = batch; r != NULL; r = r->next) {
		if (r->async && r->inbox_done != NULL) {
			r->inbox_done(st, r->rv, r->seq, r->dup, r->arg);
		} else if (r->async && r->done != NULL) {
			r->done(st, r->rv, r->seq, r->version, r->arg);
		}
		if (r->async) {
			weir_event_release(r->ev); // never kept past its ack
			r->ev = NULL;
		}
	}
	pthread_mutex_lock(&w->mu);
	weir__req *next;
	for (weir__req *r = batch; r != NULL; r = next) {
		next = r->next; // a woken waiter's request may vanish
		if (r->async) {
			r->next  = w->spent;
			w->spent = r;
		} else {
			r->finished = 1;
		}
	}
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->mu);
}

static void
writer_free_spent(weir__req *r)
{
	weir__req *next;
	for (; r != NULL; r = next) {
		next = r->next;
		weir__free(r);
	}
}

// Detaches up to max_batch requests; called with the mutex held.
static weir__req *
writer_take(weir__writer *w)
{
	weir__req *batch = w->head;
	weir__req *last  = batch;
	size_t     n     = 1;
	while (n < w->max_batch && last->next != NULL) {
		last = last->next;
		n++;
	}
	w->head    = last->next;
	last->next = NULL;
	if (w->head == NULL) {
		w->tail = NULL;
	}
	w->count -= n;
	pthread_cond_broadcast(&w->space);
	return batch;
}

static void *
writer_main(void *arg)
{
	weir_store   *st = arg;
	weir__writer *w  = &st->writer;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->head == NULL && !w->stopping) {
			pthread_cond_wait(&w->more, &w->mu);
		}
		if (w->head == NULL) {
			break; // stopping, and everything queued is done
		}
		weir__req *batch = writer_take(w);
		pthread_mutex_unlock(&w->mu);
		writer_run_batch(st, batch);
		writer_finish(st, batch);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void
writer_close_db(weir__writer *w)
{
	sqlite3_finalize(w->ins);
	for (int i = 0; i < WEIR__APPEND_SIZES; i++) {
		sqlite3_finalize(w->ins_rows[i]);
		sqlite3_finalize(w->inbox_any[i]);
		w->ins_rows[i]  = NULL;
		w->inbox_any[i] = NULL;
	}
	sqlite3_finalize(w->find_id);
	sqlite3_finalize(w->stream_get);
	sqlite3_finalize(w->stream_set);
	sqlite3_finalize(w->meta_set);
	sqlite3_finalize(w->inbox_has);
	sqlite3_finalize(w->ts_block_set);
	weir__free(w->ts_ranges);
	w->ts_ranges    = NULL;
	w->ts_block_set = NULL;
	w->ins = w->find_id = w->stream_get = w->stream_set = w->meta_set =
	    w->inbox_has                                    = NULL;
	sqlite3_close_v2(w->db);
	w->db = NULL;
}

weir_err
weir__writer_start(weir_store *st, sqlite3 *db)
{
	weir__writer *w = &st->writer;
	w->db           = db;
	w->capacity     = st->cfg.queue_capacity;
	// A batch never holds more than the queue does; the cap bounds the
	// per-batch block table below (1 << 24 requests in one transaction
	// is far past any gain from grouping).
	w->max_batch =
	    st->cfg.max_batch < w->capacity ? st->cfg.max_batch : w->capacity;
	if (w->max_batch > ((size_t) 1 << 24)) {
		w->max_batch = (size_t) 1 << 24;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->space, NULL);
	pthread_cond_init(&w->done, NULL);
	// A batch of max_batch appends spans at most this many blocks.
	w->ts_nranges = (w->max_batch >> WEIR__TS_BLOCK_BITS) + 2;
	w->ts_ranges  = weir__zalloc(w->ts_nranges * sizeof(*w->ts_ranges));
	weir_err rv   = w->ts_ranges != NULL
	      ? writer_prepare(st)
	      : weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	if (rv == WEIR_OK) {
		rv = writer_load_seq(st);
	}
	if (rv == WEIR_OK) {
		weir__inbox_load(st);
	}
	if (rv == WEIR_OK &&
	    pthread_create(&w->thread, NULL, writer_main, st) != 0) {
		rv = weir__store_fail(st, WEIR_ENOMEM, "cannot start writer");
	}
	if (rv != WEIR_OK) {
		writer_close_db(w);
		return rv;
	}
	w->started = 1;
	return WEIR_OK;
}

void
weir__writer_stop(weir_store *st)
{
	weir__writer *w = &st->writer;
	if (!w->started) {
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_broadcast(&w->more);
	pthread_cond_broadcast(&w->space);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->started = 0;
	writer_free_spent(w->spent);
	w->spent = NULL;
	writer_close_db(w);
}

weir_err
weir__writer_submit(weir_store *st, weir__req *r)
{
	weir__writer *w = &st->writer;
	r->next         = NULL;
	pthread_mutex_lock(&w->mu);
	weir__req *spent = w->spent;
	w->spent         = NULL;
	while (w->count >= w->capacity && !r->over && !w->stopping) {
		pthread_cond_wait(&w->space, &w->mu);
	}
	if (w->stopping || !w->started) {
		pthread_mutex_unlock(&w->mu);
		writer_free_spent(spent);
		return weir__store_fail(st, WEIR_ECLOSED, "store is closed");
	}
	if (w->tail != NULL) {
		w->tail->next = r;
	} else {
		w->head = r;
		pthread_cond_signal(&w->more);
	}
	w->tail = r;
	w->count++;
	if (!r->async) {
		while (!r->finished) {
			pthread_cond_wait(&w->done, &w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	writer_free_spent(spent);
	return WEIR_OK;
}

weir_err
weir__writer_call(weir_store *st, weir__call_fn call, void *arg)
{
	weir__req r = {
		.kind = WEIR__REQ_CALL, .call = call, .call_arg = arg
	};
	weir_err rv = weir__writer_submit(st, &r);
	return rv != WEIR_OK ? rv : r.rv;
}
