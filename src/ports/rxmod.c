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

static void on_soon(void *arg);

void rxmod_init(struct rxmod *m, struct port *p, struct loop_watch *w,
		unsigned (*burst)(struct port *p), unsigned usecs)
{
	*m = (struct rxmod){ .p = p, .w = w, .burst = burst, .usecs = usecs, .tfd = -1 };
	loop_watch_init(&m->tw);
	loop_soon_init(&m->soon, on_soon, m);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Read again usecs after the read that began at `since`. */
static void arm(struct rxmod *m, uint64_t since)
{
	uint64_t at = since + (uint64_t)m->usecs * 1000u;
	struct itimerspec t = { .it_value = { (time_t)(at / 1000000000u),
					      (long)(at % 1000000000u) } };
	timerfd_settime(m->tfd, TFD_TIMER_ABSTIME, &t, NULL);
}

/* A moderated read: bursts until the kernel has no full one left, up to
 * RXMOD_MAX_BURSTS bursts' worth (a stream read can hold hundreds of
 * frames).  Then the watch is handed back if the port has gone quiet;
 * otherwise the next read is on the timer, or on the loop's next pass while
 * the kernel still holds a backlog (no timer to set and read: a busy switch
 * goes round its busy ports back to back, as level-triggered epoll would). */
static void moderated_read(struct rxmod *m)
{
	uint64_t since = now_ns();
	unsigned got = 0;
	bool backlog = false;
	for (unsigned b = 0; b < RXMOD_MAX_BURSTS; b++) {
		unsigned n = m->burst(m->p);
		m->p->stats.rx_moderated += n;
		got += n;
		if (m->tfd < 0)
			return; /* the backend lost its interface while reading */
		backlog = n >= PKT_BURST;
		if (!backlog || got >= RXMOD_MAX_BURSTS * PKT_BURST)
			break;
	}
	if (got < RXMOD_MIN && loop_watch_mod(m->p->loop, m->w, m->w->events | EPOLLIN) == 0)
		m->on = false;
	else if (!backlog || loop_soon_add(m->p->loop, &m->soon) < 0)
		arm(m, since); /* (or could not hand back: go on reading by timer) */
}

static void on_timer(void *arg, uint32_t events)
{
	(void)events;
	struct rxmod *m = arg;
	uint64_t ticks;
	if (read(m->tfd, &ticks, sizeof(ticks)) < 0 || !m->on)
		return;
	moderated_read(m);
}

static void on_soon(void *arg)
{
	struct rxmod *m = arg;
	if (m->on)
		moderated_read(m);
}

/* The timer comes with the port's first moderation, not with the port: a
 * port that is never busy holds no second descriptor, and a daemon that has
 * run out of descriptors keeps serving its ports, woken per frame. */
static bool timer_ready(struct rxmod *m)
{
	if (m->tfd >= 0)
		return true;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return false;
	if (loop_watch_add(m->p->loop, &m->tw, fd, EPOLLIN, on_timer, m) < 0) {
		close(fd);
		return false;
	}
	m->tfd = fd;
	return true;
}

void rxmod_stop(struct rxmod *m)
{
	if (m->tfd >= 0) {
		loop_soon_cancel(m->p->loop, &m->soon);
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
	uint64_t since = m->usecs ? now_ns() : 0;
	unsigned n = m->burst(m->p);
	if (n >= RXMOD_MIN && m->usecs && loop_watch_active(m->w) && timer_ready(m) &&
	    loop_watch_mod(m->p->loop, m->w, m->w->events & ~(uint32_t)EPOLLIN) == 0) {
		m->on = true;
		arm(m, since);
	}
}

uint32_t rxmod_events(const struct rxmod *m)
{
	return m->on ? 0 : EPOLLIN;
}
