/*
 * libFuzzer target: the event and header codec of the store (codec.c).
 *
 * Two properties per input:
 * 1. Round trip. The input is read as an event (id, ts, topic, key,
 *    payload, headers); when weir_event_new() accepts it, its headers
 *    are encoded, the columns go through SQLite (`SELECT ?1, ...`: the
 *    same column API the store's reads use) and weir__codec_row_event()
 *    must give back an equal event.
 * 2. Arbitrary header bytes. The whole input is decoded as a header
 *    blob beside valid columns: the decoder returns WEIR_ECORRUPT or an
 *    event, never crashes, and an event it returns re-encodes to the
 *    very same bytes (the encoding is canonical, so a damaged blob can
 *    never read back as a different event).
 *
 * Header names are at most a few KiB here (libFuzzer's -max_len), far
 * below the 16-bit name length of the encoding: names of 65,535 bytes or
 * more are issue 12's defect 1 (fixed on another branch), not fuzzed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include <weir/weir.h>

#include "store/codec.h"

typedef struct fuzz_in {
	const uint8_t *p;
	size_t         left;
} fuzz_in;

static sqlite3      *fuzz_db;
static sqlite3_stmt *fuzz_stmt;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
	fprintf(stderr, "codec_fuzz: %s\n", what);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	if (sqlite3_open(":memory:", &fuzz_db) != SQLITE_OK ||
	    sqlite3_prepare_v2(fuzz_db, "SELECT ?1,?2,?3,?4,?5,?6", -1,
	        &fuzz_stmt, NULL) != SQLITE_OK) {
		fail("cannot prepare the statement");
	}
	return 0;
}

// Takes up to @p n bytes (fewer at the end of the input).
static const uint8_t *
fuzz_take(fuzz_in *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;
	*got             = n < in->left ? n : in->left;
	in->p += *got;
	in->left -= *got;
	return p;
}

// A field: one length byte, then that many bytes.
static const uint8_t *
fuzz_field(fuzz_in *in, size_t *len)
{
	size_t         one;
	const uint8_t *b = fuzz_take(in, 1, &one);
	return fuzz_take(in, one ? b[0] : 0, len);
}

// A NUL-terminated copy of a field (cut at an inner NUL, as C does).
static char *
fuzz_cstr(fuzz_in *in)
{
	size_t         len;
	const uint8_t *p = fuzz_field(in, &len);
	char          *s = malloc(len + 1);
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

// Binds the columns of @p ev, headers given, and decodes the row.
static weir_err
fuzz_decode(const weir_event *ev, const void *h, size_t hlen, weir_event **out)
{
	size_t      klen, plen;
	const void *key = weir_event_key(ev, &klen);
	const void *pay = weir_event_payload(ev, &plen);
	sqlite3_reset(fuzz_stmt);
	sqlite3_bind_blob(fuzz_stmt, 1, weir_event_id(ev), 16, SQLITE_STATIC);
	sqlite3_bind_int64(fuzz_stmt, 2, weir_event_ts(ev));
	sqlite3_bind_text(
	    fuzz_stmt, 3, weir_event_topic(ev), -1, SQLITE_STATIC);
	sqlite3_bind_blob(
	    fuzz_stmt, 4, key ? key : "", (int) klen, SQLITE_STATIC);
	sqlite3_bind_blob(fuzz_stmt, 5, h ? h : "", (int) hlen, SQLITE_STATIC);
	sqlite3_bind_blob(
	    fuzz_stmt, 6, pay ? pay : "", (int) plen, SQLITE_STATIC);
	if (sqlite3_step(fuzz_stmt) != SQLITE_ROW) {
		fail("no row");
	}
	return weir__codec_row_event(fuzz_stmt, 0, 42, out);
}

static int
fuzz_bytes_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void
fuzz_events_eq(const weir_event *a, const weir_event *b)
{
	size_t      alen, blen;
	const void *ap = weir_event_key(a, &alen);
	const void *bp = weir_event_key(b, &blen);
	if (memcmp(weir_event_id(a), weir_event_id(b), 16) != 0 ||
	    weir_event_ts(a) != weir_event_ts(b) ||
	    strcmp(weir_event_topic(a), weir_event_topic(b)) != 0 ||
	    !fuzz_bytes_eq(ap, alen, bp, blen) || weir_event_seq(b) != 42) {
		fail("round trip: id, ts, topic, key or seq differ");
	}
	ap = weir_event_payload(a, &alen);
	bp = weir_event_payload(b, &blen);
	if (!fuzz_bytes_eq(ap, alen, bp, blen) ||
	    weir_event_header_count(a) != weir_event_header_count(b)) {
		fail("round trip: payload or header count differ");
	}
	for (size_t i = 0; i < weir_event_header_count(a); i++) {
		const char *an, *bn;
		(void) weir_event_header(a, i, &an, &ap, &alen);
		(void) weir_event_header(b, i, &bn, &bp, &blen);
		if (strcmp(an, bn) != 0 ||
		    !fuzz_bytes_eq(ap, alen, bp, blen)) {
			fail("round trip: a header differs");
		}
	}
}

// Encodes the headers of @p ev (malloc'd; *len bytes).
static uint8_t *
fuzz_encode(const weir_event *ev, size_t *len)
{
	*len         = weir__codec_headers_size(ev);
	uint8_t *buf = malloc(*len ? *len : 1);
	weir__codec_headers_encode(ev, buf);
	return buf;
}

static void
fuzz_round_trip(const weir_event *ev)
{
	size_t      hlen;
	uint8_t    *h   = fuzz_encode(ev, &hlen);
	weir_event *out = NULL;
	weir_err    rv  = fuzz_decode(ev, h, hlen, &out);
	if (rv != WEIR_OK) {
		fprintf(stderr, "decode: %s\n", weir_err_name(rv));
		fail("round trip: a valid event does not decode");
	}
	fuzz_events_eq(ev, out);
	weir_event_release(out);
	free(h);
}

// Property 1: the input as an event.
static void
fuzz_event(const uint8_t *data, size_t size)
{
	fuzz_in         in = { data, size };
	weir_header     hdrs[WEIR_MAX_HEADERS + 1];
	char           *names[WEIR_MAX_HEADERS + 1];
	size_t          got;
	const uint8_t  *b      = fuzz_take(&in, 1, &got);
	size_t          nh     = got ? b[0] % (WEIR_MAX_HEADERS + 2) : 0;
	weir_event_init init   = { .size = sizeof(init), .headers = hdrs };
	uint8_t         id[16] = { 0 };
	memcpy(id, fuzz_take(&in, 16, &got), got);
	init.id = id;
	memcpy(&init.ts, fuzz_take(&in, 8, &got), got);
	char *topic  = fuzz_cstr(&in);
	init.topic   = topic;
	init.key     = fuzz_field(&in, &init.key_len);
	init.payload = fuzz_field(&in, &init.payload_len);
	for (size_t i = 0; i < nh; i++) {
		names[i]      = fuzz_cstr(&in);
		hdrs[i].name  = names[i];
		hdrs[i].value = fuzz_field(&in, &hdrs[i].len);
	}
	init.header_count = nh;
	weir_event *ev    = NULL;
	if (weir_event_new(&ev, &init) == WEIR_OK) {
		fuzz_round_trip(ev);
		weir_event_release(ev);
	}
	for (size_t i = 0; i < nh; i++) {
		free(names[i]);
	}
	free(topic);
}

// Property 2: the input as a header blob.
static void
fuzz_blob(const uint8_t *data, size_t size)
{
	weir_event_init init = { .size = sizeof(init), .topic = "fuzz.blob" };
	weir_event     *ev, *out = NULL;
	if (weir_event_new(&ev, &init) != WEIR_OK) {
		fail("weir_event_new");
	}
	weir_err rv = fuzz_decode(ev, data, size, &out);
	if (rv != WEIR_OK && rv != WEIR_ECORRUPT) {
		fprintf(stderr, "decode: %s\n", weir_err_name(rv));
		fail("arbitrary header bytes: neither OK nor ECORRUPT");
	}
	if (rv == WEIR_OK) {
		size_t   hlen;
		uint8_t *h = fuzz_encode(out, &hlen);
		if (!fuzz_bytes_eq(h, hlen, data, size)) {
			fail("arbitrary header bytes: decoded, but re-encode "
			     "differs (the decoder accepted a non-canonical "
			     "blob)");
		}
		free(h);
	}
	weir_event_release(out);
	weir_event_release(ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_event(data, size);
	fuzz_blob(data, size);
	return 0;
}
