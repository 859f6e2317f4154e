// The backend interface of a loop: one file per backend (loop_epoll.c,
// loop_poll.c), chosen by CMake, like Redis's ae.
#ifndef WEIR_CORE_POLLER_H
#define WEIR_CORE_POLLER_H

#include <weir/weir.h>

typedef struct weir__poller weir__poller;

// Called for each ready descriptor with the user data given to set().
typedef void (*weir__poller_fn)(void *ud, int events, void *arg);

weir_err weir__poller_create(weir__poller **out);
void     weir__poller_destroy(weir__poller *p);
// Adds, changes (same fd) or, with @p events 0, removes a descriptor.
weir_err weir__poller_set(weir__poller *p, int fd, int events, void *ud);
// Waits up to @p timeout_ms (-1: forever) and reports ready ones.
void weir__poller_wait(
    weir__poller *p, int timeout_ms, weir__poller_fn fn, void *arg);
// A descriptor that polls readable when a registered one is ready, or
// -1 if the backend has none.
int         weir__poller_fd(weir__poller *p);
const char *weir__poller_name(void);

#endif
