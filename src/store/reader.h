// Read connections: read-only, never checkpoint, pooled.
#ifndef WEIR_STORE_READER_H
#define WEIR_STORE_READER_H

#include <pthread.h>

#include <sqlite3.h>

#include <weir/store.h>

#define WEIR__READERS_KEEP 8 // idle connections kept open

typedef struct weir__readers {
	pthread_mutex_t mu;
	sqlite3        *idle[WEIR__READERS_KEEP];
	size_t          nidle;
	int             closed;
} weir__readers;

void weir__readers_init(weir_store *st);
// Lends a read connection (opening one if none is idle).
weir_err weir__readers_get(weir_store *st, sqlite3 **db);
// Gives a connection back; it is closed if the pool is full or closed.
void weir__readers_put(weir_store *st, sqlite3 *db);
// Closes the idle connections; later puts close theirs.
void weir__readers_close(weir_store *st);
void weir__readers_fini(weir_store *st);

#endif
