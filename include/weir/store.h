/*
 * weir::store: a durable event log in SQLite (consumer API).
 *
 * An append-only log of weir events with a store-assigned `seq`, streams
 * with optimistic concurrency, snapshots, named cursors, retention,
 * replay into a bus or a callback, dead letters, and a way to log every
 * event a bus publishes. See docs/store.md.
 *
 * Threads: every function is thread-safe. All writes go through one
 * writer thread owned by the store (group commit); reads use separate
 * read-only connections. Callbacks given to read functions run on the
 * caller's thread; `done` callbacks of asynchronous appends run on the
 * store's writer thread (see weir_store_append).
 */
#ifndef WEIR_STORE_H
#define WEIR_STORE_H

#include <weir/weir.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_store               weir_store;
typedef struct weir_store_config        weir_store_config;
typedef struct weir_store_attachment    weir_store_attachment;
typedef struct weir_store_attach_config weir_store_attach_config;

/** What an acknowledged append survives. */
typedef enum weir_store_durability {
	/* Survives power loss: every commit is fsynced. */
	WEIR_STORE_DURABILITY_FULL = 0,
	/* Survives a process crash only: a power loss can roll back
	 * events that were already acknowledged. */
	WEIR_STORE_DURABILITY_NORMAL = 1
} weir_store_durability;

/** Largest encoded event accepted by default (payload limit + 64 KiB). */
#define WEIR_STORE_DEFAULT_MAX_EVENT (WEIR_DEFAULT_MAX_PAYLOAD + 65536u)
/** Longest stream, cursor or origin name, in bytes. */
#define WEIR_STORE_MAX_NAME 256

/* ---- configuration (cloned at open) ------------------------------- */

WEIR_API weir_err weir_store_config_create(weir_store_config **out);
WEIR_API void     weir_store_config_destroy(weir_store_config *cfg);
/** @brief FULL (default) or NORMAL. */
WEIR_API weir_err weir_store_config_set_durability(
    weir_store_config *cfg, weir_store_durability d);
/** @brief Largest encoded event (topic, key, headers, payload). */
WEIR_API weir_err weir_store_config_set_max_event(
    weir_store_config *cfg, size_t bytes);
/**
 * @brief Group commit: at most @p max_batch appends per transaction
 *        (default 8192), and at most @p queue_capacity requests waiting
 *        for the writer (default 8192) before appenders block.
 */
WEIR_API weir_err weir_store_config_set_batch(
    weir_store_config *cfg, size_t max_batch, size_t queue_capacity);
/**
 * @brief Caps the database at @p pages pages (SQLite max_page_count);
 *        0 (default) means no cap. A full store fails with WEIR_ENOSPC.
 */
WEIR_API weir_err weir_store_config_set_max_pages(
    weir_store_config *cfg, uint64_t pages);
/** @brief The SQLite VFS to use by name (NULL: the default one). */
WEIR_API weir_err weir_store_config_set_vfs(
    weir_store_config *cfg, const char *vfs);

/* ---- open, close ------------------------------------------------- */

/**
 * @brief Opens the store at @p path, creating it if needed, and
 *        migrates an older schema forward. The store file, its -wal and
 *        its -shm are made mode 0600 at every open, whatever the umask
 *        and whether or not they existed. An open that fails removes
 *        the file it created (a full disk leaves nothing behind).
 * @param cfg may be NULL for defaults; it is copied.
 * @returns WEIR_ENOENT (missing directory), WEIR_EREADONLY (directory or
 *          file not writable, or its mode cannot be made 0600),
 *          WEIR_ENOTSTORE (not a weir store; also a path that is not a
 *          regular file: a directory, FIFO, device or socket, refused
 *          before SQLite sees it, so nothing is created beside it),
 *          WEIR_EVERSION (made by a newer weir), WEIR_ENOTSUP (an
 *          in-memory path, or a VFS on which SQLite refuses WAL, e.g.
 *          one without shared memory: the store needs WAL and does not
 *          fall back to a rollback journal), WEIR_ECORRUPT, WEIR_EIO,
 *          WEIR_ESTORE, WEIR_EINVAL, WEIR_ENOMEM. On error *out is
 *          NULL; @p errmsg (may be NULL, @p errmsg_size bytes) receives
 *          the reason.
 */
WEIR_API weir_err weir_store_open(weir_store **out, const char *path,
    const weir_store_config *cfg, char *errmsg, size_t errmsg_size);
