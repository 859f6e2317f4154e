/*
 * weir::bridge backends for NATS: "nats" (JetStream, acknowledged by the
 * stream) and "natscore" (core NATS, at-most-once), and the sources of
 * the same names for inbound routes (a JetStream durable pull consumer;
 * a core subscription), at the end of the file. The only file that
 * includes <nats/nats.h>.
 */

// Design notes.
//
// - One state per backend instance (nats_state, allocated and zeroed by
//   the bridge: ops.state_size). init parses the "nats.*" keys into a
//   natsOptions; start connects (and for JetStream ensures the stream);
//   stop drains, hands every outstanding token its ack and closes; fini
//   frees. errmsg is valid after a failed init too.
// - Every publish that returns WEIR_OK is "outstanding" until exactly one
//   weir_sink_ack is made for its token. The count is bounded by
//   nats.max_pending: publish answers WEIR_EAGAIN at the bound instead of
//   blocking, so cnats's own stall (StallWait) is a safety net, not the
//   flow control.
// - JetStream: acks arrive on cnats's reply-subscription thread through
//   PublishAsync.AckHandler with the natsMsg we published. A small
//   pointer -> token map (nats_map) finds the token; the entry is put in
//   before js_PublishMsgAsync, because the ack can come back before that
//   call returns. Each publish carries a MaxWait (nats.ack_timeout_ms) so
//   a PubAck lost with a connection ends as a retriable timeout instead
//   of never.
// - Failures found on the caller's thread (a header NATS cannot carry, a
//   payload above the server's max, a closed connection) are queued on
//   the "done" ring and acked from poll(): the bridge never gets a sink
//   call from inside its own publish call.
// - core NATS has no acknowledgement. A token is "written" once cnats has
//   the message; poll() acks the written tokens once cnats's buffer is
//   empty on a connected socket (or a flush round trip succeeds).
// - Secrets (nats.password, nats.token, the user info of nats.url) are
//   copied only to scrub them out of every message this file makes, and
//   are wiped at fini (at most NATS_SECRETS: more fail init). This
//   file echoes no option's value; cnats's text for an option it
//   refused (quoted in errmsg) may name a file or a cipher list.

#include <nats/nats.h>

#include <weir/backend.h>
#include <weir/nats.h>

#include "bridge/nats.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/cetext.h"
#include "bridge/jsack.h"

#define NATS_ERRMSG 384
#define NATS_REASON 192
#define NATS_SECRETS 32
#define NATS_DENIED 8
#define NATS_SUBJECTS 64

/* ------------------------------------------------------------------ */
/* Error classification (docs/bridge.md, section NATS, has the table)  */
/* ------------------------------------------------------------------ */

typedef struct nats_class {
	int code;
	int retriable;
} nats_class;

// cnats statuses, from a PubAck handler or a publish call. Anything not
// listed is retriable: the relay's retry budget then ends in a dead
// letter, which loses nothing.
static const nats_class nats_status_table[] = {
	{ NATS_TIMEOUT, 1 },                 // no PubAck in time, stall
	{ NATS_NO_RESPONDERS, 1 },           // JetStream not (yet) there
	{ NATS_CONNECTION_CLOSED, 1 },       // connection lost for good
	{ NATS_CONNECTION_DISCONNECTED, 1 }, // reconnecting
	{ NATS_IO_ERROR, 1 },                // socket error
	{ NATS_NO_SERVER, 1 },               // no server reachable
	{ NATS_STALE_CONNECTION, 1 },        // pings unanswered
	{ NATS_NOT_YET_CONNECTED, 1 },       // connecting
	{ NATS_INSUFFICIENT_BUFFER, 1 },     // reconnect buffer full
	{ NATS_NO_MEMORY, 1 },               // local memory
	{ NATS_DRAINING, 1 },                // connection draining
	{ NATS_SLOW_CONSUMER, 1 },           // ack subscription overrun
	{ NATS_MAX_PAYLOAD, 0 },             // above the server's max
	{ NATS_INVALID_SUBJECT, 0 },         // bad destination
	{ NATS_INVALID_ARG, 0 },             // bad header name or value
	{ NATS_NOT_PERMITTED, 0 },           // permissions violation
	{ NATS_CONNECTION_AUTH_FAILED, 0 },  // credentials refused
};

// JetStream API error codes in a negative PubAck. Anything not listed is
// permanent: the stream answered and refused this message.
static const nats_class nats_js_table[] = {
	{ JSStreamStoreFailedErr, 1 },           // store failed (disk)
	{ JSInsufficientResourcesErr, 1 },       // server out of resources
	{ JSStorageResourcesExceededErr, 1 },    // storage full
	{ JSMemoryResourcesExceededErr, 1 },     // memory full
	{ JSAccountResourcesExceededErr, 1 },    // account limits
	{ JSClusterNotAvailErr, 1 },             // temporarily unavailable
	{ JSClusterNotLeaderErr, 1 },            // leader change
	{ JSStreamOfflineErr, 1 },               // stream offline
	{ JSStreamMessageExceedsMaximumErr, 0 }, // too large
	{ JSStreamNotFoundErr, 0 },              // no such stream
	{ JSStreamSealedErr, 0 },                // sealed stream
	{ JSNotEnabledErr, 0 },                  // JetStream off
	{ JSNotEnabledForAccountErr, 0 },        // JetStream off
	{ JSBadRequestErr, 0 },                  // malformed
};

static int
nats_lookup(const nats_class *t, size_t n, int code, int dflt)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].code == code) {
			return t[i].retriable;
		}
	}
	return dflt;
}

static int
nats_retriable(natsStatus s, jsErrCode code)
{
	if (code != 0) {
		return nats_lookup(nats_js_table,
		    sizeof nats_js_table / sizeof nats_js_table[0], (int) code,
		    0);
	}
	return nats_lookup(nats_status_table,
	    sizeof nats_status_table / sizeof nats_status_table[0], (int) s,
	    1);
}

