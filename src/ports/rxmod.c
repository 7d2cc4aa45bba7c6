/* Receive moderation: see rxmod.h. */
#include "rxmod.h"

#include <stdint.h>

/* Go quiet when a wakeup finds this many frames; a moderated read takes at most
 * RXMOD_MAX_BURSTS bursts before the other ports' turn. */
#define RXMOD_MIN 2u
#define RXMOD_MAX_BURSTS 8u
/* The window grows after a read of RXMOD_GROW to PKT_BURST - 1 frames and
 * shrinks after one of RXMOD_BIG_BYTES, RXMOD_SHRINK frames or more, or
 * fewer than RXMOD_GROW / 2 (rxmod.h). */
#define RXMOD_GROW 8u
#define RXMOD_SHRINK (RXMOD_MAX_BURSTS * PKT_BURST / 2)
#define RXMOD_BIG_BYTES (32u * 1024u)

static void on_alarm(void *arg);

void rxmod_init(struct rxmod *m, struct port *p, struct loop_watch *w,
		unsigned (*burst)(struct port *p), unsigned usecs, unsigned usecs_max)
{
	*m = (struct rxmod){ .p = p, .w = w, .burst = burst, .usecs = usecs,
			     .usecs_max = usecs_max > usecs ? usecs_max : usecs, .win = usecs };
	loop_alarm_init(&m->alarm, on_alarm, m);
	loop_soon_init(&m->soon, on_alarm, m);
}

/* Read again a window after the read that began at `since`. */
static void arm(struct rxmod *m, uint64_t since)
{
	loop_alarm_set(m->p->loop, &m->alarm, since + (uint64_t)m->win * 1000u);
}

/* A moderated read: bursts until the kernel has no full one left, up to
 * RXMOD_MAX_BURSTS bursts' worth (a stream read can hold hundreds of
 * frames).  Then the watch is handed back if the port has gone quiet;
 * otherwise the next read is on the alarm, or on the loop's next pass while
 * the kernel still holds a backlog (no alarm: a busy switch goes round its
 * busy ports back to back, as level-triggered epoll would). */
static void moderated_read(struct rxmod *m)
{
	uint64_t since = loop_now_ns(), bytes = m->p->stats.rx_bytes;
	unsigned got = 0;
	bool backlog = false;
	for (unsigned b = 0; b < RXMOD_MAX_BURSTS; b++) {
		unsigned n = m->burst(m->p);
		m->p->stats.rx_moderated += n;
		got += n;
		if (!m->on)
			return; /* the backend lost its interface while reading */
		backlog = n >= PKT_BURST;
		if (!backlog || got >= RXMOD_MAX_BURSTS * PKT_BURST)
			break;
	}
	bytes = m->p->stats.rx_bytes - bytes;
	if (got < RXMOD_MIN && loop_watch_mod(m->p->loop, m->w, m->w->events | EPOLLIN) == 0) {
		m->on = false;
		m->win = m->usecs;
		return;
	}
	if (bytes >= RXMOD_BIG_BYTES || got >= RXMOD_SHRINK || got < RXMOD_GROW / 2)
		m->win = m->win / 2 > m->usecs ? m->win / 2 : m->usecs;
	else if (got >= RXMOD_GROW && got < PKT_BURST)
		m->win = m->win * 2 < m->usecs_max ? m->win * 2 : m->usecs_max;
	if (!backlog || loop_soon_add(m->p->loop, &m->soon) < 0)
		arm(m, since); /* (or could not hand back: go on reading by alarm) */
}

static void on_alarm(void *arg)
{
	struct rxmod *m = arg;
	if (m->on)
		moderated_read(m);
}

void rxmod_stop(struct rxmod *m)
{
	if (m->on) {
		loop_soon_cancel(m->p->loop, &m->soon);
		loop_alarm_cancel(m->p->loop, &m->alarm);
	}
	m->on = false;
}

void rxmod_wakeup(struct rxmod *m)
{
	if (m->on)
		return; /* only an error brings a quiet watch here: the alarm reads */
	uint64_t since = m->usecs ? loop_now_ns() : 0;
	unsigned n = m->burst(m->p);
	if (n >= RXMOD_MIN && m->usecs && loop_watch_active(m->w) &&
	    loop_watch_mod(m->p->loop, m->w, m->w->events & ~(uint32_t)EPOLLIN) == 0) {
		m->on = true;
		arm(m, since);
	}
}

uint32_t rxmod_events(const struct rxmod *m)
{
	return m->on ? 0 : EPOLLIN;
}
