/* Receive moderation: see rxmod.h. */
#include "rxmod.h"

#include <errno.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Go quiet when a wakeup finds this many frames; a timer pass reads at most
 * RXMOD_MAX_BURSTS bursts before the other ports' turn. */
#define RXMOD_MIN 2u
#define RXMOD_MAX_BURSTS 8u

void rxmod_init(struct rxmod *m, struct port *p, struct loop_watch *w,
		unsigned (*burst)(struct port *p), unsigned usecs)
{
	*m = (struct rxmod){ .p = p, .w = w, .burst = burst, .usecs = usecs, .tfd = -1 };
	loop_watch_init(&m->tw);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Read again usecs after the read that began at `since`, or at once (the
 * next pass of the loop) when the kernel still holds a backlog. */
static void arm(struct rxmod *m, uint64_t since, bool backlog)
{
	uint64_t at = backlog ? 1 : since + (uint64_t)m->usecs * 1000u;
	struct itimerspec t = { .it_value = { (time_t)(at / 1000000000u),
					      (long)(at % 1000000000u) } };
	timerfd_settime(m->tfd, TFD_TIMER_ABSTIME, &t, NULL);
}

static void on_timer(void *arg, uint32_t events)
{
	(void)events;
	struct rxmod *m = arg;
	uint64_t ticks;
	if (read(m->tfd, &ticks, sizeof(ticks)) < 0 || !m->on)
		return;
	uint64_t since = now_ns();
	unsigned got = 0, b;
	for (b = 0; b < RXMOD_MAX_BURSTS; b++) {
		unsigned n = m->burst(m->p);
		m->p->stats.rx_moderated += n;
		got += n;
		if (m->tfd < 0)
			return; /* the backend lost its interface while reading */
		if (n < PKT_BURST)
			break;
	}
	if (got >= RXMOD_MIN) {
		arm(m, since, b == RXMOD_MAX_BURSTS);
	} else if (loop_watch_mod(m->p->loop, m->w, EPOLLIN) == 0) {
		m->on = false;
	} else {
		arm(m, since, false); /* could not hand back: go on reading by timer */
	}
}

int rxmod_start(struct rxmod *m)
{
	m->on = false;
	if (!m->usecs)
		return 0;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = loop_watch_add(m->p->loop, &m->tw, fd, EPOLLIN, on_timer, m);
	if (r < 0) {
		close(fd);
		return r;
	}
	m->tfd = fd;
	return 0;
}

void rxmod_stop(struct rxmod *m)
{
	if (m->tfd >= 0) {
		loop_watch_del(m->p->loop, &m->tw);
		close(m->tfd);
	}
	m->tfd = -1;
	m->on = false;
}

void rxmod_wakeup(struct rxmod *m)
{
	if (m->on)
		return; /* only an error brings a quiet watch here: the timer reads */
	uint64_t since = m->tfd >= 0 ? now_ns() : 0;
	unsigned n = m->burst(m->p);
	if (n >= RXMOD_MIN && m->tfd >= 0 && loop_watch_active(m->w) &&
	    loop_watch_mod(m->p->loop, m->w, 0) == 0) {
		m->on = true;
		arm(m, since, false);
	}
}
