/*
 * chaos_check: the checker of the chaos run (tests/chaos/chaos.py,
 * docs/reliability.md). It reads what the generator saw acknowledged,
 * the gateway's store, a JetStream stream (cnats) and a Kafka topic
 * (kcat), and prints one JSON line of counts:
 *
 *   lost                     acknowledged ids missing from the log, plus
 *                            logged ids missing at each broker
 *   duplicated_after_dedupe  after de-duplication by event id (ce_id /
 *                            ce-id, Nats-Msg-Id), events (key, n) held
 *                            under more than one id, in the log or at a
 *                            broker
 *   reordered_per_key        first copies whose per-key number n is not
 *                            above the one before it of the same key
 *
 * plus the figures behind them. Exits 1 when any of the three, or a
 * record it cannot account for (an id not in the log, a malformed
 * record), is not zero; 2 on bad usage or an unreadable source.
 *
 * Events (tests/chaos/chaos.py): key "k<j>", payload "<j>:<n>", n
 * counting 0, 1, 2, ... per key in the order the generator made them.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include <weir/store.h>
#include <weir/weir.h>

#define CK_MAX_KEYS 4096

typedef struct ck_ev {
	uint8_t  id[16];
	uint64_t seq;
	uint32_t key, n;
	uint32_t acked;
	uint32_t seen[2]; /* copies at JetStream, at Kafka */
} ck_ev;

/* What one source (the log or a broker) gave, after de-duplication. */
typedef struct ck_dest {
	const char *name;
	uint64_t    records, distinct, copies, lost, dup, reordered, unknown;
	int64_t     last[CK_MAX_KEYS]; /* per key, n of the last first copy */
	uint8_t    *seen_n;            /* [key * span + n] */
} ck_dest;

typedef struct ck {
	ck_ev   *ev; /* the log, sorted by id once loaded */
	size_t   n, cap;
	uint32_t span; /* highest n + 1 */
	uint64_t acked, acked_missing, log_unacked;
} ck;

static int
ck_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Parses key "k<j>" and payload "<j>:<n>"; -1 if they do not agree. */
static int
ck_parse(const char *key, size_t klen, const char *pl, size_t plen,
    uint32_t *j, uint32_t *n)
{
	char     kb[32], pb[64];
	unsigned kj, pj, pn;
	if (klen >= sizeof kb || plen >= sizeof pb)
		return -1;
	memcpy(kb, key, klen);
	kb[klen] = '\0';
	memcpy(pb, pl, plen);
	pb[plen] = '\0';
	if (sscanf(kb, "k%u", &kj) != 1 ||
	    sscanf(pb, "%u:%u", &pj, &pn) != 2 || kj != pj ||
	    kj >= CK_MAX_KEYS)
		return -1;
	*j = kj;
	*n = pn;
	return 0;
}

static weir_err
ck_log_fn(weir_store *st, const weir_event *e, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	ck *c = arg;
	if (c->n == c->cap) {
		c->cap    = c->cap ? c->cap * 2 : 4096;
		ck_ev *ev = realloc(c->ev, c->cap * sizeof *ev);
		if (ev == NULL)
			return WEIR_ENOMEM;
		c->ev = ev;
	}
	ck_ev *x = &c->ev[c->n];
	memset(x, 0, sizeof *x);
	size_t      klen, plen;
	const char *key = weir_event_key(e, &klen);
	const char *pl  = weir_event_payload(e, &plen);
	if (key == NULL || ck_parse(key, klen, pl, plen, &x->key, &x->n) != 0)
		return WEIR_EINVAL;
	memcpy(x->id, weir_event_id(e), 16);
	x->seq = weir_event_seq(e);
	if (x->n + 1 > c->span)
		c->span = x->n + 1;
	c->n++;
	return WEIR_OK;
}

/* Counts one first copy of @p x at @p d: duplicate (key, n), order. */
static void
ck_first_copy(ck_dest *d, const ck *c, const ck_ev *x)
{
	uint8_t *s = &d->seen_n[(size_t) x->key * c->span + x->n];
	d->distinct++;
	if (*s)
		d->dup++;
	*s = 1;
	if ((int64_t) x->n <= d->last[x->key])
		d->reordered++;
	else
		d->last[x->key] = x->n;
}

static int
ck_dest_init(ck_dest *d, const char *name, const ck *c)
{
	memset(d, 0, sizeof *d);
	d->name = name;
	for (size_t k = 0; k < CK_MAX_KEYS; k++)
		d->last[k] = -1;
	d->seen_n = calloc((size_t) CK_MAX_KEYS * (c->span ? c->span : 1), 1);
	return d->seen_n != NULL ? 0 : -1;
}

