// Topic and pattern grammar: NATS subjects.
#ifndef WEIR_CORE_TOPIC_H
#define WEIR_CORE_TOPIC_H

#include <stddef.h>

// Splits @p s at dots: returns the token count, fills at most @p max
// (start, length) pairs. The input must be valid.
size_t weir__topic_split(
    const char *s, const char **tok, size_t *len, size_t max);

// Most tokens a valid topic can have (a one-byte token and a dot each).
#define WEIR_MAX_TOKENS ((WEIR_MAX_TOPIC + 1) / 2)

#endif
