// Growable public structs (include/weir/weir.h, "Structs that grow").
// Every public struct starts with `size_t size`, set by whoever allocates
// it. These two helpers are the only places that interpret it, so the
// rule is the same for every struct: weir touches at most
// min(size, sizeof) bytes, refuses a size below the struct's 1.0 size,
// and refuses an input that sets fields this build does not know.
#ifndef WEIR_CORE_ABI_H
#define WEIR_CORE_ABI_H

#include <stddef.h>

#include <weir/weir.h>

// WEIR_API exports these from a shared libweir for weir::store, a
// library of its own; they are declared only here, so they are not API.

// Copies the caller's input struct @p src into @p dst (weir's own
// sizeof is @p dst_size), zero-filling what an older caller did not
// have. WEIR_EINVAL if src's size is below @p min_size; WEIR_ENOTSUP if
// src is larger than dst_size and any byte past dst_size is not zero (a
// newer caller asking for something this build cannot do).
WEIR_API weir_err weir__struct_in(
    void *dst, size_t dst_size, const void *src, size_t min_size);

// Copies weir's filled struct @p src (whose own size field says its
// sizeof) into the caller's @p dst, at most as many bytes as dst's size
// field allows, keeping dst's size field. WEIR_EINVAL if dst's size is
// below @p min_size.
WEIR_API weir_err weir__struct_out(
    void *dst, const void *src, size_t min_size);

#endif