/**
 * @brief Stops the store: waits for queued appends to commit, stops the
 *        writer, closes every connection. The handle stays valid and
 *        every later call fails with WEIR_ECLOSED. Attachments must be
 *        destroyed first.
 */
WEIR_API void weir_store_close(weir_store *st);
/**
 * @brief Closes (if needed) and frees the store. NULL is a no-op.
 * @remark No other call on @p st may be running or start meanwhile:
 *         use weir_store_close() first to stop other threads cleanly.
 */
WEIR_API void weir_store_destroy(weir_store *st);
/**
 * @brief The text of the most recent error on this handle (SQLite's
 *        text included); never NULL.
 * @remark The buffer belongs to the store and another thread's error
 *         may overwrite it: with several threads use
 *         weir_store_errmsg_copy().
 */
WEIR_API const char *weir_store_errmsg(const weir_store *st);
/** @brief Copies the most recent error text into @p buf. */
WEIR_API void weir_store_errmsg_copy(
    const weir_store *st, char *buf, size_t size);
/** What weir_store_check_report() found damaged. */
typedef enum weir_store_damage {
	/* SQLite's integrity check (PRAGMA integrity_check) failed: the
	 * file's b-trees or indexes are damaged; text is SQLite's line. */
	WEIR_STORE_DAMAGE_INTEGRITY = 1,
	/* A table of the schema is missing or lacks a column. */
	WEIR_STORE_DAMAGE_TABLE = 2,
	/* A row holds a NULL or a value of the wrong type (e.g. a topic
	 * that is not text, an id that is not a 16-byte blob). */
	WEIR_STORE_DAMAGE_COLUMN = 3,
	/* A row's columns have the right types but it does not decode
	 * into an event (a malformed header blob, an invalid topic). */
	WEIR_STORE_DAMAGE_DECODE = 4
} weir_store_damage;

/** One problem found by weir_store_check_report(); borrowed for the
 *  callback. weir sets size to the sizeof it was built with. */
typedef struct weir_store_problem {
	size_t            size;  /* set by weir */
	weir_store_damage kind;  /* what is damaged */
	const char       *table; /* the table, or NULL (INTEGRITY) */
	/* The row: its seq in `events`, its id in `dead_letters`, 0
	 * elsewhere (text then names the row's key). */
	uint64_t    row;
	const char *text; /* a sentence for a person */
} weir_store_problem;

/** Receives one problem (on the caller's thread). */
typedef void (*weir_store_check_fn)(
    weir_store *st, const weir_store_problem *p, void *arg);

/**
 * @brief Checks the whole store on a read connection and reports, by
 *        calling @p fn once per problem, what is damaged: SQLite's
 *        integrity check (up to 100 lines), every table of the schema
 *        (missing, or a column missing), every row whose columns hold
 *        a NULL or a wrong type, and every event and dead letter that
 *        does not decode (by seq or id). Reads the whole log.
 * @param fn may be NULL: then only the result and errmsg tell.
 * @returns WEIR_OK (nothing found, fn never called); WEIR_ECORRUPT
 *          (at least one problem; errmsg holds the count and the
 *          first); WEIR_ECLOSED, WEIR_EINVAL (st NULL), WEIR_ENOMEM,
 *          WEIR_EIO, WEIR_ESTORE (the check itself could not run).
 * @remark Any thread; it runs beside appends, on one snapshot.
 */
WEIR_API weir_err weir_store_check_report(
    weir_store *st, weir_store_check_fn fn, void *arg);
/**
 * @brief weir_store_check_report() without a callback.
 * @returns WEIR_OK or WEIR_ECORRUPT (the count of problems and the
 *          first in errmsg), or an error of the check itself.
 */
WEIR_API weir_err weir_store_check(weir_store *st);

/* ---- append ------------------------------------------------------ */

/** weir_store_append_opts.expected */
#define WEIR_STORE_EXPECT_ANY (0)        /* no check (the zero default) */
#define WEIR_STORE_EXPECT_NO_STREAM (-1) /* the stream must not exist yet */
/* any value > 0: the stream's current version must be exactly that */

/** weir_store_append_opts.flags; any other bit is WEIR_EINVAL. */
#define WEIR_STORE_APPEND_NOWAIT 1u /* return once queued; see done */

/**
 * Called once an asynchronous append is committed (err WEIR_OK, with
 * its seq and stream version) or has failed. Runs on the writer
 * thread: keep it short, and never call a store function that writes
 * (append, flush, cursors, ...) from it: it would wait for itself.
 */
typedef void (*weir_store_append_fn)(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg);

