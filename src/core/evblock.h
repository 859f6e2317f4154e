// The events of a batch in one allocation, freed when the last of them
// dies.
#ifndef WEIR_CORE_EVBLOCK_H
#define WEIR_CORE_EVBLOCK_H

#include <stddef.h>
#include <stdint.h>

#include <weir/weir.h>

// Builds @p n plain events of one topic from @p bufs (copied), all with
// the timestamp @p ts and a count of @p refs each, their ids one run of
// the thread's UUIDv7 counter, in as few blocks as EVBLOCK_BYTES allows
// (each event is marked EVENT_BLOCK). Returns how many were made (the
// first ones): fewer than @p n when memory ran out.
size_t weir__evblock_make_n(weir_event **out, const char *topic,
    size_t topic_len, const weir_buf *bufs, size_t n, unsigned refs,
    int64_t ts);

// @p dead events of the block of @p ev (one of them) died: the block is
// freed with the last.
void weir__evblock_release(const weir_event *ev, unsigned dead);

#endif
