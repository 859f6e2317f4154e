// FNV-1a over bytes: the one hash of the core's tables (token tree,
// COALESCE keys, debounce keys). Short keys, no adversary to resist.
#ifndef WEIR_CORE_HASH_H
#define WEIR_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
weir__hash_bytes(const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t       h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ p[i]) * 1099511628211ull;
	}
	return h;
}

#endif