int
weir__nats_retriable(int status, int js_code)
{
	return nats_retriable((natsStatus) status, (jsErrCode) js_code);
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

/* One published JetStream message waiting for its PubAck. */
typedef struct nats_slot {
	natsMsg *msg;
	uint64_t token;
} nats_slot;

/* A completion decided on the caller's thread, acked from poll(). */
typedef struct nats_done {
	uint64_t token;
	weir_err result;
	int      retriable;
	char     reason[NATS_REASON];
} nats_done;

typedef struct nats_state {
	int             jetstream; /* 1: "nats", 0: "natscore" */
	weir_sink      *sink;
	natsOptions    *opts;
	natsConnection *nc;
	jsCtx          *js;
	/* Settings (copied from the config at init). */
	char   *stream;
	char   *subjects;
	int     storage_memory;
	int64_t dup_window_ms;
	int64_t ack_timeout_ms;
	int64_t stall_wait_ms;
	size_t  max_pending;
	char   *secrets[NATS_SECRETS];
	/* Outstanding tokens; all below under mu. */
	pthread_mutex_t mu;
	pthread_cond_t  cond;
	int             mu_ok;
	int             running;
	size_t          outstanding;
	int             js_used; /* an async publish reached cnats (mu) */
	uint64_t        acked;   /* sink calls made, for poll's wait */
	nats_slot      *map;     /* JetStream: in flight, by natsMsg */
	size_t          map_mask;
	nats_done      *done; /* ring of max_pending */
	size_t          done_head, done_len;
	uint64_t       *written; /* core: ring of max_pending */
	size_t          written_head, written_len;
	char            denied[NATS_DENIED][128]; /* subjects refused */
	size_t          denied_next;
	char            err[NATS_ERRMSG];
} nats_state;

/* ------------------------------------------------------------------ */
/* Messages without secrets                                            */
/* ------------------------------------------------------------------ */

/* Replaces every occurrence of every secret in buf by "***" (scanning
 * forward, so a secret that looks like "***" cannot loop). */
static void
nats_scrub(const nats_state *st, char *buf, size_t cap)
{
	for (size_t i = 0; i < NATS_SECRETS && st->secrets[i] != NULL; i++) {
		const char *sec = st->secrets[i], *p = buf;
		size_t      n = strlen(sec), o = 0;
		char        out[NATS_ERRMSG];
		while (*p != '\0' && o + 4 < sizeof out) {
			if (strncmp(p, sec, n) == 0) {
				memcpy(out + o, "***", 3);
				o += 3;
				p += n;
			} else {
				out[o++] = *p++;
			}
		}
		out[o] = '\0';
		snprintf(buf, cap, "%s", out);
	}
}

static void nats_errf(nats_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
nats_errf(nats_state *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof st->err, fmt, ap);
	va_end(ap);
	nats_scrub(st, st->err, sizeof st->err);
}

/* cnats's text for the last error on this thread, else the status's. */
static const char *
nats_last_text(natsStatus s)
{
	natsStatus  ls;
	const char *t = nats_GetLastError(&ls);
	return (t != NULL && t[0] != '\0') ? t : natsStatus_GetText(s);
}

// Keeps a copy of secret @p sec (@p n bytes) for nats_scrub; an empty
// one needs none. Past NATS_SECRETS the option set is refused, by name:
// a secret not kept could not be scrubbed out of the messages.
static weir_err
nats_add_secret(nats_state *st, const char *sec, size_t n)
{
	size_t i = 0;
	while (i < NATS_SECRETS && st->secrets[i] != NULL) {
		i++;
	}
	if (n == 0) {
		return WEIR_OK;
	}
	if (i == NATS_SECRETS) {
		nats_errf(st,
		    "nats: more than %d secrets (nats.password, nats.token "
		    "and the user infos of nats.url)",
		    NATS_SECRETS);
		return WEIR_EINVAL;
	}
	st->secrets[i] = malloc(n + 1);
	if (st->secrets[i] == NULL) {
		return WEIR_ENOMEM;
	}
	memcpy(st->secrets[i], sec, n);
	st->secrets[i][n] = '\0';
	return WEIR_OK;
}

/* The user info (user:password) of each URL of a comma list. */
static weir_err
nats_add_url_secrets(nats_state *st, const char *urls)
{
	const char *p  = urls;
	weir_err    rv = WEIR_OK;
	while (rv == WEIR_OK && p != NULL && *p != '\0') {
		const char *end    = strchr(p, ',');
		const char *scheme = strstr(p, "://");
		const char *at     = strchr(p, '@');
		if (end == NULL) {
			end = p + strlen(p);
		}
		if (scheme != NULL && at != NULL && at < end && scheme < at) {
			rv = nats_add_secret(
			    st, scheme + 3, (size_t) (at - scheme - 3));
		}
		p = *end == ',' ? end + 1 : NULL;
	}
	return rv;
}

/* ------------------------------------------------------------------ */
/* Configuration: "nats.*" keys                                        */
/* ------------------------------------------------------------------ */

/* Borrowed values of the keys, valid during init only. */
typedef struct nats_conf {
	const char *url, *name, *user, *password, *token, *creds;
	const char *tls, *tls_ca, *tls_cert, *tls_key, *tls_host, *tls_ciphers;
	const char *tls_skip;
	const char *timeout_ms, *max_reconnect, *reconnect_wait_ms;
	const char *reconnect_buf, *ping_ms;
	const char *stream, *subjects, *dup_ms, *storage;
	const char *ack_timeout_ms, *max_pending, *stall_wait_ms;
	const char *in_ack_wait_ms, *in_max_ack_pending;
	const char *in_pending_msgs, *in_pending_bytes;
} nats_conf;

typedef struct nats_key {
	const char *name;
	size_t      off;
} nats_key;

#define NATS_KEY(name, field)                    \
	{                                        \
		name, offsetof(nats_conf, field) \
	}
static const nats_key nats_keys[] = {
	NATS_KEY("nats.url", url),
	NATS_KEY("nats.name", name),
	NATS_KEY("nats.user", user),
	NATS_KEY("nats.password", password),
	NATS_KEY("nats.token", token),
	NATS_KEY("nats.creds", creds),
	NATS_KEY("nats.tls", tls),
	NATS_KEY("nats.tls.ca_file", tls_ca),
	NATS_KEY("nats.tls.cert_file", tls_cert),
	NATS_KEY("nats.tls.key_file", tls_key),
	NATS_KEY("nats.tls.hostname", tls_host),
	NATS_KEY("nats.tls.ciphers", tls_ciphers),
	NATS_KEY("nats.tls.skip_verify", tls_skip),
	NATS_KEY("nats.timeout_ms", timeout_ms),
	NATS_KEY("nats.max_reconnect", max_reconnect),
	NATS_KEY("nats.reconnect_wait_ms", reconnect_wait_ms),
	NATS_KEY("nats.reconnect_buf_size", reconnect_buf),
	NATS_KEY("nats.ping_interval_ms", ping_ms),
	NATS_KEY("nats.stream", stream),
	NATS_KEY("nats.stream.subjects", subjects),
	NATS_KEY("nats.stream.duplicate_window_ms", dup_ms),
	NATS_KEY("nats.stream.storage", storage),
	NATS_KEY("nats.ack_timeout_ms", ack_timeout_ms),
	NATS_KEY("nats.max_pending", max_pending),
	NATS_KEY("nats.stall_wait_ms", stall_wait_ms),
	NATS_KEY("nats.in.ack_wait_ms", in_ack_wait_ms),
	NATS_KEY("nats.in.max_ack_pending", in_max_ack_pending),
	NATS_KEY("nats.in.pending_msgs", in_pending_msgs),
	NATS_KEY("nats.in.pending_bytes", in_pending_bytes),
};
#undef NATS_KEY

typedef struct nats_parse {
	nats_state *st;
	nats_conf   conf;
} nats_parse;

static weir_err
nats_conf_one(const char *key, const char *value, void *arg)
{
	nats_parse *np = arg;
	for (size_t i = 0; i < sizeof nats_keys / sizeof nats_keys[0]; i++) {
		if (strcmp(key, nats_keys[i].name) == 0) {
			*(const char **) ((char *) &np->conf +
			    nats_keys[i].off) = value;
			return WEIR_OK;
		}
	}
	nats_errf(np->st, "nats: unknown option '%.100s'", key);
	return WEIR_EINVAL;
}

/* An integer option in [lo, hi]; unset leaves *out alone. */
static weir_err
nats_int(nats_state *st, const char *key, const char *v, int64_t lo,
    int64_t hi, int64_t *out)
{
	char     *end;
	long long n;
	if (v == NULL) {
		return WEIR_OK;
	}
	n = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
		nats_errf(st,
		    "nats: option '%s' wants an integer from %" PRId64
		    " to %" PRId64,
		    key, lo, hi);
		return WEIR_EINVAL;
	}
	*out = n;
	return WEIR_OK;
}

/* A boolean option: true/false/1/0; unset is false. */
static weir_err
nats_bool(nats_state *st, const char *key, const char *v, int *out)
{
	*out = 0;
	if (v == NULL || strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
		return WEIR_OK;
	}
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*out = 1;
		return WEIR_OK;
	}
	nats_errf(st, "nats: option '%s' wants true or false", key);
	return WEIR_EINVAL;
}

/* Reports a cnats setter's failure, naming the option. */
static weir_err
nats_opt_status(nats_state *st, const char *key, natsStatus s)
{
	if (s == NATS_OK) {
		return WEIR_OK;
	}
	nats_errf(st, "nats: option '%s': %s", key, nats_last_text(s));
	return s == NATS_NO_MEMORY ? WEIR_ENOMEM : WEIR_EINVAL;
}

static weir_err
nats_apply_auth(nats_state *st, const nats_conf *c)
{
	natsOptions *o  = st->opts;
	weir_err     rv = WEIR_OK;
	if (c->url != NULL) {
		rv = nats_opt_status(
		    st, "nats.url", natsOptions_SetURL(o, c->url));
	}
	if (rv == WEIR_OK && c->name != NULL) {
		rv = nats_opt_status(
		    st, "nats.name", natsOptions_SetName(o, c->name));
	}
	if (rv == WEIR_OK && (c->user != NULL || c->password != NULL)) {
		rv = nats_opt_status(st, "nats.user",
		    natsOptions_SetUserInfo(o, c->user, c->password));
	}
	if (rv == WEIR_OK && c->token != NULL) {
		rv = nats_opt_status(
		    st, "nats.token", natsOptions_SetToken(o, c->token));
	}
	if (rv == WEIR_OK && c->creds != NULL) {
		rv = nats_opt_status(st, "nats.creds",
		    natsOptions_SetUserCredentialsFromFiles(
		        o, c->creds, NULL));
	}
	return rv;
}

static weir_err
nats_apply_tls(nats_state *st, const nats_conf *c)
{
	natsOptions *o  = st->opts;
	int          on = 0, skip = 0;
	weir_err     rv = nats_bool(st, "nats.tls", c->tls, &on);
	if (rv == WEIR_OK) {
		rv = nats_bool(st, "nats.tls.skip_verify", c->tls_skip, &skip);
	}
	if (rv == WEIR_OK && on) {
		rv = nats_opt_status(
		    st, "nats.tls", natsOptions_SetSecure(o, 1));
	}
	if (rv == WEIR_OK && c->tls_ca != NULL) {
		rv = nats_opt_status(st, "nats.tls.ca_file",
		    natsOptions_LoadCATrustedCertificates(o, c->tls_ca));
	}
	if (rv == WEIR_OK && (c->tls_cert != NULL || c->tls_key != NULL)) {
		rv = nats_opt_status(st, "nats.tls.cert_file",
		    natsOptions_LoadCertificatesChain(
		        o, c->tls_cert, c->tls_key));
	}
	if (rv == WEIR_OK && c->tls_host != NULL) {
		rv = nats_opt_status(st, "nats.tls.hostname",
		    natsOptions_SetExpectedHostname(o, c->tls_host));
	}
	if (rv == WEIR_OK && c->tls_ciphers != NULL) {
		rv = nats_opt_status(st, "nats.tls.ciphers",
		    natsOptions_SetCiphers(o, c->tls_ciphers));
	}
	if (rv == WEIR_OK && skip) {
		rv = nats_opt_status(st, "nats.tls.skip_verify",
		    natsOptions_SkipServerVerification(o, 1));
	}
	return rv;
}

/* Connection timings. A bridge reconnects for ever by default. */
static weir_err
nats_apply_conn(nats_state *st, const nats_conf *c)
{
	natsOptions *o       = st->opts;
	int64_t      timeout = 2000, maxr = -1, wait = 200;
	int64_t      buf = 8 * 1024 * 1024, ping = 120000;
	weir_err     rv;
	if ((rv = nats_int(st, "nats.timeout_ms", c->timeout_ms, 1, INT32_MAX,
	         &timeout)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.max_reconnect", c->max_reconnect, -1,
	         INT32_MAX, &maxr)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.reconnect_wait_ms", c->reconnect_wait_ms,
	         1, INT32_MAX, &wait)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.reconnect_buf_size", c->reconnect_buf, 0,
	         INT32_MAX, &buf)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.ping_interval_ms", c->ping_ms, 1,
	         INT32_MAX, &ping)) != WEIR_OK) {
		return rv;
	}
	if (natsOptions_SetTimeout(o, timeout) != NATS_OK ||
	    natsOptions_SetMaxReconnect(o, (int) maxr) != NATS_OK ||
	    natsOptions_SetReconnectWait(o, wait) != NATS_OK ||
	    natsOptions_SetReconnectBufSize(o, (int) buf) != NATS_OK ||
	    natsOptions_SetPingInterval(o, ping) != NATS_OK) {
		nats_errf(st, "nats: connection options: %s",
		    nats_last_text(NATS_ERR));
		return WEIR_EINVAL;
	}
	return WEIR_OK;
}

static char *
nats_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char  *d = malloc(n);
	return d != NULL ? memcpy(d, s, n) : NULL;
}

/* The items of a comma list (empty ones do not count). */
static int
nats_list_len(const char *list)
{
	int n = 0;
	for (const char *p = list; *p != '\0'; p++) {
		n += *p != ',' && (p == list || p[-1] == ',');
	}
	return n;
}

