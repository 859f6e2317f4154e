// Design notes. Keys live in a chained hash table and, at the same
// time, in a list ordered by when each key was last seen: a put moves
// its key to the tail, so the head is always the key quiet the longest
// and taking due keys is O(1) each. The table doubles when it holds
// more keys than buckets. Events without a key share the empty key.
#include <string.h>

#include "core/alloc.h"
#include "core/debounce.h"
#include "core/event.h"
#include "core/hash.h"

typedef struct db_entry {
	weir_event      *ev;
	int64_t          seen_ns;
	uint64_t         hash;
	struct db_entry *chain;
	struct db_entry *prev; // quiet order
	struct db_entry *next;
} db_entry;

struct weir__debounce {
	db_entry **table;
	size_t     nbuckets; // power of two
	size_t     count;
	int64_t    quiet_ns;
	db_entry  *head; // quiet the longest
	db_entry  *tail;
};

static uint64_t
db_hash(const weir_event *ev)
{
	return weir__hash_bytes(weir__event_key(ev), ev->key_len);
}

weir_err
weir__debounce_create(weir__debounce **out, int64_t quiet_ns)
{
	weir__debounce *db = weir__zalloc(sizeof(*db));
	if (db == NULL) {
		return WEIR_ENOMEM;
	}
	db->nbuckets = 64;
	db->table    = weir__zalloc(db->nbuckets * sizeof(*db->table));
	if (db->table == NULL) {
		weir__free(db);
		return WEIR_ENOMEM;
	}
	db->quiet_ns = quiet_ns;
	*out         = db;
	return WEIR_OK;
}

void
weir__debounce_destroy(weir__debounce *db)
{
	if (db == NULL) {
		return;
	}
	db_entry *e = db->head;
	while (e != NULL) {
		db_entry *next = e->next;
		weir_event_release(e->ev);
		weir__free(e);
		e = next;
	}
	weir__free(db->table);
	weir__free(db);
}

static void
db_unlink(weir__debounce *db, db_entry *e)
{
	if (e->prev != NULL) {
		e->prev->next = e->next;
	} else {
		db->head = e->next;
	}
	if (e->next != NULL) {
		e->next->prev = e->prev;
	} else {
		db->tail = e->prev;
	}
	e->prev = e->next = NULL;
}

static void
db_append(weir__debounce *db, db_entry *e)
{
	e->prev = db->tail;
	e->next = NULL;
	if (db->tail != NULL) {
		db->tail->next = e;
	} else {
		db->head = e;
	}
	db->tail = e;
}

static void
db_grow(weir__debounce *db)
{
	size_t     n     = db->nbuckets * 2;
	db_entry **table = weir__zalloc(n * sizeof(*table));
	if (table == NULL) {
		return; // longer chains, still correct
	}
	for (db_entry *e = db->head; e != NULL; e = e->next) {
		e->chain                 = table[e->hash & (n - 1)];
		table[e->hash & (n - 1)] = e;
	}
	weir__free(db->table);
	db->table    = table;
	db->nbuckets = n;
}

static db_entry *
db_find(weir__debounce *db, const weir_event *ev, uint64_t h)
{
	for (db_entry *e = db->table[h & (db->nbuckets - 1)]; e != NULL;
	     e           = e->chain) {
		if (e->hash == h && e->ev->key_len == ev->key_len &&
		    (ev->key_len == 0 ||
		        memcmp(weir__event_key(e->ev), weir__event_key(ev),
		            ev->key_len) == 0)) {
			return e;
		}
	}
	return NULL;
}

int
weir__debounce_put(weir__debounce *db, weir_event *ev, int64_t now_ns)
{
	uint64_t  h = db_hash(ev);
	db_entry *e = db_find(db, ev, h);
	if (e != NULL) {
		weir_event_release(e->ev);
		e->ev      = ev;
		e->seen_ns = now_ns;
		db_unlink(db, e);
		db_append(db, e);
		return 1;
	}
	if ((e = weir__zalloc(sizeof(*e))) == NULL) {
		return -1;
	}
	*e       = (db_entry) { .ev = ev, .seen_ns = now_ns, .hash = h };
	e->chain = db->table[h & (db->nbuckets - 1)];
	db->table[h & (db->nbuckets - 1)] = e;
	db_append(db, e);
	if (++db->count > db->nbuckets) {
		db_grow(db);
	}
	return 0;
}

static void
db_unchain(weir__debounce *db, db_entry *e)
{
	db_entry **pp = &db->table[e->hash & (db->nbuckets - 1)];
	while (*pp != e) {
		pp = &(*pp)->chain;
	}
	*pp = e->chain;
}

weir_event *
weir__debounce_take(weir__debounce *db, int64_t now_ns)
{
	db_entry *e = db->head;
	if (e == NULL || e->seen_ns + db->quiet_ns > now_ns) {
		return NULL;
	}
	db_unlink(db, e);
	db_unchain(db, e);
	db->count--;
	weir_event *ev = e->ev;
	weir__free(e);
	return ev;
}

int64_t
weir__debounce_next(const weir__debounce *db)
{
	return db->head ? db->head->seen_ns + db->quiet_ns : -1;
}