/**
 * Options of one append. A NULL pointer means the defaults (all zero);
 * otherwise set size = sizeof (WEIR_STRUCT_INIT) and zero what is not
 * used.
 */
typedef struct weir_store_append_opts {
	size_t      size;          /* set by the caller */
	const char *stream;        /* the event's stream, or NULL */
	int64_t     expected;      /* WEIR_STORE_EXPECT_*, or a version > 0 */
	unsigned    flags;         /* WEIR_STORE_APPEND_NOWAIT */
	weir_store_append_fn done; /* NOWAIT only; may be NULL */
	void                *arg;
} weir_store_append_opts;

/**
 * @brief Appends @p ev (a reference is held while it is queued).
 *        Appending an event whose id is already in the log writes
 *        nothing and returns the original seq (and version).
 *        Streams start at version 1; each event adds one.
 * @param seq receives the assigned seq (0 with NOWAIT); may be NULL.
 * @param version receives the event's stream version; may be NULL.
 * @returns Without NOWAIT, after the commit: WEIR_OK, WEIR_ECONFLICT
 *          (expected version mismatch), WEIR_ENOSPC, WEIR_EIO,
 *          WEIR_ESTORE, WEIR_ECORRUPT. Either way, at once:
 *          WEIR_ETOOBIG (above max_event), WEIR_EBADTOPIC,
 *          WEIR_EBADNAME (stream), WEIR_ECLOSED, WEIR_EINVAL (unknown
 *          flags, opt->size below the 1.0 size, or an event past weir.h's
 *          limits, WEIR_MAX_HEADER_NAME and the others, which would not
 *          read back), WEIR_ENOTSUP (opt sets fields this weir does not
 *          know), WEIR_ENOMEM. With NOWAIT the
 *          outcome of the commit goes to opt->done, called exactly once
 *          if and only if this returns WEIR_OK.
 * @remark Blocks while the writer's queue is full (backpressure).
 */
WEIR_API weir_err weir_store_append(weir_store *st, const weir_event *ev,
    const weir_store_append_opts *opt, uint64_t *seq, int64_t *version);
/**
 * @brief Waits until every append queued so far has been committed or
 *        has failed (failures go to their own done callbacks).
 */
WEIR_API weir_err weir_store_flush(weir_store *st);
/** @brief The highest committed seq (0 for an empty log). */
WEIR_API weir_err weir_store_last_seq(weir_store *st, uint64_t *seq);

/* ---- reading ----------------------------------------------------- */

/**
 * Called for each event read. @p ev is borrowed for the call;
 * @p stream is NULL and @p version 0 for events outside a stream.
 * Returning anything but WEIR_OK stops the read, which returns it.
 */
typedef weir_err (*weir_store_read_fn)(weir_store *st, const weir_event *ev,
    const char *stream, int64_t version, void *arg);

/**
 * A selection of the log; zero fields do not filter. Set size = sizeof
 * (WEIR_STRUCT_INIT); a NULL filter pointer selects everything.
 * Ranges: seqs are 1 to INT64_MAX. from_seq above INT64_MAX is
 * WEIR_EINVAL; to_seq above INT64_MAX means no bound, as 0 does; a
 * limit above INT64_MAX means no limit, as 0 does.
 */
typedef struct weir_store_filter {
	size_t      size;     /* set by the caller */
	uint64_t    from_seq; /* first seq, inclusive */
	uint64_t    to_seq;   /* last seq, inclusive (0: no bound) */
	int64_t     from_ts;  /* unix ns, inclusive */
	int64_t     to_ts;    /* unix ns, inclusive (0: no bound) */
	const char *pattern;  /* topic pattern (`*`, `>`) */
	const char *stream;   /* only this stream */
	int         backward; /* newest first */
	size_t      limit;    /* at most this many events */
} weir_store_filter;

/**
 * @brief Calls @p fn for every event selected by @p f, in seq order,
 *        from one consistent snapshot of the log.
 * @returns WEIR_OK, what @p fn returned, WEIR_EBADPATTERN,
 *          WEIR_EBADNAME, WEIR_ECORRUPT, WEIR_ESTORE, WEIR_ECLOSED,
 *          WEIR_ENOMEM, WEIR_EINVAL (f->size below the 1.0 size),
 *          WEIR_ENOTSUP (f sets fields this weir does not know).
 */
WEIR_API weir_err weir_store_read(weir_store *st, const weir_store_filter *f,
    weir_store_read_fn fn, void *arg);
