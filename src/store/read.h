// Small reads shared by the store's files.
#ifndef WEIR_STORE_READ_H
#define WEIR_STORE_READ_H

#include <stdint.h>

#include <weir/store.h>

// Runs @p sql (one text parameter ?1) on a read connection and returns
// its first integer; WEIR_ENOENT when there is no row.
weir_err weir__store_read_int(
    weir_store *st, const char *sql, const char *text, int64_t *out);

#endif