/* JetStream and flow-control settings, kept in the state. */
static weir_err
nats_apply_flow(nats_state *st, const nats_conf *c)
{
	int64_t  pending = 4000;
	weir_err rv;
	st->dup_window_ms  = 120000;
	st->ack_timeout_ms = 10000;
	st->stall_wait_ms  = 30000;
	if ((rv = nats_int(st, "nats.max_pending", c->max_pending, 1, 65536,
	         &pending)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.ack_timeout_ms", c->ack_timeout_ms, 1,
	         INT32_MAX, &st->ack_timeout_ms)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.stall_wait_ms", c->stall_wait_ms, 1,
	         INT32_MAX, &st->stall_wait_ms)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.stream.duplicate_window_ms", c->dup_ms, 1,
	         INT64_MAX / 1000000, &st->dup_window_ms)) != WEIR_OK) {
		return rv;
	}
	st->max_pending = (size_t) pending;
	if (c->storage != NULL && strcmp(c->storage, "file") != 0 &&
	    strcmp(c->storage, "memory") != 0) {
		nats_errf(st,
		    "nats: option 'nats.stream.storage' wants file "
		    "or memory");
		return WEIR_EINVAL;
	}
	st->storage_memory = c->storage != NULL && c->storage[0] == 'm';
	if (c->subjects != NULL &&
	    nats_list_len(c->subjects) > NATS_SUBJECTS) {
		nats_errf(st,
		    "nats: option 'nats.stream.subjects' holds more than %d "
		    "subjects",
		    NATS_SUBJECTS);
		return WEIR_EINVAL;
	}
	if ((c->stream != NULL && !(st->stream = nats_strdup(c->stream))) ||
	    (c->subjects != NULL &&
	        !(st->subjects = nats_strdup(c->subjects)))) {
		return WEIR_ENOMEM;
	}
	return WEIR_OK;
}

static weir_err
nats_apply_secrets(nats_state *st, const nats_conf *c)
{
	weir_err rv = WEIR_OK;
	if (c->password != NULL) {
		rv = nats_add_secret(st, c->password, strlen(c->password));
	}
	if (rv == WEIR_OK && c->token != NULL) {
		rv = nats_add_secret(st, c->token, strlen(c->token));
	}
	if (rv == WEIR_OK && c->url != NULL) {
		rv = nats_add_url_secrets(st, c->url);
	}
	return rv;
}

/* ------------------------------------------------------------------ */
/* Outstanding tokens                                                  */
/* ------------------------------------------------------------------ */

static size_t
nats_map_hash(const nats_state *st, const natsMsg *msg)
{
	uint64_t x = (uint64_t) (uintptr_t) msg;
	x ^= x >> 29;
	x *= UINT64_C(0x9E3779B97F4A7C15);
	return (size_t) (x >> 32) & st->map_mask;
}

static void
nats_map_put(nats_state *st, natsMsg *msg, uint64_t token)
{
	size_t i = nats_map_hash(st, msg);
	while (st->map[i].msg != NULL) {
		i = (i + 1) & st->map_mask;
	}
	st->map[i].msg   = msg;
	st->map[i].token = token;
}

/* Removes msg's entry (linear probing, backward-shift deletion). */
static int
nats_map_take(nats_state *st, const natsMsg *msg, uint64_t *token)
{
	size_t i = nats_map_hash(st, msg), j, k;
	while (st->map[i].msg != msg) {
		if (st->map[i].msg == NULL) {
			return 0;
		}
		i = (i + 1) & st->map_mask;
	}
	*token = st->map[i].token;
	for (j = i;;) {
		j = (j + 1) & st->map_mask;
		if (st->map[j].msg == NULL) {
			break;
		}
		k = nats_map_hash(st, st->map[j].msg);
		// Move j back to i unless its home k lies cyclically in (i,
		// j].
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j)) {
			continue;
		}
		st->map[i] = st->map[j];
		i          = j;
	}
	st->map[i].msg = NULL;
	return 1;
}

/* Queues a completion for poll(); mu held. Every completion has a
 * reason (the sink call then carries it). */
static void
nats_done_push(nats_state *st, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	nats_done *d =
	    &st->done[(st->done_head + st->done_len) % st->max_pending];
	st->done_len++;
	d->token     = token;
	d->result    = result;
	d->retriable = retriable;
	snprintf(d->reason, sizeof d->reason, "%s", reason);
	nats_scrub(st, d->reason, sizeof d->reason);
}

/* The sink call for one token; mu NOT held. */
static void
nats_ack(nats_state *st, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	weir_sink_ack(st->sink, token, result, retriable, reason);
	pthread_mutex_lock(&st->mu);
	st->outstanding--;
	st->acked++;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->mu);
}

/* Acks every queued completion; returns how many. */
static size_t
nats_done_deliver(nats_state *st)
{
	size_t n = 0;
	for (;;) {
		nats_done d;
		pthread_mutex_lock(&st->mu);
		if (st->done_len == 0) {
			pthread_mutex_unlock(&st->mu);
			return n;
		}
		d             = st->done[st->done_head];
		st->done_head = (st->done_head + 1) % st->max_pending;
		st->done_len--;
		pthread_mutex_unlock(&st->mu);
		nats_ack(st, d.token, d.result, d.retriable, d.reason);
		n++;
	}
}

/* ------------------------------------------------------------------ */
/* Headers                                                             */
/* ------------------------------------------------------------------ */

// CloudEvents NATS binding (working draft, binary mode): a header value
// is printable US-ASCII; a space, '"', '%' and every byte outside
// U+0021-U+007E is percent-encoded, upper-case hex. out holds 3n+1.
static void
nats_pct_encode(const char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) in[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == '%') {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		} else {
			*out++ = (char) c;
		}
	}
	*out = '\0';
}

/* 1 if the n bytes of v need no percent-encoding. */
static int
nats_pct_plain(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) v[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == '%') {
			return 0;
		}
	}
	return 1;
}

// v is NUL-terminated at n when z is set: a plain value (a topic, the
// source: nearly always) then goes to cnats as it is, without a copy.
static natsStatus
nats_set_encoded(natsMsg *m, const char *name, const char *v, size_t n, int z)
{
	char       small[256], *buf;
	natsStatus s;
	if (z && nats_pct_plain(v, n)) {
		return natsMsgHeader_Set(m, name, v);
	}
	buf = 3 * n + 1 <= sizeof small ? small : malloc(3 * n + 1);
	if (buf == NULL) {
		return NATS_NO_MEMORY;
	}
	nats_pct_encode(v, n, buf);
	s = natsMsgHeader_Set(m, name, buf);
	if (buf != small) {
		free(buf);
	}
	return s;
}

/* Copies at most @p max bytes of @p s into @p out for a reason text,
 * escaping what is not printable ASCII (\r, \n, \t, \xHH): a name or
 * subject quoted in a dead letter cannot forge lines where it is
 * printed. Stops early rather than cut an escape in two. */
static const char *
nats_quote(char *out, size_t cap, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t            o     = 0;
	for (size_t i = 0; i < max && s[i] != '\0' && o + 5 <= cap; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char) c;
			continue;
		}
		out[o++] = '\\';
		if (c == '\r' || c == '\n' || c == '\t') {
			out[o++] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
			continue;
		}
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
	return out;
}

/* NATS header names: printable ASCII without ':'; values without NUL,
 * CR or LF (the wire format is line based). */
static int
nats_header_ok(const char *name, const char *v, size_t n)
{
	if (name[0] == '\0') {
		return 0;
	}
	for (const char *p = name; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == ':') {
			return 0;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\0' || v[i] == '\r' || v[i] == '\n') {
			return 0;
		}
	}
	return 1;
}

/* Every event header, unchanged (traceparent among them). */
static natsStatus
nats_set_user_headers(natsMsg *m, const weir_event *ev, char *why, size_t cap)
{
	size_t count = weir_event_header_count(ev);
	for (size_t i = 0; i < count; i++) {
		const char *name;
		const void *v;
		size_t      n;
		char        small[256], *buf;
		natsStatus  s;
		weir_event_header(ev, i, &name, &v, &n);
		if (!nats_header_ok(name, v, n)) {
			// %.90s: the quote (at most 64 bytes of the name,
			// escaped) fits beside the text in any reason buffer.
			snprintf(why, cap,
			    "header '%.90s' cannot be carried by NATS (name "
			    "with ':' or space, or value with NUL/CR/LF)",
			    nats_quote(small, sizeof small, name, 64));
			return NATS_INVALID_ARG;
		}
		buf = n + 1 <= sizeof small ? small : malloc(n + 1);
		if (buf == NULL) {
			return NATS_NO_MEMORY;
		}
		memcpy(buf, v, n);
		buf[n] = '\0';
		s      = natsMsgHeader_Add(m, name, buf);
		if (buf != small) {
			free(buf);
		}
		if (s != NATS_OK) {
			return s;
		}
	}
	return NATS_OK;
}

/* The CloudEvents attributes, weir-seq and Nats-Msg-Id. Set after the
 * event's own headers, so these win over an event header of that name. */
static natsStatus
nats_set_ce_headers(natsMsg *m, const weir_bridge_msg *bm, int msg_id)
{
	const weir_event *ev   = bm->ev;
	const char       *src  = bm->source != NULL ? bm->source : "weir";
	const char       *type = weir_event_topic(ev);
	const void       *ct;
	size_t            ct_len;
	char              id[37], tm[40], seq[24];
	natsStatus        s;
	weir_uuid_format(weir_event_id(ev), id);
	weir__ce_time(weir_event_ts(ev), tm);
	weir__ce_u64(bm->seq, seq);
	s = natsMsgHeader_Set(m, "ce-specversion", "1.0");
	if (s == NATS_OK) {
		s = natsMsgHeader_Set(m, "ce-id", id);
	}
	if (s == NATS_OK) {
		s = nats_set_encoded(m, "ce-source", src, strlen(src), 1);
	}
	if (s == NATS_OK) {
		s = nats_set_encoded(m, "ce-type", type, strlen(type), 1);
	}
	if (s == NATS_OK) {
		s = natsMsgHeader_Set(m, "ce-time", tm);
	}
	ct = weir_event_header_get(ev, "content-type", &ct_len);
	if (s == NATS_OK && ct != NULL) {
		s = nats_set_encoded(m, "ce-datacontenttype", ct, ct_len, 0);
	}
	if (s == NATS_OK) {
		s = natsMsgHeader_Set(m, "weir-seq", seq);
	}
	if (s == NATS_OK && msg_id) {
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	}
	return s;
}

