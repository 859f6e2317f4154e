// The poll(2) backend of a loop: portable POSIX (the BSDs, macOS),
// O(n) per wait. Its wake-up is a non-blocking pipe: a wake writes one
// byte, and the loop drains every byte before it looks for work, so a
// pipe left full by many wakes (the writer's EAGAIN) still means "wake".
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/poller.h"

struct weir__poller {
	struct pollfd *fds;
	void         **uds;
	size_t         n;
	size_t         cap;
	struct pollfd *ready; // a copy taken per wait, see below
	void         **ready_uds;
	size_t         ready_cap;
	int            wake[2]; // the pipe: read end, write end
};

static int
poll_set_flags(int fd)
{
	// pipe2() is not in POSIX (macOS lacks it): set the flags after.
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

static int
poll_grow(struct pollfd **fds, void ***uds, size_t *cap, size_t need)
{
	if (need <= *cap) {
		return 1;
	}
	size_t         ncap = *cap ? *cap * 2 : 8;
	struct pollfd *nf   = weir__realloc(*fds, ncap * sizeof(*nf));
	if (nf == NULL) {
		return 0;
	}
	*fds      = nf;
	void **nu = weir__realloc(*uds, ncap * sizeof(*nu));
	if (nu == NULL) {
		return 0;
	}
	*uds = nu;
	*cap = ncap;
	return 1;
}

weir_err
weir__poller_create(weir__poller **out)
{
	weir__poller *p = weir__zalloc(sizeof(*p));
	if (p == NULL) {
		return WEIR_ENOMEM;
	}
	if (pipe(p->wake) != 0) {
		weir__free(p);
		return errno == EMFILE || errno == ENFILE ? WEIR_ENOMEM
		                                          : WEIR_EIO;
	}
	if (!poll_set_flags(p->wake[0]) || !poll_set_flags(p->wake[1])) {
		weir__poller_destroy(p);
		return WEIR_EIO;
	}
	if (!poll_grow(&p->ready, &p->ready_uds, &p->ready_cap, 1)) {
		weir__poller_destroy(p);
		return WEIR_ENOMEM;
	}
	*out = p;
	return WEIR_OK;
}

void
weir__poller_destroy(weir__poller *p)
{
	if (p != NULL) {
		close(p->wake[0]);
		close(p->wake[1]);
		weir__free(p->fds);
		weir__free(p->uds);
		weir__free(p->ready);
		weir__free(p->ready_uds);
		weir__free(p);
	}
}

static short
poll_mask(int events)
{
	return (short) (((events & WEIR_WATCH_READ) ? POLLIN : 0) |
	    ((events & WEIR_WATCH_WRITE) ? POLLOUT : 0));
}

weir_err
weir__poller_set(weir__poller *p, int fd, int events, void *ud)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->fds[i].fd != fd) {
			continue;
		}
		if (events == 0) {
			p->fds[i] = p->fds[p->n - 1];
			p->uds[i] = p->uds[p->n - 1];
			p->n--;
		} else {
			p->fds[i].events = poll_mask(events);
			p->uds[i]        = ud;
		}
		return WEIR_OK;
	}
	if (events == 0) {
		return WEIR_ENOENT;
	}
	// The wait's copy (with the wake-up pipe) grows here too, so that
	// a wait never allocates: a loop thread has no one to tell.
	if (!poll_grow(&p->ready, &p->ready_uds, &p->ready_cap, p->n + 2) ||
	    !poll_grow(&p->fds, &p->uds, &p->cap, p->n + 1)) {
		return WEIR_ENOMEM;
	}
	p->fds[p->n] =
	    (struct pollfd) { .fd = fd, .events = poll_mask(events) };
	p->uds[p->n++] = ud;
	return WEIR_OK;
}

void
weir__poller_wake(weir__poller *p)
{
	// EAGAIN: the pipe is full of wake-ups, the loop will see them.
	ssize_t n = write(p->wake[1], "", 1);
	(void) n;
}

uint64_t
weir__poller_drain(weir__poller *p)
{
	char     buf[256];
	uint64_t got = 0;
	ssize_t  n;
	while ((n = read(p->wake[0], buf, sizeof(buf))) > 0) {
		got += (uint64_t) n;
	}
	return got;
}

int
weir__poller_wait(
    weir__poller *p, int timeout_ms, weir__poller_fn fn, void *arg)
{
	// Callbacks may add or remove descriptors, so poll a copy (sized
	// by create and set); the wake-up pipe goes last.
	size_t n = p->n;
	if (n > 0) { // with no watcher, fds may still be NULL
		memcpy(p->ready, p->fds, n * sizeof(*p->fds));
		memcpy(p->ready_uds, p->uds, n * sizeof(*p->uds));
	}
	p->ready[n] = (struct pollfd) { .fd = p->wake[0], .events = POLLIN };
	if (poll(p->ready, n + 1, timeout_ms) <= 0) {
		return 0;
	}
	int woken = p->ready[n].revents != 0;
	if (woken) {
		weir__poller_drain(p);
	}
	for (size_t i = 0; i < n; i++) {
		short re     = p->ready[i].revents;
		int   events = 0;
		if (re & (POLLIN | POLLHUP | POLLERR)) {
			events |= WEIR_WATCH_READ;
		}
		if (re & (POLLOUT | POLLERR)) {
			events |= WEIR_WATCH_WRITE;
		}
		if (events) {
			fn(p->ready_uds[i], events, arg);
		}
	}
	return woken;
}

int
weir__poller_fd(weir__poller *p)
{
	return p->wake[0];
}

const char *
weir__poller_name(void)
{
	return "poll";
}
