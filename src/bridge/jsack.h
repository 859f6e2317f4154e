/*
 * What the JetStream inbound source needs of a message's metadata (its
 * stream, stream sequence and time), read from its ack subject, the
 * message's reply, in place. cnats's natsMsg_GetMetaData allocates and
 * parses every field: with its destroy, ~1,900 instructions a message.
 * The two forms nats-server sends (ADR-15):
 *
 *   $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
 *   $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.
 *       <sseq>.<cseq>.<ts>.<pending>.<random>
 *
 * Anything else (another token count, a field that is not a decimal
 * number) is not read here: the caller asks cnats. Header-only, like
 * cetext.h: each backend library carries its own copy.
 */
#ifndef WEIR_BRIDGE_JSACK_H
#define WEIR_BRIDGE_JSACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct weir__jsack {
	const char *stream; /* not NUL-terminated: stream_len bytes */
	size_t      stream_len;
	uint64_t    seq; /* the stream sequence */
	int64_t     ts;  /* unix ns */
} weir__jsack;

/* The 12 tokens of the longer form; one more means another form. */
#define WEIR__JSACK_TOKENS 12

/* A decimal number of 1 to 19 digits (so it fits): 1, or 0. */
static inline int
weir__jsack_num(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t) (s[i] - '0');
	}
	*out = v;
	return 1;
}

/* Reads @p reply into @p a: 1, or 0 when it is not one of the two
 * forms (then @p a is unchanged). */
static inline int
weir__jsack_parse(const char *reply, weir__jsack *a)
{
	const char *tok[WEIR__JSACK_TOKENS + 1];
	size_t      len[WEIR__JSACK_TOKENS + 1], n = 0;
	if (reply == NULL || strncmp(reply, "$JS.ACK.", 8) != 0)
		return 0;
	for (const char *p = reply; n <= WEIR__JSACK_TOKENS;) {
		const char *dot = strchr(p, '.');
		tok[n]          = p;
		len[n++]        = dot != NULL ? (size_t) (dot - p) : strlen(p);
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	if (n != 9 && n != WEIR__JSACK_TOKENS)
		return 0;
	size_t   s = n == 9 ? 2 : 4; /* the stream's token */
	uint64_t num[5];
	for (size_t i = 0; i < 5; i++) /* delivered .. pending */
		if (!weir__jsack_num(tok[s + 2 + i], len[s + 2 + i], &num[i]))
			return 0;
	if (len[s] == 0 || len[s + 1] == 0 || num[3] > INT64_MAX)
		return 0;
	a->stream     = tok[s];
	a->stream_len = len[s];
	a->seq        = num[1];
	a->ts         = (int64_t) num[3];
	return 1;
}

#endif
