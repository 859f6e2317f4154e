// Dead letters: the scan shared by listing and retrying.
#ifndef WEIR_STORE_DEAD_H
#define WEIR_STORE_DEAD_H

#include <weir/store.h>

// Calls @p fn for each dead letter (of @p origin, or all), oldest
// first, from one read snapshot; stops at the first non-OK return.
weir_err weir__dead_each(weir_store *st, const char *origin, size_t limit,
    weir_store_dead_fn fn, void *arg);

#endif
