// Stats sections: JSON objects that other modules (the bridge) add to
// the bus's stats without core knowing them.
#ifndef WEIR_CORE_SECTION_H
#define WEIR_CORE_SECTION_H

#include <pthread.h>

#include <weir/weir.h>

#include "core/jbuf.h"

typedef struct weir__section weir__section;

// The bus's list of sections; its lock is held while a section's
// function runs, so that removing a section waits for a running one.
typedef struct weir__sections {
	pthread_mutex_t lock;
	weir__section  *head;
} weir__sections;

void weir__sections_init(weir__sections *ss);
// Frees what is left (the bus is being destroyed).
void weir__sections_fini(weir__sections *ss);
// Appends `,"name":value` for every section to @p b; a section whose
// function returns NULL (it failed) fails @p b, so the caller hands out
// no text with that member missing.
void weir__sections_json(weir_bus *bus, weir__sections *ss, weir__jbuf *b);

#endif
