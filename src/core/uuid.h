// Time and UUIDv7 ids.
#ifndef WEIR_CORE_UUID_H
#define WEIR_CORE_UUID_H

#include <stdint.h>

#include "core/clock.h"
// A per-thread pseudo-random 64-bit number (not for secrets).
uint64_t weir__rand64(void);
// A UUIDv7 for the given unix time in ns.
void weir__uuid_v7_at(uint8_t id[16], int64_t now_ns);

#endif