/** @brief Reads every event with seq >= @p from_seq (limit 0: all);
 *         from_seq above INT64_MAX is WEIR_EINVAL. */
WEIR_API weir_err weir_store_read_all(weir_store *st, uint64_t from_seq,
    size_t limit, weir_store_read_fn fn, void *arg);
/**
 * @brief Reads stream @p stream from @p from_version forward, or
 *        (backward != 0) from @p from_version down; from_version 0 means
 *        the first (forward) or the last (backward) event.
 */
WEIR_API weir_err weir_store_read_stream(weir_store *st, const char *stream,
    int64_t from_version, int backward, size_t limit, weir_store_read_fn fn,
    void *arg);
/** @brief The current version of @p stream (0 if it does not exist). */
WEIR_API weir_err weir_store_stream_version(
    weir_store *st, const char *stream, int64_t *version);

/* ---- snapshots --------------------------------------------------- */

/** Receives a snapshot; @p data is borrowed for the call. */
typedef void (*weir_store_snapshot_fn)(weir_store *st, const char *stream,
    int64_t version, const void *data, size_t len, void *arg);

/** @brief Saves the state of @p stream as of @p version (> 0). */
WEIR_API weir_err weir_store_snapshot_save(weir_store *st, const char *stream,
    int64_t version, const void *data, size_t len);
/**
 * @brief Calls @p fn with the latest snapshot of @p stream.
 * @returns WEIR_ENOENT (fn not called) if there is none.
 */
WEIR_API weir_err weir_store_snapshot_load(
    weir_store *st, const char *stream, weir_store_snapshot_fn fn, void *arg);

/* ---- cursors and retention --------------------------------------- */

/** @brief Creates or moves the cursor @p name to @p seq (0 to
 *         INT64_MAX; above is WEIR_EINVAL). */
WEIR_API weir_err weir_store_cursor_set(
    weir_store *st, const char *name, uint64_t seq);
/** @brief Reads a cursor; WEIR_ENOENT if it does not exist. */
WEIR_API weir_err weir_store_cursor_get(
    weir_store *st, const char *name, uint64_t *seq);
/** @brief Deletes a cursor; WEIR_ENOENT if it does not exist. */
WEIR_API weir_err weir_store_cursor_delete(weir_store *st, const char *name);
/** Receives one cursor; @p name is borrowed for the call and never
 *  NULL (a damaged row stops the list with WEIR_ECORRUPT). */
typedef void (*weir_store_cursor_fn)(
    weir_store *st, const char *name, uint64_t seq, void *arg);
/** @brief Lists the cursors in name order. */
WEIR_API weir_err weir_store_cursor_list(
    weir_store *st, weir_store_cursor_fn fn, void *arg);

/**
 * @brief Deletes events with seq < @p before_seq (0: no seq bound) and,
 *        if @p max_age_ns > 0, events older than now - max_age_ns.
 *        Never deletes an event that a cursor has not passed: the bound
 *        is lowered to (lowest cursor + 1). With both bounds 0 nothing
 *        is deleted.
 * @param deleted receives how many events went; may be NULL.
 * @returns WEIR_EINVAL for @p before_seq above INT64_MAX or a negative
 *          @p max_age_ns. A cursor at INT64_MAX passes every event.
 */
WEIR_API weir_err weir_store_trim(weir_store *st, uint64_t before_seq,
    int64_t max_age_ns, uint64_t *deleted);

/* ---- replay ------------------------------------------------------ */

typedef enum weir_store_replay_speed {
	WEIR_STORE_REPLAY_FAST   = 0, /* as fast as possible */
	WEIR_STORE_REPLAY_FACTOR = 1, /* original gaps divided by `factor` */
	WEIR_STORE_REPLAY_RATE   = 2  /* `rate` events per second */
} weir_store_replay_speed;

typedef enum weir_store_replay_target {
	WEIR_STORE_REPLAY_PUBLISH = 0, /* weir_publish_event() on `bus` */
	WEIR_STORE_REPLAY_EMIT    = 1, /* weir_emit_event() on `bus` */
	WEIR_STORE_REPLAY_CALL    = 2  /* `fn` */
} weir_store_replay_target;

/**
 * Progress: @p done events replayed out of @p total, the last @p seq.
 * Returning anything but WEIR_OK cancels the replay.
 */
typedef weir_err (*weir_store_progress_fn)(
    weir_store *st, uint64_t done, uint64_t total, uint64_t seq, void *arg);

