// The schema: its version, identification and forward migrations.
#ifndef WEIR_STORE_SCHEMA_H
#define WEIR_STORE_SCHEMA_H

#include <sqlite3.h>

#include <weir/store.h>

// PRAGMA application_id of a weir store: "weir" in ASCII.
#define WEIR__SCHEMA_APP_ID 0x77656972
// PRAGMA user_version this weir writes and understands.
#define WEIR__SCHEMA_VERSION 5

// Checks that @p db is empty or a weir store of a version this weir
// knows, then migrates it to WEIR__SCHEMA_VERSION in one transaction.
// WEIR_ENOTSTORE, WEIR_EVERSION, WEIR_ECORRUPT, WEIR_ESTORE.
weir_err weir__schema_open(weir_store *st, sqlite3 *db);

// Applies the migrations from version @p from to @p to (tests use it to
// build an old store; @p st may then be NULL). Runs inside the caller's
// transaction.
weir_err weir__schema_migrate(weir_store *st, sqlite3 *db, int from, int to);

// Time ranges of the log by blocks of seqs (docs/store.md, "Indexes"):
// block b holds seqs b << WEIR__TS_BLOCK_BITS to one below
// (b + 1) << WEIR__TS_BLOCK_BITS, and its row in events_ts_blocks
// bounds the ts of every event in it.
#define WEIR__TS_BLOCK_BITS 10

#endif