/* A subject a message can be published to: dot-separated non-empty
 * tokens of printable characters, no wildcard token. The server does
 * not refuse the others: JetStream answers "no responders", which
 * would read as retriable, and the relay would retry for ever. */
static int
nats_subject_ok(const char *subj)
{
	size_t tok = 0; /* length of the current token */
	for (const char *p = subj;; p++) {
		if (*p == '.' || *p == '\0') {
			if (tok == 0 ||
			    (tok == 1 && (p[-1] == '*' || p[-1] == '>')))
				return 0;
			if (*p == '\0')
				return 1;
			tok = 0;
		} else if ((unsigned char) *p <= ' ' || *p == 0x7f) {
			return 0;
		} else {
			tok++;
		}
	}
}

/* Builds the natsMsg for bm; on failure why says what (for the ack). */
static natsStatus
nats_build(natsMsg **out, const weir_bridge_msg *bm, int msg_id, char *why,
    size_t cap)
{
	size_t      len;
	const void *data = weir_event_payload(bm->ev, &len);
	natsStatus  s;
	*out   = NULL;
	why[0] = '\0';
	if (bm->dest == NULL || len > INT32_MAX) {
		snprintf(why, cap, "%s",
		    bm->dest == NULL ? "no subject" : "payload too large");
		return bm->dest == NULL ? NATS_INVALID_SUBJECT
		                        : NATS_MAX_PAYLOAD;
	}
	if (!nats_subject_ok(bm->dest)) {
		char q[404];
		snprintf(why, cap,
		    "invalid subject '%.120s' (an empty or wildcard token)",
		    nats_quote(q, sizeof q, bm->dest, 100));
		return NATS_INVALID_SUBJECT;
	}
	s = natsMsg_Create(out, bm->dest, NULL, data, (int) len);
	if (s == NATS_OK) {
		s = nats_set_user_headers(*out, bm->ev, why, cap);
	}
	if (s == NATS_OK) {
		s = nats_set_ce_headers(*out, bm, msg_id);
	}
	if (s != NATS_OK) {
		if (why[0] == '\0') {
			snprintf(why, cap, "%s", nats_last_text(s));
		}
		natsMsg_Destroy(*out);
		*out = NULL;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* Callbacks from cnats's threads                                      */
/* ------------------------------------------------------------------ */

/* Keeps the subject of a "Permissions Violation for Publish to "subj""
 * so that a PubAck timing out on that subject is known as permanent. */
static void
nats_on_error(
    natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	nats_state *st   = closure;
	const char *text = NULL, *p, *q;
	(void) sub;
	if (err != NATS_NOT_PERMITTED ||
	    natsConnection_GetLastError(nc, &text) == NATS_OK ||
	    text == NULL || (p = strstr(text, "Publish to \"")) == NULL) {
		return;
	}
	p += strlen("Publish to \"");
	q = strchr(p, '"');
	if (q == NULL || (size_t) (q - p) >= sizeof st->denied[0]) {
		return;
	}
	pthread_mutex_lock(&st->mu);
	memcpy(st->denied[st->denied_next], p, (size_t) (q - p));
	st->denied[st->denied_next][q - p] = '\0';
	st->denied_next = (st->denied_next + 1) % NATS_DENIED;
	pthread_mutex_unlock(&st->mu);
}

static int
nats_denied(nats_state *st, const char *subject)
{
	int hit = 0;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < NATS_DENIED && !hit; i++) {
		hit = strcmp(st->denied[i], subject) == 0;
	}
	pthread_mutex_unlock(&st->mu);
	return hit;
}

/* Classifies a negative PubAck and makes the sink call. */
static void
nats_ack_error(
    nats_state *st, natsMsg *msg, uint64_t token, const jsPubAckErr *pae)
{
	char        reason[NATS_REASON];
	int         retriable = nats_retriable(pae->Err, pae->ErrCode);
	const char *subj      = natsMsg_GetSubject(msg);
	if (pae->ErrCode != 0) {
		snprintf(reason, sizeof reason, "%s (JetStream error %d)",
		    pae->ErrText ? pae->ErrText : "", (int) pae->ErrCode);
	} else if (pae->Err == NATS_TIMEOUT && subj && nats_denied(st, subj)) {
		snprintf(reason, sizeof reason,
		    "Permissions Violation for Publish to \"%.100s\"", subj);
		retriable = 0;
	} else {
		snprintf(reason, sizeof reason, "%s",
		    pae->ErrText ? pae->ErrText
		                 : natsStatus_GetText(pae->Err));
	}
	nats_scrub(st, reason, sizeof reason);
	nats_ack(st, token, WEIR_EBACKEND, retriable, reason);
}

// PublishAsync.AckHandler: one call per published message, positive
// (PubAck, possibly marked duplicate) or negative (error or timeout).
static void
nats_on_puback(
    jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	nats_state *st = closure;
	uint64_t    token;
	int         found;
	(void) js;
	pthread_mutex_lock(&st->mu);
	found = nats_map_take(st, msg, &token);
	pthread_mutex_unlock(&st->mu);
	if (found && pa != NULL) {
		// A duplicate: the stream already holds this id, so the
		// message is as delivered as the first copy was.
		nats_ack(
		    st, token, WEIR_OK, 0, pa->Duplicate ? "duplicate" : NULL);
	} else if (found) {
		nats_ack_error(st, msg, token, pae);
	}
	natsMsg_Destroy(msg);
}

/* ------------------------------------------------------------------ */
/* Backend operations                                                  */
/* ------------------------------------------------------------------ */

static void nats_release(nats_state *st);

static weir_err
nats_alloc(nats_state *st)
{
	size_t cap = 1;
	while (cap < 2 * st->max_pending) {
		cap <<= 1;
	}
	st->done = calloc(st->max_pending, sizeof *st->done);
	if (st->jetstream) {
		st->map      = calloc(cap, sizeof *st->map);
		st->map_mask = cap - 1;
	} else {
		st->written = calloc(st->max_pending, sizeof *st->written);
	}
	if (st->done == NULL || (st->map == NULL && st->written == NULL)) {
		return WEIR_ENOMEM;
	}
	return WEIR_OK;
}

// Reads the "nats.*" keys into st->opts and st's settings: the part of
// init the backends and the sources share. conf receives the borrowed
// values, for the keys only one side reads. On error st->err says which
// option; the caller releases st.
static weir_err
nats_load(nats_state *st, const weir_bridge_config *cfg, nats_conf *conf)
{
	nats_parse np = { .st = st };
	weir_err   rv;
	if (pthread_mutex_init(&st->mu, NULL) != 0 ||
	    pthread_cond_init(&st->cond, NULL) != 0) {
		return WEIR_ENOMEM;
	}
	st->mu_ok = 1;
	rv        = weir_bridge_config_each(cfg, "nats.", nats_conf_one, &np);
	if (rv == WEIR_OK) {
		rv = nats_apply_secrets(st, &np.conf);
	}
	if (rv == WEIR_OK && natsOptions_Create(&st->opts) != NATS_OK) {
		nats_errf(st, "nats: %s", nats_last_text(NATS_NO_MEMORY));
		rv = WEIR_ENOMEM;
	}
	if (rv == WEIR_OK && (rv = nats_apply_auth(st, &np.conf)) == WEIR_OK &&
	    (rv = nats_apply_tls(st, &np.conf)) == WEIR_OK &&
	    (rv = nats_apply_conn(st, &np.conf)) == WEIR_OK &&
	    (rv = nats_apply_flow(st, &np.conf)) == WEIR_OK) {
		rv = nats_opt_status(st, "nats (error handler)",
		    natsOptions_SetErrorHandler(st->opts, nats_on_error, st));
	}
	*conf = np.conf;
	return rv;
}

static weir_err
nats_init_common(
    void *state, const weir_bridge_config *cfg, weir_sink *sink, int jetstream)
{
	nats_state *st = state;
	nats_conf   conf;
	weir_err    rv;
	st->jetstream = jetstream;
	st->sink      = sink;
	rv            = nats_load(st, cfg, &conf);
	if (rv == WEIR_OK) {
		rv = nats_alloc(st);
	}
	if (rv == WEIR_ENOMEM && st->err[0] == '\0') {
		nats_errf(st, "nats: out of memory");
	}
	if (rv != WEIR_OK) {
		nats_release(st);
	}
	return rv;
}

static weir_err
nats_init_js(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	return nats_init_common(state, cfg, sink, 1);
}

static weir_err
nats_init_core(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	return nats_init_common(state, cfg, sink, 0);
}

/* Frees everything but the error text, so that errmsg still explains a
 * failed init; a second call finds nothing left to free. */
static void
nats_release(nats_state *st)
{
	char err[NATS_ERRMSG];
	memcpy(err, st->err, sizeof err);
	natsOptions_Destroy(st->opts);
	free(st->stream);
	free(st->subjects);
	free(st->map);
	free(st->done);
	free(st->written);
	for (size_t i = 0; i < NATS_SECRETS && st->secrets[i]; i++) {
		// Wiped before free: a freed block's bytes can outlive it.
		volatile char *p = st->secrets[i];
		while (*p != '\0') {
			*p++ = '\0';
		}
		free(st->secrets[i]);
	}
	if (st->mu_ok) {
		pthread_cond_destroy(&st->cond);
		pthread_mutex_destroy(&st->mu);
	}
	memset(st, 0, sizeof *st);
	memcpy(st->err, err, sizeof err);
}

static void
nats_fini(void *state)
{
	nats_state *st = state;
	nats_release(st);
	st->err[0] = '\0';
}

/* Splits the comma list nats.stream.subjects into an array (in place);
 * init checked that it holds at most NATS_SUBJECTS items. */
static int
nats_split(char *list, const char **out)
{
	int   n = 0;
	char *save;
	for (char *p = strtok_r(list, ",", &save); p != NULL;
	     p       = strtok_r(NULL, ",", &save)) {
		while (*p == ' ') {
			p++;
		}
		out[n++] = p;
	}
	return n;
}

// Ensures nats.stream: an existing stream is used as it is (its own
// subjects and duplicate window); a missing one is created with
// nats.stream.subjects, the duplicate window and the storage type.
static weir_err
nats_ensure_stream(nats_state *st)
{
	jsStreamInfo  *si   = NULL;
	jsErrCode      code = 0;
	jsStreamConfig sc;
	const char    *subj[NATS_SUBJECTS];
	char          *list = NULL;
	natsStatus s = js_GetStreamInfo(&si, st->js, st->stream, NULL, &code);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return WEIR_OK;
	}
	jsStreamConfig_Init(&sc);
	sc.Name       = st->stream;
	sc.Storage    = st->storage_memory ? js_MemoryStorage : js_FileStorage;
	sc.Duplicates = st->dup_window_ms * 1000000;
	if (st->subjects != NULL) {
		list = nats_strdup(st->subjects);
		if (list == NULL) {
			return WEIR_ENOMEM;
		}
		sc.Subjects    = subj;
		sc.SubjectsLen = nats_split(list, subj);
	}
	s = js_AddStream(&si, st->js, &sc, NULL, &code);
	jsStreamInfo_Destroy(si);
	free(list);
	if (s != NATS_OK) {
		nats_errf(st,
		    "nats: cannot create stream '%.64s' (option "
		    "'nats.stream'): %s",
		    st->stream, nats_last_text(s));
		return WEIR_EBACKEND;
	}
	return WEIR_OK;
}

