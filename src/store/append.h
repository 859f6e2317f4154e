// Appends: the public entry point and its part on the writer thread.
#ifndef WEIR_STORE_APPEND_H
#define WEIR_STORE_APPEND_H

#include <weir/store.h>

#include "store/writer.h"

// Runs one append request inside the writer's open transaction: sets
// r->seq and r->version, or returns an error (WEIR_ECONFLICT, or a
// storage error that fails the batch).
weir_err weir__append_exec(weir_store *st, weir__req *r);

#endif