/* Loads the log in seq order and checks it as a destination. */
static int
ck_load_log(ck *c, ck_dest *log, const char *path)
{
	weir_store *st;
	char        err[256];
	if (weir_store_open(&st, path, NULL, err, sizeof err) != WEIR_OK) {
		fprintf(stderr, "chaos_check: %s: %s\n", path, err);
		return -1;
	}
	weir_err e = weir_store_read_all(st, 1, 0, ck_log_fn, c);
	weir_store_destroy(st);
	if (e != WEIR_OK || ck_dest_init(log, "log", c) != 0) {
		fprintf(stderr, "chaos_check: reading the log: %s\n",
		    weir_strerror(e));
		return -1;
	}
	for (size_t i = 0; i < c->n; i++) { /* seq order */
		log->records++;
		ck_first_copy(log, c, &c->ev[i]);
	}
	qsort(c->ev, c->n, sizeof *c->ev, ck_id_cmp);
	return 0;
}

static ck_ev *
ck_find(ck *c, const char *id_text)
{
	uint8_t id[16];
	if (id_text == NULL || weir_uuid_parse(id_text, id) != WEIR_OK)
		return NULL;
	return bsearch(id, c->ev, c->n, sizeof *c->ev, ck_id_cmp);
}

/* The generator's file: one acknowledged id a line ("<uuid> ..."). */
static int
ck_load_acked(ck *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char  line[256];
	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, " \n")] = '\0';
		ck_ev *x                   = ck_find(c, line);
		c->acked++;
		if (x == NULL)
			c->acked_missing++;
		else
			x->acked = 1;
	}
	fclose(f);
	for (size_t i = 0; i < c->n; i++)
		c->log_unacked += !c->ev[i].acked;
	return 0;
}

/* One record of a broker: id, key, payload. */
static void
ck_record(ck *c, ck_dest *d, int which, const char *id, const char *key,
    size_t klen, const char *pl, size_t plen)
{
	uint32_t j, n;
	ck_ev   *x = ck_find(c, id);
	d->records++;
	if (x == NULL || key == NULL ||
	    ck_parse(key, klen, pl, plen, &j, &n) != 0 || j != x->key ||
	    n != x->n) {
		d->unknown++;
		return;
	}
	if (x->seen[which]++ > 0) {
		d->copies++;
		return;
	}
	ck_first_copy(d, c, x);
}

static void
ck_missing(ck *c, ck_dest *d, int which)
{
	for (size_t i = 0; i < c->n; i++)
		d->lost += c->ev[i].seen[which] == 0;
}

/* Reads the whole stream with an ephemeral pull consumer, no acks. */
static int
ck_read_nats(ck *c, ck_dest *d, const char *url, const char *stream,
    const char *subjects)
{
	natsConnection   *nc  = NULL;
	jsCtx            *js  = NULL;
	jsStreamInfo     *si  = NULL;
	natsSubscription *sub = NULL;
	jsSubOptions      so;
	natsStatus        s = natsConnection_ConnectTo(&nc, url);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, NULL);
	if (s == NATS_OK)
		s = js_GetStreamInfo(&si, js, stream, NULL, NULL);
	uint64_t count = s == NATS_OK ? si->State.Msgs : 0;
	jsSubOptions_Init(&so);
	so.Stream           = stream;
	so.Config.AckPolicy = js_AckNone;
	if (s == NATS_OK)
		s = js_PullSubscribe(
		    &sub, js, subjects, NULL, NULL, &so, NULL);
	for (uint64_t got = 0; s == NATS_OK && got < count;) {
		natsMsgList list = { 0 };
		s = natsSubscription_Fetch(&list, sub, 1000, 10000, NULL);
		for (int i = 0; s == NATS_OK && i < list.Count; i++, got++) {
			natsMsg    *m  = list.Msgs[i];
			const char *id = NULL, *mid = NULL;
			natsMsgHeader_Get(m, "ce-id", &id);
			natsMsgHeader_Get(m, "Nats-Msg-Id", &mid);
			const char *subj = natsMsg_GetSubject(m);
			const char *key  = strrchr(subj, '.');
			if (mid == NULL || id == NULL || strcmp(mid, id) != 0)
				id = NULL; /* counted as unknown */
			ck_record(c, d, 0, id, key ? key + 1 : NULL,
			    key ? strlen(key + 1) : 0, natsMsg_GetData(m),
			    (size_t) natsMsg_GetDataLength(m));
		}
		natsMsgList_Destroy(&list);
	}
	if (s != NATS_OK)
		fprintf(
		    stderr, "chaos_check: nats: %s\n", natsStatus_GetText(s));
	natsSubscription_Destroy(sub);
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	ck_missing(c, d, 0);
	return s == NATS_OK ? 0 : -1;
}

/* kcat's "%h": "name=value,name=value"; the value of ce_id. */
static const char *
ck_kcat_id(char *hdrs)
{
	for (char *p = strtok(hdrs, ","); p != NULL; p = strtok(NULL, ","))
		if (strncmp(p, "ce_id=", 6) == 0)
			return p + 6;
	return NULL;
}