static weir_err
nats_open_js(nats_state *st)
{
	jsOptions jo;
	jsOptions_Init(&jo);
	// cnats stalls publishers at MaxPending; ours answer EAGAIN at
	// max_pending first, so the margin means a stall happens only if
	// acks are delivered late, and then it waits StallWait, not 200 ms.
	jo.PublishAsync.MaxPending        = (int64_t) st->max_pending + 64;
	jo.PublishAsync.StallWait         = st->stall_wait_ms;
	jo.PublishAsync.AckHandler        = nats_on_puback;
	jo.PublishAsync.AckHandlerClosure = st;
	if (natsConnection_JetStream(&st->js, st->nc, &jo) != NATS_OK) {
		nats_errf(st, "nats: JetStream context: %s",
		    nats_last_text(NATS_ERR));
		return WEIR_EBACKEND;
	}
	return st->stream != NULL ? nats_ensure_stream(st) : WEIR_OK;
}

static void
nats_close(nats_state *st)
{
	jsCtx_Destroy(st->js);
	st->js = NULL;
	pthread_mutex_lock(&st->mu);
	st->js_used = 0; /* a new context starts with no pending map */
	pthread_mutex_unlock(&st->mu);
	natsConnection_Close(st->nc);
	natsConnection_Destroy(st->nc);
	st->nc = NULL;
}

/* Connects with st->opts; shared by the backends and the sources. */
static weir_err
nats_connect(nats_state *st)
{
	natsStatus s = natsConnection_Connect(&st->nc, st->opts);
	if (s != NATS_OK) {
		nats_errf(st, "nats: cannot connect (option 'nats.url'): %s",
		    nats_last_text(s));
		return WEIR_EBACKEND;
	}
	return WEIR_OK;
}

static weir_err
nats_start(void *state)
{
	nats_state *st = state;
	weir_err    rv = nats_connect(st);
	if (rv != WEIR_OK) {
		return rv;
	}
	if (st->jetstream) {
		rv = nats_open_js(st);
	}
	if (rv != WEIR_OK) {
		nats_close(st);
		return rv;
	}
	pthread_mutex_lock(&st->mu);
	st->running = 1;
	pthread_mutex_unlock(&st->mu);
	return WEIR_OK;
}

/* Takes a slot for one more outstanding token, or says why not. */
static weir_err
nats_reserve(nats_state *st)
{
	weir_err rv = WEIR_OK;
	pthread_mutex_lock(&st->mu);
	if (!st->running) {
		rv = WEIR_ECLOSED;
	} else if (st->outstanding >= st->max_pending) {
		rv = WEIR_EAGAIN;
	} else {
		st->outstanding++;
	}
	pthread_mutex_unlock(&st->mu);
	return rv;
}

static void
nats_fail(nats_state *st, uint64_t token, natsStatus s, const char *why)
{
	pthread_mutex_lock(&st->mu);
	nats_done_push(st, token, WEIR_EBACKEND, nats_retriable(s, 0), why);
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->mu);
}

static weir_err
nats_publish_js(void *state, const weir_bridge_msg *bm)
{
	nats_state  *st = state;
	natsMsg     *m, *sent;
	jsPubOptions po;
	char         why[NATS_REASON];
	uint64_t     token;
	natsStatus   s;
	weir_err     rv = nats_reserve(st);
	if (rv != WEIR_OK) {
		return rv;
	}
	if ((s = nats_build(&m, bm, 1, why, sizeof why)) != NATS_OK) {
		nats_fail(st, bm->token, s, why);
		return WEIR_OK;
	}
	jsPubOptions_Init(&po);
	po.MaxWait = st->ack_timeout_ms;
	pthread_mutex_lock(&st->mu);
	nats_map_put(st, m, bm->token);
	st->js_used = 1;
	pthread_mutex_unlock(&st->mu);
	sent = m;
	s    = js_PublishMsgAsync(st->js, &m, &po);
	if (s != NATS_OK) {
		// Not taken by cnats: no PubAck callback will come.
		snprintf(why, sizeof why, "%s", nats_last_text(s));
		pthread_mutex_lock(&st->mu);
		nats_map_take(st, sent, &token);
		pthread_mutex_unlock(&st->mu);
		nats_fail(st, bm->token, s, why);
		natsMsg_Destroy(m);
	}
	return WEIR_OK;
}

static weir_err
nats_publish_core(void *state, const weir_bridge_msg *bm)
{
	nats_state *st = state;
	natsMsg    *m;
	char        why[NATS_REASON];
	natsStatus  s;
	weir_err    rv = nats_reserve(st);
	if (rv != WEIR_OK) {
		return rv;
	}
	s = nats_build(&m, bm, 0, why, sizeof why);
	if (s == NATS_OK) {
		s = natsConnection_PublishMsg(st->nc, m);
		if (s != NATS_OK) {
			snprintf(why, sizeof why, "%s", nats_last_text(s));
		}
		natsMsg_Destroy(m);
	}
	if (s != NATS_OK) {
		nats_fail(st, bm->token, s, why);
		return WEIR_OK;
	}
	pthread_mutex_lock(&st->mu);
	st->written[(st->written_head + st->written_len) % st->max_pending] =
	    bm->token;
	st->written_len++;
	pthread_mutex_unlock(&st->mu);
	return WEIR_OK;
}

/* Acks the first n written tokens of the core ring. */
static void
nats_written_ack(nats_state *st, size_t n, weir_err result, const char *why)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t token;
		pthread_mutex_lock(&st->mu);
		token            = st->written[st->written_head];
		st->written_head = (st->written_head + 1) % st->max_pending;
		st->written_len--;
		pthread_mutex_unlock(&st->mu);
		nats_ack(st, token, result, 1, why);
	}
}

// core NATS: what was handed to cnats before an empty write buffer on a
// connected socket has been written to the socket (or, with a timeout,
// a PING/PONG round trip proves the server read it).
static void
nats_poll_core(nats_state *st, int timeout_ms)
{
	size_t         n;
	natsConnStatus cs;
	pthread_mutex_lock(&st->mu);
	n = st->written_len;
	pthread_mutex_unlock(&st->mu);
	if (n == 0 || st->nc == NULL) {
		return;
	}
	cs = natsConnection_Status(st->nc);
	if (cs == NATS_CONN_STATUS_CLOSED) {
		nats_written_ack(st, n, WEIR_EBACKEND, "connection closed");
	} else if (cs == NATS_CONN_STATUS_CONNECTED &&
	    natsConnection_Buffered(st->nc) == 0) {
		nats_written_ack(st, n, WEIR_OK, NULL);
	} else if (timeout_ms > 0 &&
	    natsConnection_FlushTimeout(st->nc, timeout_ms) == NATS_OK) {
		nats_written_ack(st, n, WEIR_OK, NULL);
	}
}

/* Sets *dl to timeout_ms from now on CLOCK_REALTIME, for a timed wait. */
static void
nats_deadline(struct timespec *dl, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, dl);
	dl->tv_sec += timeout_ms / 1000;
	dl->tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (dl->tv_nsec >= 1000000000L) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000L;
	}
}

/* Waits up to timeout_ms for any sink call or queued completion. */
static void
nats_poll_wait(nats_state *st, int timeout_ms)
{
	struct timespec dl;
	uint64_t        seen;
	nats_deadline(&dl, timeout_ms);
	pthread_mutex_lock(&st->mu);
	seen = st->acked;
	while (st->acked == seen && st->done_len == 0 && st->outstanding > 0 &&
	    pthread_cond_timedwait(&st->cond, &st->mu, &dl) == 0) { }
	pthread_mutex_unlock(&st->mu);
}

static void
nats_poll(void *state, int timeout_ms)
{
	nats_state *st = state;
	size_t      n  = nats_done_deliver(st);
	if (!st->jetstream) {
		nats_poll_core(st, timeout_ms);
	} else if (n == 0 && timeout_ms > 0) {
		nats_poll_wait(st, timeout_ms);
		nats_done_deliver(st);
	}
}

