// The single writer: one connection, one thread, group commit.
#ifndef WEIR_STORE_WRITER_H
#define WEIR_STORE_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <sqlite3.h>

#include <weir/store.h>

typedef struct weir__req weir__req;

// The done callback of an inbox append (store/inbox.h).
typedef void (*weir__inbox_fn)(
    weir_store *st, weir_err err, uint64_t seq, int dup, void *arg);

// A write other than an append, run inside the writer's transaction in
// a savepoint of its own: an error rolls back only its own changes, and
// a storage error (see weir__writer_is_hard) fails the whole batch.
typedef weir_err (*weir__call_fn)(weir_store *st, sqlite3 *db, void *arg);

enum { WEIR__REQ_APPEND = 0, WEIR__REQ_CALL = 1 };

struct weir__req {
	weir__req *next;
	int        kind;
	int        async;    // owned by the writer (freed: w->spent)
	int        over;     // queued even when the queue is full (a few)
	int        finished; // sync requests: set under the writer's mutex
	weir_err   rv;
	// appends
	const weir_event    *ev; // held
	const char          *stream;
	const uint8_t       *hdr; // encoded headers
	size_t               hdr_len;
	int64_t              expected;
	uint64_t             seq;
	int64_t              version;
	weir_store_append_fn done;
	void                *arg;
	// inbox appends (store/inbox.h): dup is set when the id is in the
	// log or in the inbox already.
	int            inbox;
	int            dup;
	weir__inbox_fn inbox_done;
	// calls (NULL call: a flush marker)
	weir__call_fn call;
	void         *call_arg;
};

// The ts range of the rows a batch added to one block of seqs.
typedef struct weir__ts_range {
	int64_t lo;
	int64_t hi;
	int     used;
} weir__ts_range;

typedef struct weir__writer {
	sqlite3        *db;
	pthread_t       thread;
	int             started;
	pthread_mutex_t mu;
	pthread_cond_t  more;  // the queue became non-empty, or stopping
	pthread_cond_t  space; // the queue has room again
	pthread_cond_t  done;  // sync requests finished
	weir__req      *head;
	weir__req      *tail;
	size_t          count;
	size_t          capacity;
	size_t          max_batch;
	int             stopping;
	// Async requests done with (their events released), for the next
	// submitter to free: memory goes back on the thread that took it,
	// off the writer's thread, whose time bounds the store's appends.
	weir__req *spent;
	// Writer thread only.
	uint64_t      next_seq;
	sqlite3_stmt *ins;
	// ins_rows[i]: WEIR__APPEND_ROWS >> i rows at once (append.h)
	sqlite3_stmt *ins_rows[5];
	sqlite3_stmt *find_id;
	sqlite3_stmt *stream_get;
	sqlite3_stmt *stream_set;
	sqlite3_stmt *meta_set;
	// inbox_has: is one id in the inbox; inbox_any[i]: is any of the
	// ids of WEIR__APPEND_ROWS >> i inbox appends in it (inbox_rows.c)
	sqlite3_stmt *inbox_has;
	sqlite3_stmt *inbox_any[5];
	// What the writer knows of the inbox (inbox_rows.c): 0 while it is
	// known to have no rows; else no id above inbox_max (its largest,
	// cut or padded with zeros to 16 bytes) is in it. Inbox appends
	// look only ids at or below it up. Read at start, after a trim that
	// records ids and after a prune; a rolled-back batch makes it
	// cautious (rows, inbox_max all 0xff).
	int     inbox_rows;
	uint8_t inbox_max[16];
	// The store is marked as taking inbox appends (meta 'inbound', so
	// trims record the ids they remove); 0 after a rollback.
	int           inbound_marked;
	sqlite3_stmt *ts_block_set;
	// The blocks of seqs (schema.h) this batch adds rows to, from
	// ts_first_block on; written to events_ts_blocks before COMMIT.
	weir__ts_range *ts_ranges;
	size_t          ts_nranges;
	uint64_t        ts_first_block;
	// meta's last_seq is at least meta_seq (0 until this writer wrote
	// it); batch_calls: the batch ran a call (writer_run_batch).
	uint64_t meta_seq;
	int      batch_calls;
	int      shrink_wal;   // a batch failed with WEIR_ENOSPC
	int64_t  shrink_after; // monotonic ns of the next try
	// Any thread.
	atomic_uint_fast64_t committed_seq;
	atomic_uint_fast64_t commits; // transactions committed (tests)
} weir__writer;

// Takes ownership of @p db (open, migrated), prepares the statements
// and starts the thread. On error @p db is closed.
weir_err weir__writer_start(weir_store *st, sqlite3 *db);
// Commits what is queued, stops the thread, closes the connection.
void weir__writer_stop(weir_store *st);
// Queues @p r (blocking while the queue is full). A sync request is
// waited for; an async one belongs to the writer once this returns OK.
weir_err weir__writer_submit(weir_store *st, weir__req *r);
// Runs @p call inside the writer's transaction and waits for the commit.
weir_err weir__writer_call(weir_store *st, weir__call_fn call, void *arg);
// 1 for errors that fail a whole transaction (storage trouble).
int weir__writer_is_hard(weir_err rv);
// Notes that the batch added the event of @p seq with time @p ts, so
// that its block's ts range covers it (events_ts_blocks). Writer thread.
void weir__writer_note_ts(weir__writer *w, uint64_t seq, int64_t ts);

#endif
