// The epoll backend of a loop (Linux): its wake-up is an eventfd, a
// counter that one write makes readable and one read drains.
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/poller.h"

#define EPOLL_BATCH 64

struct weir__poller {
	int epfd;
	int wakefd; // its user data in the epoll set is &wakefd
};

static weir_err
epoll_errno(void)
{
	return errno == ENOMEM || errno == ENFILE || errno == EMFILE
	    ? WEIR_ENOMEM
	    : WEIR_EIO;
}

static weir_err
epoll_open(weir__poller *p)
{
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		return epoll_errno();
	}
	p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->wakefd < 0) {
		return epoll_errno();
	}
	struct epoll_event ev = { .events = EPOLLIN };
	ev.data.ptr           = &p->wakefd;
	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) == 0
	    ? WEIR_OK
	    : epoll_errno();
}

weir_err
weir__poller_create(weir__poller **out)
{
	weir__poller *p = weir__zalloc(sizeof(*p));
	if (p == NULL) {
		return WEIR_ENOMEM;
	}
	p->epfd     = -1;
	p->wakefd   = -1;
	weir_err rv = epoll_open(p);
	if (rv != WEIR_OK) {
		weir__poller_destroy(p);
		return rv;
	}
	*out = p;
	return WEIR_OK;
}

void
weir__poller_destroy(weir__poller *p)
{
	if (p != NULL) {
		if (p->wakefd >= 0) {
			close(p->wakefd);
		}
		if (p->epfd >= 0) {
			close(p->epfd);
		}
		weir__free(p);
	}
}

void
weir__poller_wake(weir__poller *p)
{
	uint64_t one = 1;
	// EAGAIN means the counter is already non-zero: the loop will wake.
	ssize_t n = write(p->wakefd, &one, sizeof(one));
	(void) n;
}

uint64_t
weir__poller_drain(weir__poller *p)
{
	uint64_t v = 0;
	if (read(p->wakefd, &v, sizeof(v)) != (ssize_t) sizeof(v)) {
		return 0; // EAGAIN: nothing pending
	}
	return v;
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

int
weir__poller_wait(
    weir__poller *p, int timeout_ms, weir__poller_fn fn, void *arg)
{
	struct epoll_event evs[EPOLL_BATCH];
	int n     = epoll_wait(p->epfd, evs, EPOLL_BATCH, timeout_ms);
	int woken = 0;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &p->wakefd) {
			weir__poller_drain(p);
			woken = 1;
			continue;
		}
		int events = 0;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			events |= WEIR_WATCH_READ;
		}
		if (evs[i].events & (EPOLLOUT | EPOLLERR)) {
			events |= WEIR_WATCH_WRITE;
		}
		fn(evs[i].data.ptr, events, arg);
	}
	return woken;
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