/* Reads every partition of the topic to its end with kcat. */
static int
ck_read_kafka(ck *c, ck_dest *d, const char *bootstrap, const char *topic)
{
	char   cmd[1024], *line = NULL;
	size_t cap = 0;
	snprintf(cmd, sizeof cmd,
	    "kcat -C -b '%s' -t '%s' -o beginning -e -q "
	    "-f '%%k\\t%%h\\t%%s\\n'",
	    bootstrap, topic);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (getline(&line, &cap, p) > 0) {
		line[strcspn(line, "\n")] = '\0';
		char *hdrs                = strchr(line, '\t');
		char *pl = hdrs ? strchr(hdrs + 1, '\t') : NULL;
		if (pl == NULL) {
			d->records++;
			d->unknown++;
			continue;
		}
		*hdrs++ = '\0';
		*pl++   = '\0';
		ck_record(c, d, 1, ck_kcat_id(hdrs), line, strlen(line), pl,
		    strlen(pl));
	}
	free(line);
	int rc = pclose(p);
	if (rc != 0)
		fprintf(stderr, "chaos_check: kcat exited with %d\n", rc);
	ck_missing(c, d, 1);
	return rc == 0 ? 0 : -1;
}

static void
ck_print_dest(const ck_dest *d)
{
	printf(",\"%s\":{\"records\":%" PRIu64 ",\"distinct\":%" PRIu64
	       ",\"copies_dropped\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64
	       ",\"unknown\":%" PRIu64 "}",
	    d->name, d->records, d->distinct, d->copies, d->lost, d->dup,
	    d->reordered, d->unknown);
}

typedef struct ck_args {
	const char *store, *acked, *nats_url, *stream, *subjects, *kafka,
	    *topic;
} ck_args;

static int
ck_usage(void)
{
	fprintf(stderr,
	    "usage: chaos_check --store DB --acked FILE [--nats URL "
	    "--stream S --subjects SUBJ] [--kafka BOOTSTRAP --topic T]\n");
	return 2;
}

static int
ck_parse_args(int argc, char **argv, ck_args *a)
{
	static const struct option opts[]   = { { "store", 1, NULL, 's' },
		  { "acked", 1, NULL, 'a' }, { "nats", 1, NULL, 'n' },
		  { "stream", 1, NULL, 'S' }, { "subjects", 1, NULL, 'j' },
		  { "kafka", 1, NULL, 'k' }, { "topic", 1, NULL, 't' },
		  { NULL, 0, NULL, 0 } };
	const char               **dst[128] = { 0 };
	dst['s']                            = &a->store;
	dst['a']                            = &a->acked;
	dst['n']                            = &a->nats_url;
	dst['S']                            = &a->stream;
	dst['j']                            = &a->subjects;
	dst['k']                            = &a->kafka;
	dst['t']                            = &a->topic;
	memset(a, 0, sizeof *a);
	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		if (o < 0 || o >= 128 || dst[o] == NULL)
			return -1;
		*dst[o] = optarg;
	}
	if (optind != argc || !a->store || !a->acked ||
	    (a->nats_url && (!a->stream || !a->subjects)) ||
	    (a->kafka && !a->topic))
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	ck_args a;
	ck      c = { 0 };
	ck_dest d[3];
	int     nd = 1, bad = 0;
	if (ck_parse_args(argc, argv, &a) != 0)
		return ck_usage();
	if (ck_load_log(&c, &d[0], a.store) != 0 ||
	    ck_load_acked(&c, a.acked) != 0)
		return 2;
	if (a.nats_url) {
		ck_dest_init(&d[nd], "jetstream", &c);
		bad |= ck_read_nats(&c, &d[nd++], a.nats_url, a.stream,
		           a.subjects) != 0;
	}
	if (a.kafka) {
		ck_dest_init(&d[nd], "kafka", &c);
		bad |= ck_read_kafka(&c, &d[nd++], a.kafka, a.topic) != 0;
	}
	uint64_t lost = c.acked_missing, dup = 0, reord = 0, unknown = 0;
	for (int i = 0; i < nd; i++) {
		lost += d[i].lost;
		dup += d[i].dup;
		reord += d[i].reordered;
		unknown += d[i].unknown;
	}
	printf("{\"acked\":%" PRIu64 ",\"log_events\":%zu,\"lost\":%" PRIu64
	       ",\"duplicated_after_dedupe\":%" PRIu64
	       ",\"reordered_per_key\":%" PRIu64 ",\"unknown\":%" PRIu64
	       ",\"acked_not_in_log\":%" PRIu64
	       ",\"in_log_never_acked\":%" PRIu64,
	    c.acked, c.n, lost, dup, reord, unknown, c.acked_missing,
	    c.log_unacked);
	for (int i = 0; i < nd; i++) {
		ck_print_dest(&d[i]);
		free(d[i].seen_n);
	}
	printf("}\n");
	free(c.ev);
	if (bad)
		return 2;
	return lost || dup || reord || unknown ? 1 : 0;
}