// JetStream stop: let the PubAcks in flight arrive (each has a MaxWait,
// so this ends), take back from cnats whatever is still pending and fail
// it as retriable, then wait until no AckHandler runs any more (cnats
// counts a running handler as pending until it returns).
static void
nats_stop_js(nats_state *st)
{
	jsPubOptions po;
	natsMsgList  pending;
	jsPubOptions_Init(&po);
	po.MaxWait = st->ack_timeout_ms + 1000;
	js_PublishAsyncComplete(st->js, &po);
	// cnats 3.4 crashes in GetPendingList when no async publish was
	// ever made (its pending map does not exist yet): e.g. when every
	// event failed on the caller's thread (test_js_header_crlf).
	pthread_mutex_lock(&st->mu);
	int used = st->js_used;
	pthread_mutex_unlock(&st->mu);
	if (used &&
	    js_PublishAsyncGetPendingList(&pending, st->js) == NATS_OK) {
		pthread_mutex_lock(&st->mu);
		for (int i = 0; i < pending.Count; i++) {
			uint64_t token;
			if (nats_map_take(st, pending.Msgs[i], &token)) {
				nats_done_push(st, token, WEIR_EBACKEND, 1,
				    "stopped before the broker acknowledged");
			}
		}
		pthread_mutex_unlock(&st->mu);
		natsMsgList_Destroy(&pending);
	}
	js_PublishAsyncComplete(st->js, NULL);
}

static void
nats_stop_core(nats_state *st)
{
	size_t n;
	int    flushed = natsConnection_FlushTimeout(st->nc, 5000) == NATS_OK;
	pthread_mutex_lock(&st->mu);
	n = st->written_len;
	pthread_mutex_unlock(&st->mu);
	nats_written_ack(st, n, flushed ? WEIR_OK : WEIR_EBACKEND,
	    flushed ? NULL : "stopped before the write was flushed");
}

static void
nats_stop(void *state)
{
	nats_state *st = state;
	pthread_mutex_lock(&st->mu);
	st->running = 0;
	pthread_mutex_unlock(&st->mu);
	if (st->nc == NULL) {
		return;
	}
	if (st->jetstream) {
		nats_stop_js(st);
	} else {
		nats_stop_core(st);
	}
	nats_done_deliver(st);
	nats_close(st);
}

static const char *
nats_errmsg(void *state)
{
	nats_state *st = state;
	return st->err[0] != '\0' ? st->err : NULL;
}

static const weir_backend_ops nats_ops_js = {
	.version    = WEIR_BACKEND_V1,
	.scheme     = "nats",
	.state_size = sizeof(nats_state),
	.init       = nats_init_js,
	.fini       = nats_fini,
	.start      = nats_start,
	.stop       = nats_stop,
	.publish    = nats_publish_js,
	.poll       = nats_poll,
	.errmsg     = nats_errmsg,
};

static const weir_backend_ops nats_ops_core = {
	.version    = WEIR_BACKEND_V1,
	.scheme     = "natscore",
	.state_size = sizeof(nats_state),
	.init       = nats_init_core,
	.fini       = nats_fini,
	.start      = nats_start,
	.stop       = nats_stop,
	.publish    = nats_publish_core,
	.poll       = nats_poll,
	.errmsg     = nats_errmsg,
};

const weir_backend_ops *
weir_backend_nats(void)
{
	return &nats_ops_js;
}

const weir_backend_ops *
weir_backend_natscore(void)
{
	return &nats_ops_core;
}

/* ================================================================== */
/* Inbound: the sources "nats" (JetStream) and "natscore"             */
/* ================================================================== */

// Design notes (sources).
//
// - One nats_src per inbound route (allocated and zeroed by the bridge:
//   ops.state_size). Its first member is a nats_state, so the options,
//   secrets, error text and connection code above serve both directions.
// - Thread use: init, start, stop and fini on the bridge's controlling
//   thread; fetch, done and pause on the route's thread. stop may run
//   while a fetch waits: it closes the connection (which ends the wait)
//   and then waits until the fetch has returned, so no inlet call follows.
// - Tokens are consecutive numbers; the messages delivered and not yet
//   done sit in a FIFO (nats_ring) under ns.mu. A token outside the ring
//   (a done after stop) is ignored. What is left in the ring at stop is
//   destroyed unacknowledged: JetStream redelivers it after AckWait.
// - "nats": a durable pull consumer (explicit acks). done = natsMsg_Ack,
//   fire-and-forget, never AckSync: an ack lost with the connection only
//   means one redelivery after AckWait, which the inbox recognises as a
//   duplicate, whereas AckSync would cost one round trip per message.
//   stop flushes (one PING/PONG) before closing, so every ack made
//   before stop has reached the server. A message the bridge refuses is
//   Nak'ed, so it comes back at once instead of after AckWait. A done
//   message is acked at once and destroyed at the next fetch, with the
//   others done since (see nsrc_trash_empty).
// - "natscore": a plain subscription, at-most-once. cnats holds at most
//   nats.in.pending_msgs / pending_bytes; past that it drops, and so
//   does a refused delivery (nothing can redeliver it). Both are counted.

#define NSRC_DURABLE 80

/* Messages delivered and not yet done, oldest first; ns.mu held. */
typedef struct nats_ring {
	natsMsg **msg; /* msg[(head + i) % cap] has token base + i */
	size_t    cap, head, len;
	uint64_t  base;
} nats_ring;

typedef struct nats_src {
	nats_state        ns; /* first: options, secrets, errors, connection */
	int               jetstream;
	weir_inlet       *inlet;
	weir_source_spec  spec;
	char              durable[NSRC_DURABLE];
	natsSubscription *sub;
	int64_t           ack_wait_ms, max_ack_pending;
	int64_t           pending_msgs, pending_bytes;
	int               paused;   /* route thread only */
	int               stopping; /* under ns.mu */
	int               fetching; /* under ns.mu */
	nats_ring         ring;
	weir_header      *hdr; /* one message's headers, grown as needed */
	size_t            hdr_cap;
	natsMsg         **trash; /* done, destroyed at the next fetch */
	size_t            ntrash, trash_cap;
	uint64_t          refused; /* natscore: refused deliveries */
	uint64_t          dropped; /* natscore: dropped in all */
} nats_src;

/* ------------------------------------------------------------------ */
/* The ring of delivered messages                                      */
/* ------------------------------------------------------------------ */

static int
nats_ring_push(nats_ring *r, natsMsg *m, uint64_t *token)
{
	if (r->len == r->cap) {
		size_t    cap = r->cap ? 2 * r->cap : 64;
		natsMsg **a   = malloc(cap * sizeof *a);
		if (a == NULL) {
			return 0;
		}
		for (size_t i = 0; i < r->len; i++) {
			a[i] = r->msg[(r->head + i) % r->cap];
		}
		free(r->msg);
		r->msg  = a;
		r->cap  = cap;
		r->head = 0;
	}
	if (r->base == 0) {
		r->base = 1; // token 0 is never handed out
	}
	r->msg[(r->head + r->len) % r->cap] = m;
	*token                              = r->base + r->len++;
	return 1;
}

/* Takes back the newest message (its delivery was refused). */
static natsMsg *
nats_ring_unpush(nats_ring *r)
{
	r->len--;
	return r->msg[(r->head + r->len) % r->cap];
}

/* Takes token's message out (NULL if not in the ring), then drops the
 * done messages at the head. */
static natsMsg *
nats_ring_take(nats_ring *r, uint64_t token)
{
	natsMsg *m;
	size_t   i;
	if (token < r->base || token - r->base >= r->len) {
		return NULL;
	}
	i         = (r->head + (size_t) (token - r->base)) % r->cap;
	m         = r->msg[i];
	r->msg[i] = NULL;
	while (r->len > 0 && r->msg[r->head] == NULL) {
		r->head = (r->head + 1) % r->cap;
		r->base++;
		r->len--;
	}
	return m;
}

/* Destroys what is left (unacknowledged); tokens stay unique. */
static void
nats_ring_clear(nats_ring *r)
{
	for (size_t i = 0; i < r->len; i++) {
		natsMsg_Destroy(r->msg[(r->head + i) % r->cap]);
	}
	r->base += r->len;
	r->len  = 0;
	r->head = 0;
}

/* ------------------------------------------------------------------ */
/* Sources: init and fini                                              */
/* ------------------------------------------------------------------ */

/* The durable name: spec->group, else "weir-<route>" with '.' -> '_'
 * (JetStream names may not hold '.', '*', '>' or white space). */
static weir_err
nsrc_durable(nats_src *src)
{
	const weir_source_spec *sp = &src->spec;
	if (sp->group != NULL) {
		snprintf(src->durable, sizeof src->durable, "%s", sp->group);
	} else {
		snprintf(src->durable, sizeof src->durable, "weir-%s",
		    sp->route != NULL ? sp->route : "inbound");
		for (char *p = src->durable; *p != '\0'; p++) {
			*p = *p == '.' ? '_' : *p;
		}
	}
	if (src->durable[0] == '\0' ||
	    strlen(src->durable) >= NSRC_DURABLE - 1 ||
	    strpbrk(src->durable, ".*> \t\r\n") != NULL) {
		nats_errf(&src->ns,
		    "nats: durable name '%.64s' (the route's group) is empty, "
		    "too long, or holds '.', '*', '>' or white space",
		    src->durable);
		return WEIR_EINVAL;
	}
	return WEIR_OK;
}

/* The "nats.in.*" keys. */
static weir_err
nsrc_apply(nats_src *src, const nats_conf *c)
{
	nats_state *st = &src->ns;
	weir_err    rv;
	src->ack_wait_ms     = 30000;
	src->max_ack_pending = 10000;
	src->pending_msgs    = 65536;
	src->pending_bytes   = 64 * 1024 * 1024;
	if ((rv = nats_int(st, "nats.in.ack_wait_ms", c->in_ack_wait_ms, 1,
	         INT32_MAX, &src->ack_wait_ms)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.in.max_ack_pending",
	         c->in_max_ack_pending, 1, INT32_MAX,
	         &src->max_ack_pending)) != WEIR_OK ||
	    (rv = nats_int(st, "nats.in.pending_msgs", c->in_pending_msgs, 1,
	         INT32_MAX, &src->pending_msgs)) != WEIR_OK) {
		return rv;
	}
	return nats_int(st, "nats.in.pending_bytes", c->in_pending_bytes, 1,
	    INT32_MAX, &src->pending_bytes);
}

