#include "cli/sig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

// Atomic, not only sig_atomic_t: the replay's guard thread reads it
// while the handler may write it (a lock-free atomic is signal-safe).
static atomic_int            sig_stop;
static volatile sig_atomic_t sig_usr1;
static int                   sig_pipe[2] = { -1, -1 };

static void
sig_handler(int signo)
{
	int  saved = errno;
	char b     = 1;
	if (signo == SIGUSR1)
		sig_usr1 = 1;
	else
		sig_stop = 1;
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* full pipe: a wake-up is pending anyway */
	}
	errno = saved;
}

int
weir__sig_install(void)
{
	struct sigaction sa;
	if (sig_pipe[0] >= 0)
		return sig_pipe[0];
	if (pipe(sig_pipe) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		fcntl(sig_pipe[i], F_SETFL, O_NONBLOCK);
		fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	return sig_pipe[0];
}

int
weir__sig_stopping(void)
{
	return sig_stop != 0;
}

int
weir__sig_take_usr1(void)
{
	int v    = sig_usr1 != 0;
	sig_usr1 = 0;
	return v;
}

void
weir__sig_drain(void)
{
	char buf[64];
	while (read(sig_pipe[0], buf, sizeof buf) > 0) { }
}

void
weir__sig_sleep_ms(int ms)
{
	struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };
	if (!sig_stop)
		poll(&p, sig_pipe[0] >= 0 ? 1 : 0, ms);
}
