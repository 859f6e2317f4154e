// The epoll backend of a loop.
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/poller.h"

#define EPOLL_BATCH 64

struct weir__poller {
	int epfd;
	int nfds;
};

weir_err
weir__poller_create(weir__poller **out)
{
	weir__poller *p = weir__zalloc(sizeof(*p));
	if (p == NULL) {
		return WEIR_ENOMEM;
	}
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		weir__free(p);
		return errno == ENOMEM ? WEIR_ENOMEM : WEIR_EIO;
	}
	*out = p;
	return WEIR_OK;
}

void
weir__poller_destroy(weir__poller *p)
{
	if (p != NULL) {
		close(p->epfd);
		weir__free(p);
	}
}

static uint32_t
epoll_mask(int events)
{
	uint32_t m = 0;
	if (events & WEIR_WATCH_READ) {
		m |= EPOLLIN;
	}
	if (events & WEIR_WATCH_WRITE) {
		m |= EPOLLOUT;
	}
	return m;
}

weir_err
weir__poller_set(weir__poller *p, int fd, int events, void *ud)
{
	struct epoll_event ev = { .events = epoll_mask(events) };
	ev.data.ptr           = ud;
	if (events == 0) {
		return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) == 0
		    ? WEIR_OK
		    : WEIR_ENOENT;
	}
	if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) {
		return WEIR_OK;
	}
	if (errno == ENOENT &&
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
		return WEIR_OK;
	}
	return errno == ENOMEM || errno == ENOSPC ? WEIR_ENOMEM : WEIR_EINVAL;
}

void
weir__poller_wait(
    weir__poller *p, int timeout_ms, weir__poller_fn fn, void *arg)
{
	struct epoll_event evs[EPOLL_BATCH];
	int n = epoll_wait(p->epfd, evs, EPOLL_BATCH, timeout_ms);
	for (int i = 0; i < n; i++) {
		int events = 0;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			events |= WEIR_WATCH_READ;
		}
		if (evs[i].events & (EPOLLOUT | EPOLLERR)) {
			events |= WEIR_WATCH_WRITE;
		}
		fn(evs[i].data.ptr, events, arg);
	}
}

int
weir__poller_fd(weir__poller *p)
{
	return p->epfd;
}

const char *
weir__poller_name(void)
{
	return "epoll";
}