static weir_err
nsrc_init(void *state, const weir_bridge_config *cfg,
    const weir_source_spec *spec, weir_inlet *inlet, int jetstream)
{
	nats_src *src = state;
	nats_conf conf;
	weir_err  rv;
	src->jetstream = jetstream;
	src->inlet     = inlet;
	memcpy(&src->spec, spec,
	    spec->size < sizeof src->spec ? spec->size : sizeof src->spec);
	src->spec.size = sizeof src->spec;
	if (src->spec.batch == 0) {
		src->spec.batch = 256;
	}
	rv = nats_load(&src->ns, cfg, &conf);
	if (rv == WEIR_OK) {
		rv = nsrc_apply(src, &conf);
	}
	if (rv == WEIR_OK && src->spec.from == NULL) {
		nats_errf(&src->ns,
		    "nats: inbound route '%.64s' has no subject",
		    src->spec.route ? src->spec.route : "");
		rv = WEIR_EINVAL;
	}
	if (rv == WEIR_OK && jetstream) {
		rv = nsrc_durable(src);
	}
	if (rv == WEIR_ENOMEM && src->ns.err[0] == '\0') {
		nats_errf(&src->ns, "nats: out of memory");
	}
	if (rv != WEIR_OK) {
		nats_release(&src->ns);
	}
	return rv;
}

static weir_err
nsrc_init_js(void *state, const weir_bridge_config *cfg,
    const weir_source_spec *spec, weir_inlet *inlet)
{
	return nsrc_init(state, cfg, spec, inlet, 1);
}

static weir_err
nsrc_init_core(void *state, const weir_bridge_config *cfg,
    const weir_source_spec *spec, weir_inlet *inlet)
{
	return nsrc_init(state, cfg, spec, inlet, 0);
}

// Destroys the messages done since the last call, together. cnats
// hands a destroyed message to its garbage collector thread and wakes
// that thread when its list was empty: destroying each message as it
// is done (between acks and fetches) woke it about once a message,
// one context switch each; a run of destroys wakes it about once.
static void
nsrc_trash_empty(nats_src *src)
{
	for (size_t i = 0; i < src->ntrash; i++) {
		natsMsg_Destroy(src->trash[i]);
	}
	src->ntrash = 0;
}

// Keeps done message @p m for nsrc_trash_empty (destroyed now if
// there is no room).
static void
nsrc_trash(nats_src *src, natsMsg *m)
{
	if (src->ntrash == src->trash_cap) {
		size_t    cap = src->trash_cap ? 2 * src->trash_cap : 256;
		natsMsg **t   = realloc(src->trash, cap * sizeof *t);
		if (t == NULL) {
			natsMsg_Destroy(m);
			return;
		}
		src->trash     = t;
		src->trash_cap = cap;
	}
	src->trash[src->ntrash++] = m;
}

static void
nsrc_fini(void *state)
{
	nats_src *src = state;
	nsrc_trash_empty(src);
	free(src->trash);
	nats_ring_clear(&src->ring);
	natsSubscription_Destroy(src->sub);
	nats_close(&src->ns);
	free(src->ring.msg);
	free(src->hdr);
	nats_fini(&src->ns);
	memset(src, 0, sizeof *src);
}

/* ------------------------------------------------------------------ */
/* Sources: start and stop                                             */
/* ------------------------------------------------------------------ */

/* A named stream must exist: the source never creates one. */
static weir_err
nsrc_check_stream(nats_src *src)
{
	jsStreamInfo *si   = NULL;
	jsErrCode     code = 0;
	natsStatus    s =
	    js_GetStreamInfo(&si, src->ns.js, src->spec.stream, NULL, &code);
	jsStreamInfo_Destroy(si);
	if (s == NATS_OK) {
		return WEIR_OK;
	}
	if (code == JSStreamNotFoundErr || s == NATS_NOT_FOUND) {
		nats_errf(&src->ns,
		    "nats: stream '%.64s' does not exist (inbound route "
		    "'%.64s', its stream)",
		    src->spec.stream, src->spec.route);
		return WEIR_ENOENT;
	}
	nats_errf(&src->ns, "nats: stream '%.64s': %s", src->spec.stream,
	    nats_last_text(s));
	return WEIR_EBACKEND;
}

/* Binds (creating if needed) the durable pull consumer. */
static weir_err
nsrc_bind_js(nats_src *src)
{
	jsSubOptions so;
	jsErrCode    code = 0;
	natsStatus   s;
	jsSubOptions_Init(&so);
	so.Stream               = src->spec.stream; // NULL: found by subject
	so.ManualAck            = true;
	so.Config.AckPolicy     = js_AckExplicit;
	so.Config.DeliverPolicy = js_DeliverAll;
	so.Config.AckWait       = src->ack_wait_ms * 1000000;
	so.Config.MaxAckPending = src->max_ack_pending;
	s = js_PullSubscribe(&src->sub, src->ns.js, src->spec.from,
	    src->durable, NULL, &so, &code);
	if (s == NATS_OK) {
		return WEIR_OK;
	}
	if (src->spec.stream == NULL && strstr(nats_last_text(s), "stream")) {
		nats_errf(&src->ns,
		    "nats: no stream holds subject '%.100s' (inbound route "
		    "'%.64s'): %s",
		    src->spec.from, src->spec.route, nats_last_text(s));
		return WEIR_ENOENT;
	}
	nats_errf(&src->ns,
	    "nats: cannot bind durable consumer '%s' on '%.100s' (inbound "
	    "route '%.64s'): %s",
	    src->durable, src->spec.from, src->spec.route, nats_last_text(s));
	return WEIR_EBACKEND;
}

static weir_err
nsrc_subscribe_core(nats_src *src)
{
	natsStatus s;
	if (src->spec.group != NULL) {
		s = natsConnection_QueueSubscribeSync(
		    &src->sub, src->ns.nc, src->spec.from, src->spec.group);
	} else {
		s = natsConnection_SubscribeSync(
		    &src->sub, src->ns.nc, src->spec.from);
	}
	if (s == NATS_OK) {
		s = natsSubscription_SetPendingLimits(src->sub,
		    (int) src->pending_msgs, (int) src->pending_bytes);
	}
	if (s == NATS_OK) {
		// A round trip: once start returns, the server has the
		// subscription, so what is published from then on arrives.
		s = natsConnection_FlushTimeout(src->ns.nc, 5000);
	}
	if (s != NATS_OK) {
		nats_errf(&src->ns,
		    "nats: cannot subscribe to '%.100s' (inbound route "
		    "'%.64s'): %s",
		    src->spec.from, src->spec.route, nats_last_text(s));
		return WEIR_EBACKEND;
	}
	return WEIR_OK;
}

static weir_err
nsrc_start(void *state)
{
	nats_src *src = state;
	weir_err  rv  = nats_connect(&src->ns);
	if (rv == WEIR_OK && src->jetstream &&
	    natsConnection_JetStream(&src->ns.js, src->ns.nc, NULL) !=
	        NATS_OK) {
		nats_errf(&src->ns, "nats: JetStream context: %s",
		    nats_last_text(NATS_ERR));
		rv = WEIR_EBACKEND;
	}
	if (rv == WEIR_OK && src->jetstream && src->spec.stream != NULL) {
		rv = nsrc_check_stream(src);
	}
	if (rv == WEIR_OK) {
		rv = src->jetstream ? nsrc_bind_js(src)
		                    : nsrc_subscribe_core(src);
	}
	if (rv != WEIR_OK) {
		nats_close(&src->ns);
		return rv;
	}
	pthread_mutex_lock(&src->ns.mu);
	src->stopping = 0;
	pthread_mutex_unlock(&src->ns.mu);
	return WEIR_OK;
}

// Flushes the acks made so far, closes the connection (which ends a
// waiting fetch), waits until no fetch runs, then lets go of the
// subscription (never unsubscribing: that would delete a durable cnats
// created) and of the messages not done.
static void
nsrc_stop(void *state)
{
	nats_src *src = state;
	pthread_mutex_lock(&src->ns.mu);
	src->stopping = 1;
	pthread_cond_broadcast(&src->ns.cond);
	pthread_mutex_unlock(&src->ns.mu);
	if (src->ns.nc == NULL) {
		return;
	}
	natsConnection_FlushTimeout(src->ns.nc, 2000);
	natsConnection_Close(src->ns.nc);
	pthread_mutex_lock(&src->ns.mu);
	while (src->fetching) {
		pthread_cond_wait(&src->ns.cond, &src->ns.mu);
	}
	nats_ring_clear(&src->ring);
	pthread_mutex_unlock(&src->ns.mu);
	nsrc_trash_empty(src);
	natsSubscription_Destroy(src->sub);
	src->sub = NULL;
	nats_close(&src->ns);
}

/* ------------------------------------------------------------------ */
/* Sources: fetch, done, pause                                         */
/* ------------------------------------------------------------------ */

/* Marks a fetch as running; 0 if the source is stopping. */
static int
nsrc_enter(nats_src *src)
{
	int ok;
	pthread_mutex_lock(&src->ns.mu);
	ok            = !src->stopping && src->sub != NULL;
	src->fetching = ok;
	pthread_mutex_unlock(&src->ns.mu);
	return ok;
}

static void
nsrc_leave(nats_src *src)
{
	pthread_mutex_lock(&src->ns.mu);
	src->fetching = 0;
	pthread_cond_broadcast(&src->ns.cond);
	pthread_mutex_unlock(&src->ns.mu);
}

// fetch(max 0) and a paused source: no pull request, only a wait of
// timeout_ms (cnats's own threads serve the connection: pings,
// reconnects), ended early by stop.
static weir_err
nsrc_idle(nats_src *src, int timeout_ms)
{
	struct timespec dl;
	nats_deadline(&dl, timeout_ms);
	pthread_mutex_lock(&src->ns.mu);
	while (!src->stopping &&
	    pthread_cond_timedwait(&src->ns.cond, &src->ns.mu, &dl) == 0) { }
	pthread_mutex_unlock(&src->ns.mu);
	return WEIR_OK;
}