/**
 * What to replay, where to, and how fast. Set size = sizeof
 * (WEIR_STRUCT_INIT). The filter is a pointer, not a member, so that
 * either struct can grow without moving the other's fields.
 */
typedef struct weir_store_replay_opts {
	size_t                   size;   /* set by the caller */
	const weir_store_filter *filter; /* NULL: the whole log */
	weir_store_replay_target target;
	weir_bus                *bus; /* PUBLISH, EMIT */
	weir_store_read_fn       fn;  /* CALL */
	void                    *arg; /* for fn */
	weir_store_replay_speed  speed;
	/* FACTOR and RATE: any value > 0 (NaN, 0 and negatives are
	 * WEIR_EINVAL); a wait longer than the int64 nanosecond range (a
	 * tiny factor or rate, timestamps at both ends of int64) lasts
	 * until weir_store_replay_cancel(), never shorter. */
	double                 factor;   /* FACTOR: 2.0 is twice as fast */
	double                 rate;     /* RATE: events per second */
	weir_store_progress_fn progress; /* may be NULL */
	void                  *progress_arg;
	uint64_t               progress_every; /* events; 0: 1000 */
} weir_store_replay_opts;

/**
 * @brief Replays the events selected by rp->filter (NULL: all), in seq
 *        order, on the calling thread.
 * @param count receives how many events were delivered; may be NULL.
 * @returns WEIR_OK; WEIR_ECANCELED (weir_store_replay_cancel(), or a
 *          callback returned an error); the bus's error (e.g. WEIR_EFULL)
 *          which stops the replay; WEIR_EBADPATTERN, WEIR_EINVAL,
 *          WEIR_ENOTSUP and WEIR_ENOMEM; size rules as for
 *          weir_store_read(), for @p rp and its filter.
 */
WEIR_API weir_err weir_store_replay(
    weir_store *st, const weir_store_replay_opts *rp, uint64_t *count);
/**
 * @brief Cancels every replay running on @p st now; they return
 *        WEIR_ECANCELED soon, also from a timed wait. Any thread,
 *        including a replay's own callbacks.
 */
WEIR_API void weir_store_replay_cancel(weir_store *st);

/* ---- dead letters ------------------------------------------------ */

/**
 * One dead letter; every pointer is borrowed for the callback. weir
 * sets size to the sizeof it was built with: a field past it is absent.
 */
typedef struct weir_store_dead_letter {
	size_t            size;          /* set by weir */
	uint64_t          id;            /* the dead letter's own id */
	const weir_event *ev;            /* the event that failed */
	const char       *origin;        /* route or subscription name */
	weir_err          code;          /* last error */
	const char       *message;       /* last error text */
	uint32_t          attempts;      /* failures so far */
	int64_t           first_failure; /* unix ns */
	int64_t           last_failure;  /* unix ns */
} weir_store_dead_letter;

/** Receives a dead letter. A non-OK return stops a list. @p dl->origin
 *  and message are never NULL: a damaged row (origin not text) stops
 *  the list with WEIR_ECORRUPT. */
typedef weir_err (*weir_store_dead_fn)(
    weir_store *st, const weir_store_dead_letter *dl, void *arg);

/**
 * @brief Records that @p ev failed at @p origin. A second failure of
 *        the same event at the same origin adds an attempt and updates
 *        the error and the last failure time.
 * @param id receives the dead letter's id; may be NULL.
 * @returns WEIR_ETOOBIG above the store's max_event (as for an
 *          append: a dead letter is never stored with a part missing),
 *          WEIR_EBADTOPIC, WEIR_EBADNAME (origin), WEIR_EINVAL (an
 *          event past weir.h's limits), storage errors.
 */
WEIR_API weir_err weir_store_dead_add(weir_store *st, const weir_event *ev,
    const char *origin, weir_err code, const char *message, uint64_t *id);
/** @brief Lists dead letters (of @p origin, or all if NULL), oldest
 *         first, at most @p limit (0: all). */
WEIR_API weir_err weir_store_dead_list(weir_store *st, const char *origin,
    size_t limit, weir_store_dead_fn fn, void *arg);
/**
 * @brief Hands dead letters (of @p origin, or all) back through @p fn,
 *        e.g. to publish on a bus or resend on a route. WEIR_OK from fn
 *        deletes the dead letter; an error counts a new attempt.
 * @param retried receives how many succeeded (and were deleted), also
 *        when the retry stopped early with an error; may be NULL.
 * @remark A retry that stops early (e.g. WEIR_ENOMEM) still deletes
 *         the dead letters fn already took, so none is handed out twice.
 */
