/* JSON values to text for the tool's output (NDJSON lines, acks, stats,
 * dead letters), in place of jansson's json_dumps. */
#ifndef WEIR_CLI_JTEXT_H
#define WEIR_CLI_JTEXT_H

#include <jansson.h>

/* Encodes @p v with jansson's @p flags (JSON_COMPACT, ...); returns a
 * NUL-terminated malloc'd string (free with free()), or NULL if @p v is
 * NULL or memory ran out: never a partial text. */
char *weir__jtext(const json_t *v, size_t flags);

#endif