/* Points msg->headers at m's headers (every value of every key). */
static weir_err
nsrc_headers(nats_src *src, natsMsg *m, weir_inbound_msg *msg)
{
	const char **keys  = NULL;
	int          nkeys = 0;
	size_t       n     = 0;
	weir_err     rv    = WEIR_OK;
	if (natsMsgHeader_Keys(m, &keys, &nkeys) != NATS_OK) {
		return WEIR_OK; // no headers
	}
	for (int k = 0; k < nkeys && rv == WEIR_OK; k++) {
		const char **vals = NULL;
		int          nv   = 0;
		if (natsMsgHeader_Values(m, keys[k], &vals, &nv) != NATS_OK) {
			continue;
		}
		for (int v = 0; v < nv; v++) {
			if (n == src->hdr_cap) {
				size_t       cap = n ? 2 * n : 16;
				weir_header *h =
				    realloc(src->hdr, cap * sizeof *h);
				if (h == NULL) {
					rv = WEIR_ENOMEM;
					break;
				}
				src->hdr     = h;
				src->hdr_cap = cap;
			}
			src->hdr[n].name  = keys[k];
			src->hdr[n].value = vals[v];
			src->hdr[n++].len = strlen(vals[v]);
		}
		free((void *) vals);
	}
	free((void *) keys);
	msg->headers      = src->hdr;
	msg->header_count = n;
	return rv;
}

/* "nats:STREAM/SEQ" into @p out (160 bytes: at most 100 of the stream's
 * @p len bytes are kept). By hand: snprintf cost ~1,000 instructions
 * per message. */
static void
nsrc_coord(char out[160], const char *stream, size_t len, uint64_t seq)
{
	size_t n = len < 100 ? len : 100;
	memcpy(out, "nats:", 5);
	memcpy(out + 5, stream, n);
	out[5 + n] = '/';
	weir__ce_u64(seq, out + 6 + n);
}

/* Hands one message to the bridge; WEIR_OK: the ring owns m. */
static weir_err
nsrc_deliver(nats_src *src, natsMsg *m)
{
	weir_inbound_msg im   = WEIR_STRUCT_INIT(weir_inbound_msg);
	jsMsgMetaData   *meta = NULL;
	char             coord[160];
	weir_err         rv;
	int              ok;
	im.origin      = natsMsg_GetSubject(m);
	im.payload     = natsMsg_GetData(m);
	im.payload_len = (size_t) natsMsg_GetDataLength(m);
	weir__jsack ack;
	if (src->jetstream && weir__jsack_parse(natsMsg_GetReply(m), &ack)) {
		nsrc_coord(coord, ack.stream, ack.stream_len, ack.seq);
		im.coord = coord;
		im.ts    = ack.ts;
	} else if (src->jetstream &&
	    natsMsg_GetMetaData(&meta, m) == NATS_OK) {
		nsrc_coord(coord, meta->Stream, strlen(meta->Stream),
		    meta->Sequence.Stream);
		im.coord = coord;
		im.ts    = meta->Timestamp;
	}
	jsMsgMetaData_Destroy(meta);
	if ((rv = nsrc_headers(src, m, &im)) != WEIR_OK) {
		return rv;
	}
	pthread_mutex_lock(&src->ns.mu);
	ok = nats_ring_push(&src->ring, m, &im.token);
	pthread_mutex_unlock(&src->ns.mu);
	if (!ok) {
		return WEIR_ENOMEM;
	}
	rv = weir_inlet_deliver(src->inlet, &im);
	if (rv != WEIR_OK) {
		pthread_mutex_lock(&src->ns.mu);
		nats_ring_unpush(&src->ring);
		pthread_mutex_unlock(&src->ns.mu);
	}
	return rv;
}

/* Delivers a fetched batch in order; after a refusal the rest is Nak'ed
 * (JetStream sends it again at the next pull, in order). */
static weir_err
nsrc_deliver_list(nats_src *src, natsMsgList *list)
{
	weir_err rv = WEIR_OK;
	for (int i = 0; i < list->Count; i++) {
		if (rv == WEIR_OK) {
			rv = nsrc_deliver(src, list->Msgs[i]);
			if (rv == WEIR_OK) {
				list->Msgs[i] = NULL; // the ring has it
				continue;
			}
		}
		natsMsg_Nak(list->Msgs[i], NULL);
	}
	// A refusal is the bridge's own decision (stopping, pushing back):
	// not an error of this fetch. Only a failure of ours is.
	return rv == WEIR_ENOMEM ? rv : WEIR_OK;
}

// One pull request. cnats 3.4.1 (Debian 12's) overflows the array of
// its _fetch when messages of an earlier pull request are still queued
// in the subscription and outnumber what the new request asks for
// (nats-io/nats.c #749, fixed in 3.10.0). So while anything is queued it
// is taken with requests for ONE message (the queued one is taken
// without a round trip, and a batch of one cannot overflow); a request
// for n is made only on an empty queue. What is left is a message
// arriving between the check and the request, for a request that has
// already expired on the server (cnats makes it expire 10 ms before the
// client stops waiting): with n >= 2 that overflows only if more than
// n / 2 such messages land in that window.
static natsStatus
nsrc_pull(nats_src *src, natsMsgList *list, int n, int timeout_ms)
{
	int pending = 0, bytes = 0;
	if (natsSubscription_GetPending(src->sub, &pending, &bytes) ==
	        NATS_OK &&
	    pending > 0) {
		n          = 1;
		timeout_ms = 1;
	}
	return natsSubscription_Fetch(
	    list, src->sub, n, timeout_ms > 0 ? timeout_ms : 1, NULL);
}

static weir_err
nsrc_fetch_js(void *state, size_t max, int timeout_ms)
{
	nats_src   *src  = state;
	natsMsgList list = { 0 };
	natsStatus  s;
	weir_err    rv = WEIR_OK;
	int n = max < src->spec.batch ? (int) max : (int) src->spec.batch;
	nsrc_trash_empty(src);
	if (n == 0 || src->paused) {
		return nsrc_idle(src, timeout_ms);
	}
	if (!nsrc_enter(src)) {
		return WEIR_ECLOSED;
	}
	s = nsrc_pull(src, &list, n, timeout_ms);
	if (s == NATS_OK) {
		rv = nsrc_deliver_list(src, &list);
	} else if (s != NATS_TIMEOUT) {
		nats_errf(&src->ns, "nats: fetch on '%.100s': %s",
		    src->spec.from, nats_last_text(s));
		rv = WEIR_EBACKEND;
	}
	natsMsgList_Destroy(&list);
	nsrc_leave(src);
	return rv;
}

/* natscore: counts cnats's drops and the refused deliveries. */
static void
nsrc_count_drops(nats_src *src)
{
	int64_t  cnats = 0;
	uint64_t all;
	natsSubscription_GetDropped(src->sub, &cnats);
	all = (uint64_t) cnats + src->refused;
	if (all != src->dropped) {
		src->dropped = all;
		nats_errf(&src->ns,
		    "natscore: %" PRIu64 " messages dropped on '%.100s' "
		    "(slow consumer: nats.in.pending_msgs / pending_bytes "
		    "reached, or refused locally)",
		    all, src->spec.from);
	}
}

static weir_err
nsrc_fetch_core(void *state, size_t max, int timeout_ms)
{
	nats_src *src = state;
	weir_err  rv  = WEIR_OK;
	nsrc_trash_empty(src);
	if (max == 0 || src->paused) {
		return nsrc_idle(src, timeout_ms);
	}
	if (!nsrc_enter(src)) {
		return WEIR_ECLOSED;
	}
	for (size_t i = 0; i < max && i < src->spec.batch; i++) {
		natsMsg   *m = NULL;
		natsStatus s = natsSubscription_NextMsg(
		    &m, src->sub, i == 0 ? timeout_ms : 0);
		if (s == NATS_SLOW_CONSUMER) {
			continue; // counted below
		}
		if (s != NATS_OK) {
			break; // NATS_TIMEOUT, or closed by stop
		}
		if (nsrc_deliver(src, m) != WEIR_OK) {
			natsMsg_Destroy(m); // at-most-once: lost, counted
			src->refused++;
		}
	}
	nsrc_count_drops(src);
	nsrc_leave(src);
	return rv;
}

static void
nsrc_done(void *state, uint64_t token)
{
	nats_src *src = state;
	natsMsg  *m;
	pthread_mutex_lock(&src->ns.mu);
	m = nats_ring_take(&src->ring, token);
	pthread_mutex_unlock(&src->ns.mu);
	if (m != NULL && src->jetstream) {
		natsMsg_Ack(m, NULL);
	}
	if (m != NULL) {
		nsrc_trash(src, m);
	}
}

static void
nsrc_pause(void *state, int paused)
{
	((nats_src *) state)->paused = paused != 0;
}

static const char *
nsrc_errmsg(void *state)
{
	return nats_errmsg(&((nats_src *) state)->ns);
}

static const weir_source_ops nats_source_js = {
	.version    = WEIR_SOURCE_V1,
	.scheme     = "nats",
	.state_size = sizeof(nats_src),
	.init       = nsrc_init_js,
	.fini       = nsrc_fini,
	.start      = nsrc_start,
	.stop       = nsrc_stop,
	.fetch      = nsrc_fetch_js,
	.done       = nsrc_done,
	.pause      = nsrc_pause,
	.errmsg     = nsrc_errmsg,
};

static const weir_source_ops nats_source_core = {
	.version    = WEIR_SOURCE_V1,
	.scheme     = "natscore",
	.state_size = sizeof(nats_src),
	.init       = nsrc_init_core,
	.fini       = nsrc_fini,
	.start      = nsrc_start,
	.stop       = nsrc_stop,
	.fetch      = nsrc_fetch_core,
	.done       = nsrc_done,
	.pause      = nsrc_pause,
	.errmsg     = nsrc_errmsg,
};

const weir_source_ops *
weir_source_nats(void)
{
	return &nats_source_js;
}

const weir_source_ops *
weir_source_natscore(void)
{
	return &nats_source_core;
}