WEIR_API weir_err weir_store_dead_retry(weir_store *st, const char *origin,
    weir_store_dead_fn fn, void *arg, size_t *retried);
/** @brief Deletes one dead letter by id; WEIR_ENOENT if unknown. */
WEIR_API weir_err weir_store_dead_delete(weir_store *st, uint64_t id);
/** @brief Deletes the dead letters of @p origin (NULL: all). */
WEIR_API weir_err weir_store_dead_purge(
    weir_store *st, const char *origin, uint64_t *purged);

/* ---- logging a bus ----------------------------------------------- */

/* Options of weir_store_attach (opaque, cloned at attach). */

/** @brief Creates an attach config with the defaults: a queue of 1024
 *         events, WEIR_POLICY_BLOCK without a timeout (publishers wait
 *         as long as it takes: nothing is shed), and the subscription
 *         name "store:<pattern>".
 * @returns WEIR_EINVAL (out NULL), WEIR_ENOMEM (*out NULL). */
WEIR_API weir_err weir_store_attach_config_create(
    weir_store_attach_config **out);
/** @brief Frees @p cfg; NULL is a no-op. Attachments made with it are
 *         not affected. */
WEIR_API void weir_store_attach_config_destroy(weir_store_attach_config *cfg);
/** @brief Capacity of the subscription's queue, 1 to 2^30 events. */
WEIR_API weir_err weir_store_attach_config_set_capacity(
    weir_store_attach_config *cfg, size_t capacity);
/**
 * @brief What a full queue does to publishers: @p policy as for
 *        weir_subscr_config_set_policy(); @p block_timeout_ms (BLOCK
 *        only) is -1 (no limit), 0 or a number of milliseconds.
 */
WEIR_API weir_err weir_store_attach_config_set_policy(
    weir_store_attach_config *cfg, weir_policy policy,
    int64_t block_timeout_ms);
/**
 * @brief The subscription's name, shown in the bus's stats (copied;
 *        NULL restores "store:<pattern>").
 * @returns WEIR_EINVAL (empty name), WEIR_ENOMEM.
 */
WEIR_API weir_err weir_store_attach_config_set_name(
    weir_store_attach_config *cfg, const char *name);

/**
 * Counters of an attachment (Rule 4: set size = sizeof before the call;
 * WEIR_STRUCT_INIT(weir_store_attach_stats) does it).
 */
typedef struct weir_store_attach_stats {
	size_t   size;     /* set by the caller */
	uint64_t appended; /* committed to the log */
	uint64_t failed;   /* appends that failed */
	/* The bus side: queue, drops, rejects. It is the last field so
	 * that it can grow with weir_subscr_stats: a caller's smaller size
	 * gets a prefix of it. No field is ever added after it. */
	weir_subscr_stats subscr;
} weir_store_attach_stats;

/**
 * @brief Logs every event published on @p bus whose topic matches
 *        @p pattern. The store subscribes with the queue capacity and
 *        policy of @p cfg (NULL: the defaults of
 *        weir_store_attach_config_create()); the subscription runs on a
 *        loop and thread of its own. When the writer falls behind, the
 *        queue fills and the policy applies to publishers, counted in
 *        the subscription's stats.
 * @param out receives the attachment; NULL on error.
 * @param cfg is read during the call only: the caller keeps and
 *        destroys it.
 * @returns WEIR_EBADPATTERN, WEIR_EINVAL, WEIR_ECLOSED, WEIR_ENOMEM;
 *          on error nothing is subscribed.
 * @remark Any thread. Detach before destroying the bus or the store.
 */
WEIR_API weir_err weir_store_attach(weir_store_attachment **out,
    weir_store *st, weir_bus *bus, const char *pattern,
    const weir_store_attach_config *cfg);
/**
 * @brief Counters of the attachment, written into the first
 *        out->size bytes of @p out.
 * @returns WEIR_EINVAL (NULL, or out->size below the 1.0 size).
 */
WEIR_API weir_err weir_store_attach_stats_get(
    weir_store_attachment *a, weir_store_attach_stats *out);
/**
 * @brief Logs what is still queued (waiting up to five seconds for the
 *        store to take it; what is left then is released, not logged),
 *        unsubscribes, stops the thread and frees the attachment. NULL
 *        is a no-op.
 * @remark Not from the attachment's own thread (a store callback).
 */
WEIR_API void weir_store_detach(weir_store_attachment *a);

#ifdef __cplusplus
}
#endif
#endif /* WEIR_STORE_H */
