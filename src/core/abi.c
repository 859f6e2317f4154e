// See abi.h. Sizes are read with memcpy: the caller's struct may be of
// another (older or newer) layout than the one this build was made with.
#include <string.h>

#include "core/abi.h"

static size_t
abi_size(const void *p)
{
	size_t n;
	memcpy(&n, p, sizeof(n));
	return n;
}

weir_err
weir__struct_in(void *dst, size_t dst_size, const void *src, size_t min_size)
{
	size_t n = abi_size(src);
	if (n < min_size) {
		return WEIR_EINVAL;
	}
	for (size_t i = dst_size; i < n; i++) {
		if (((const unsigned char *) src)[i] != 0) {
			return WEIR_ENOTSUP;
		}
	}
	memset(dst, 0, dst_size);
	memcpy(dst, src, n < dst_size ? n : dst_size);
	memcpy(dst, &dst_size, sizeof(dst_size));
	return WEIR_OK;
}

weir_err
weir__struct_out(void *dst, const void *src, size_t min_size)
{
	size_t room = abi_size(dst);
	size_t have = abi_size(src);
	if (room < min_size) {
		return WEIR_EINVAL;
	}
	memcpy((char *) dst + sizeof(size_t),
	    (const char *) src + sizeof(size_t),
	    (room < have ? room : have) - sizeof(size_t));
	return WEIR_OK;
}
