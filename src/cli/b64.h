/* Base64 (RFC 4648, with padding) for binary keys, headers and payloads
 * in NDJSON ("payload_b64"). */
#ifndef WEIR_CLI_B64_H
#define WEIR_CLI_B64_H

#include <stddef.h>

/* Encodes @p len bytes; returns a NUL-terminated malloc'd string (free
 * with free()), or NULL if out of memory. */
char *weir__b64_encode(const void *data, size_t len);
/* Decodes @p text (padding required, no white space) into a malloc'd
 * buffer (*out, *len; free with free()). Returns 0, or -1 if @p text is
 * not base64 or memory ran out. */
int weir__b64_decode(
    const char *text, size_t text_len, void **out, size_t *len);

#endif
