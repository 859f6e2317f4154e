/*
 * Ids and transport headers of inbound messages.
 *
 * Design notes. The id is what makes redelivery harmless, so it must be
 * the same every time the broker hands the same message over, in this
 * process or the next, in this version of weir or a later one. The
 * derivation below (domain string, lengths, FNV-1a 128, UUIDv8 bits) is
 * therefore frozen: changing any byte of it would make every message
 * redelivered after an upgrade look new. A new scheme gets a new domain
 * string instead.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bridge/inbound.h"

/* The FNV-1a 128-bit parameters (offset basis and prime). */
#define ID_FNV_BASIS_HI 0x6c62272e07bb0142ULL
#define ID_FNV_BASIS_LO 0x62b821756295c58dULL
#define ID_DOMAIN "weir-inbound-id/1"

__extension__ typedef unsigned __int128 id_u128;

static id_u128
id_fnv(id_u128 h, const void *data, size_t len)
{
	/* the prime is 2^88 + 0x13b */
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h = (h << 88) + h * 0x13b;
	}
	return h;
}

void
weir__inbound_derive(
    const void *const *parts, const size_t *lens, size_t n, uint8_t id[16])
{
	id_u128 h = ((id_u128) ID_FNV_BASIS_HI << 64) | ID_FNV_BASIS_LO;
	h         = id_fnv(h, ID_DOMAIN, sizeof ID_DOMAIN); /* with its NUL */
	for (size_t i = 0; i < n; i++) {
		unsigned char len[8];
		for (int b = 0; b < 8; b++)
			len[b] =
			    (unsigned char) ((uint64_t) lens[i] >> (8 * b));
		h = id_fnv(h, len, sizeof len);
		h = id_fnv(h, parts[i], lens[i]);
	}
	for (int b = 0; b < 16; b++)
		id[b] = (uint8_t) (h >> (8 * (15 - b)));
	id[6] = (uint8_t) ((id[6] & 0x0f) | 0x80); /* version 8 */
	id[8] = (uint8_t) ((id[8] & 0x3f) | 0x80); /* RFC 9562 variant */
}

/* ASCII case-insensitive equality, inline: glibc's strcasecmp goes
 * through the locale's tables (~40 instructions a call), and header
 * names are compared with several literals per header of every
 * message. Equal to strcasecmp's answer for the ASCII literals here. */
static int
id_ieq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char) *a, y = (unsigned char) *b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char) (x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char) (y + 32);
		if (x != y)
			return 0;
		if (x == '\0')
			return 1;
	}
}

/* "ce_" or "ce-", any case. Tested a byte at a time, inline: names are
 * matched against several attributes per header of every message. */
static int
id_ce_prefix(const char *name)
{
	return (name[0] | 0x20) == 'c' && (name[1] | 0x20) == 'e' &&
	    (name[2] == '_' || name[2] == '-');
}

int
weir__inbound_ce(const char *name, const char *attr)
{
	return id_ce_prefix(name) && id_ieq(name + 3, attr);
}

static const weir_header *
id_header(const weir_inbound_msg *msg, const char *attr, int ce)
{
	for (size_t i = 0; i < msg->header_count; i++) {
		const char *n = msg->headers[i].name;
		if (n != NULL &&
		    (ce ? weir__inbound_ce(n, attr) : id_ieq(n, attr)))
			return &msg->headers[i];
	}
	return NULL;
}

/* A UUID in its 36-character text form, as weir writes ce_id. */
static int
id_uuid(const weir_header *h, uint8_t id[16])
{
	char text[37];
	if (h == NULL || h->len != 36)
		return 0;
	memcpy(text, h->value, 36);
	text[36] = '\0';
	return weir_uuid_parse(text, id) == WEIR_OK;
}

void
weir__inbound_id(const weir_inbound_msg *msg, uint8_t id[16])
{
	const weir_header *ce  = id_header(msg, "id", 1);
	const weir_header *nid = id_header(msg, "Nats-Msg-Id", 0);
	if (id_uuid(ce, id) || id_uuid(nid, id))
		return;
	const void *parts[3];
	size_t      lens[3];
	if (ce != NULL || nid != NULL) {
		const weir_header *src = id_header(msg, "source", 1);
		parts[0]               = ce != NULL ? "ce" : "nats-msg-id";
		lens[0]                = ce != NULL ? 2 : 11;
		parts[1] = src != NULL && ce != NULL ? src->value : "";
		lens[1]  = src != NULL && ce != NULL ? src->len : 0;
		parts[2] = ce != NULL ? ce->value : nid->value;
		lens[2]  = ce != NULL ? ce->len : nid->len;
		weir__inbound_derive(parts, lens, 3, id);
		return;
	}
	if (msg->coord != NULL) {
		parts[0] = "coord";
		lens[0]  = 5;
		parts[1] = msg->coord;
		lens[1]  = strlen(msg->coord);
		weir__inbound_derive(parts, lens, 2, id);
		return;
	}
	weir_uuid_v7(id); /* core NATS: nothing stable to go by */
}

/* Fraction digits after a '.', as ns; *p moves past them. The text is
 * NUL-terminated at @p end, so **p may be read at *p == end. */
static int64_t
id_fraction(const char **p, const char *end)
{
	int64_t ns = 0, scale = 100000000;
	if (**p != '.')
		return 0;
	for ((*p)++; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
		ns += (**p - '0') * scale;
		scale /= 10;
	}
	return ns;
}

int64_t
weir__inbound_time(const void *text, size_t len)
{
	char buf[64];
	if (text == NULL || len < 20 || len >= sizeof buf)
		return 0;
	memcpy(buf, text, len);
	buf[len]       = '\0';
	struct tm tm   = { 0 };
	int       used = 0;
	if (sscanf(buf, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year,
	        &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	        &used) != 6 ||
	    used != 19)
		return 0;
	const char *p = buf + 19, *end = buf + len;
	int64_t     ns  = id_fraction(&p, end);
	int64_t     off = 0;
	int         oh, om;
	if (p + 1 == end && (*p == 'Z' || *p == 'z'))
		off = 0;
	else if (p + 6 == end && (*p == '+' || *p == '-') &&
	    sscanf(p + 1, "%2d:%2d", &oh, &om) == 2)
		off = (*p == '+' ? 1 : -1) * (int64_t) (oh * 3600 + om * 60);
	else
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t <= 0)
		return 0;
	return ((int64_t) t - off) * 1000000000 + ns;
}

int
weir__inbound_header_dropped(const char *name)
{
	static const char *const ce[] = { "specversion", "id", "time",
		"source", "type" };
	if (id_ce_prefix(name)) {
		for (size_t i = 0; i < sizeof ce / sizeof *ce; i++)
			if (id_ieq(name + 3, ce[i]))
				return 1;
		return 0;
	}
	/* The rest start with n or w: most headers are none of them. */
	int c = name[0] | 0x20;
	if (c != 'n' && c != 'w')
		return 0;
	return id_ieq(name, "Nats-Msg-Id") || id_ieq(name, "weir-seq") ||
	    id_ieq(name, WEIR__HDR_ORIGIN) || id_ieq(name, WEIR__HDR_ECHO);
}

/* "natscore" and "nats" reach the same server. */
static size_t
id_family(const char *s, size_t len)
{
	return len >= 4 && strncmp(s, "nats", 4) == 0 ? 4 : len;
}

int
weir__inbound_same_broker(const char *a, const void *b, size_t blen)
{
	size_t la = id_family(a, strlen(a));
	size_t lb = id_family(b, blen);
	return la == lb && memcmp(a, b, la) == 0;
}
