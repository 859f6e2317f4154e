// The backend interface of a loop: one file per backend (loop_epoll.c,
// loop_poll.c), chosen by CMake, like Redis's ae. The backend owns the
// loop's wake-up descriptor, since the best one is platform-specific:
// an eventfd with epoll (Linux), a non-blocking pipe with poll
// (anywhere POSIX).
#ifndef WEIR_CORE_POLLER_H
#define WEIR_CORE_POLLER_H

#include <weir/weir.h>

typedef struct weir__poller weir__poller;

// Called for each ready descriptor with the user data given to set().
typedef void (*weir__poller_fn)(void *ud, int events, void *arg);

// Creates the poller and its wake-up descriptor, already watched.
weir_err weir__poller_create(weir__poller **out);
void     weir__poller_destroy(weir__poller *p);
// Adds, changes (same fd) or, with @p events 0, removes a descriptor.
weir_err weir__poller_set(weir__poller *p, int fd, int events, void *ud);
// Waits up to @p timeout_ms (-1: forever) and reports ready ones; a
// wake-up is drained here, not reported. Returns 1 if it was woken.
int weir__poller_wait(
    weir__poller *p, int timeout_ms, weir__poller_fn fn, void *arg);
// Makes the current or next wait return. Any thread; never blocks (a
// wake-up already pending is enough, so a full pipe is not an error).
void weir__poller_wake(weir__poller *p);
// Consumes pending wake-ups; returns how many were made since the last
// drain (with a pipe, at most what it holds). For tests and waits.
uint64_t weir__poller_drain(weir__poller *p);
// A descriptor that polls readable when a registered one is ready or a
// wake-up is pending (epoll: the epoll set; poll: the wake-up pipe, so
// with poll a host loop sees only weir's own work, not its watchers).
int         weir__poller_fd(weir__poller *p);
const char *weir__poller_name(void);

#endif
