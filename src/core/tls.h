// Thread-local variables on hot paths.
#ifndef WEIR_CORE_TLS_H
#define WEIR_CORE_TLS_H

// weir is compiled position-independent (it may be a shared library),
// and there a _Thread_local is reached through __tls_get_addr: a call,
// around which the compiler also saves and restores registers in the
// function that reads it (a publish paid it in the pool, the id and the
// clock). The initial-exec model reads the variable at a fixed offset
// from the thread pointer instead. Its cost: the variable lives in the
// static TLS block, which for a library loaded by dlopen() comes from
// the C library's small reserve, so only a few small variables use it.
#if defined(__GNUC__)
#define WEIR__TLS_FAST __attribute__((tls_model("initial-exec")))
#else
#define WEIR__TLS_FAST
#endif

#endif
