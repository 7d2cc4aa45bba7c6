#include "loop.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOOP_BATCH 64
/* Busy polling: epoll (a system call, a few microseconds in a VM) at most
 * once per LOOP_POLL_EPOLL_NS, the clock looked at every
 * LOOP_POLL_CLOCK_EVERY passes.  A pass under load is a burst, one that
 * finds nothing a few dozen nanoseconds and a sched_yield(): epoll every few
 * passes would cost most of the core (measured: vhost-user 64-byte frames,
 * 4.5 Mpps with epoll every 8 passes). */
#define LOOP_POLL_CLOCK_EVERY 16
#define LOOP_POLL_EPOLL_NS 20000

struct loop_timer {
	struct loop_watch w;
	loop_cb cb;
	void *arg;
};

struct loop_deferred {
	void (*fn)(void *);
	void *arg;
};

struct loop {
	int epfd;
	bool stop;
	/* The batch being dispatched, so that a delete can cancel pending events. */
	struct epoll_event ev[LOOP_BATCH];
	int nev;
	struct loop_timer **timers;
	unsigned ntimers;
	struct loop_deferred *deferred;
	unsigned ndeferred, deferred_cap;
	/* loop_soon entries: queued, oldest first, and the ones the current
	 * pass runs (a cancelled one is NULLed there). */
	struct loop_soon **soon, **soon_run;
	unsigned nsoon, soon_cap, nsoon_run;
	/* loop_alarm entries, earliest first. */
	struct loop_alarm *alarms, *alarms_last;
	bool no_pwait2; /* kernel before 5.11: epoll_wait, in milliseconds */
	bool (*poll_fn)(void *);
	void *poll_arg;
	unsigned spins;
	uint64_t last_epoll_ns;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	/* Sleeps until an alarm get the thread's timer slack (50 µs unless
	 * set), which would stretch a 50 µs receive-moderation window to 100. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (unsigned i = 0; i < l->ntimers; i++) {
		close(l->timers[i]->w.fd);
		free(l->timers[i]);
	}
	free(l->timers);
	free(l->deferred);
	free(l->soon);
	free(l->soon_run);
	close(l->epfd);
	free(l);
}

int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events, loop_cb cb,
		   void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->arg = arg;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		w->fd = -1;
		return r;
	}
	return 0;
}

int loop_watch_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	if (w->fd < 0)
		return -EBADF;
	if (w->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void loop_watch_del(struct loop *l, struct loop_watch *w)
{
	if (w->fd < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = 0; i < l->nev; i++)
		if (l->ev[i].data.ptr == w)
			l->ev[i].data.ptr = NULL;
	w->fd = -1;
}

static void timer_fired(void *arg, uint32_t events)
{
	struct loop_timer *t = arg;
	uint64_t expirations;
	(void)events;
	if (read(t->w.fd, &expirations, sizeof(expirations)) < 0)
		return;
	t->cb(t->arg, 0);
}

int loop_timer_add(struct loop *l, unsigned period_ms, loop_cb cb, void *arg)
{
	struct loop_timer *t = calloc(1, sizeof(*t));
	struct loop_timer **nt = realloc(l->timers, (l->ntimers + 1) * sizeof(*nt));
	if (!t || !nt) {
		free(t);
		if (nt)
			l->timers = nt;
		return -ENOMEM;
	}
	l->timers = nt;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0) {
		free(t);
		return -errno;
	}
	struct itimerspec its = {
		.it_interval = { period_ms / 1000, (long)(period_ms % 1000) * 1000000L },
		.it_value = { period_ms / 1000, (long)(period_ms % 1000) * 1000000L },
	};
	timerfd_settime(fd, 0, &its, NULL);
	t->cb = cb;
	t->arg = arg;
	int r = loop_watch_add(l, &t->w, fd, EPOLLIN, timer_fired, t);
	if (r < 0) {
		close(fd);
		free(t);
		return r;
	}
	l->timers[l->ntimers] = t;
	return (int)l->ntimers++;
}

int loop_defer(struct loop *l, void (*fn)(void *), void *arg)
{
	if (l->ndeferred == l->deferred_cap) {
		unsigned cap = l->deferred_cap ? l->deferred_cap * 2 : 16;
		struct loop_deferred *d = realloc(l->deferred, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		l->deferred = d;
		l->deferred_cap = cap;
	}
	l->deferred[l->ndeferred++] = (struct loop_deferred){ fn, arg };
	return 0;
}

static void run_deferred(struct loop *l)
{
	/* A deferred call may defer more; run until none is left. */
	for (unsigned i = 0; i < l->ndeferred; i++)
		l->deferred[i].fn(l->deferred[i].arg);
	l->ndeferred = 0;
}

int loop_soon_add(struct loop *l, struct loop_soon *s)
{
	if (s->queued)
		return 0;
	if (l->nsoon == l->soon_cap) {
		/* Both arrays grow together: a pass swaps them. */
		unsigned cap = l->soon_cap ? l->soon_cap * 2 : 16;
		struct loop_soon **a = realloc(l->soon, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		l->soon = a;
		struct loop_soon **b = realloc(l->soon_run, cap * sizeof(*b));
		if (!b)
			return -ENOMEM;
		l->soon_run = b;
		l->soon_cap = cap;
	}
	l->soon[l->nsoon++] = s;
	s->queued = true;
	return 0;
}

void loop_soon_cancel(struct loop *l, struct loop_soon *s)
{
	if (!s->queued)
		return;
	for (unsigned i = 0; i < l->nsoon; i++)
		if (l->soon[i] == s) {
			memmove(l->soon + i, l->soon + i + 1, (--l->nsoon - i) * sizeof(*l->soon));
			break;
		}
	for (unsigned i = 0; i < l->nsoon_run; i++)
		if (l->soon_run[i] == s)
			l->soon_run[i] = NULL;
	s->queued = false;
}

static void run_soon(struct loop *l)
{
	/* The oldest LOOP_BATCH entries, as epoll hands out at most LOOP_BATCH
	 * events a pass: a thousand ports with a backlog must not crowd out
	 * the fds (their transmit side, above all).  What runs now may queue
	 * itself again, behind the ones left for the next pass. */
	unsigned k = l->nsoon < LOOP_BATCH ? l->nsoon : LOOP_BATCH;
	memcpy(l->soon_run, l->soon, k * sizeof(*l->soon));
	l->nsoon -= k;
	memmove(l->soon, l->soon + k, l->nsoon * sizeof(*l->soon));
	l->nsoon_run = k;
	for (unsigned i = 0; i < l->nsoon_run; i++) {
		struct loop_soon *s = l->soon_run[i];
		if (!s)
			continue;
		s->queued = false;
		s->fn(s->arg);
	}
	l->nsoon_run = 0;
}

uint64_t loop_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void loop_alarm_cancel(struct loop *l, struct loop_alarm *a)
{
	if (!a->set)
		return;
	if (a->prev)
		a->prev->next = a->next;
	else
		l->alarms = a->next;
	if (a->next)
		a->next->prev = a->prev;
	else
		l->alarms_last = a->prev;
	a->prev = a->next = NULL;
	a->set = false;
}

void loop_alarm_set(struct loop *l, struct loop_alarm *a, uint64_t at)
{
	loop_alarm_cancel(l, a);
	struct loop_alarm *after = l->alarms_last; /* the new one goes behind it */
	while (after && after->at > at)
		after = after->prev;
	a->at = at;
	a->prev = after;
	a->next = after ? after->next : l->alarms;
	if (a->next)
		a->next->prev = a;
	else
		l->alarms_last = a;
	if (after)
		after->next = a;
	else
		l->alarms = a;
	a->set = true;
}

/* Run the alarms that are due, as many as were due on entry: one that sets
 * itself again in the past waits for the next pass instead of spinning. */
static void run_alarms(struct loop *l)
{
	uint64_t now = loop_now_ns();
	unsigned due = 0;
	for (struct loop_alarm *a = l->alarms; a && a->at <= now; a = a->next)
		due++;
	struct loop_alarm *a;
	while (due-- && (a = l->alarms) && a->at <= now) {
		loop_alarm_cancel(l, a);
		a->fn(a->arg);
	}
}

/* epoll, waiting at most wait_ns (UINT64_MAX: no limit). */
static int wait_events(struct loop *l, uint64_t wait_ns)
{
	if (!l->no_pwait2) {
		struct timespec ts = { (time_t)(wait_ns / 1000000000u), (long)(wait_ns % 1000000000u) };
		int n = epoll_pwait2(l->epfd, l->ev, LOOP_BATCH, wait_ns == UINT64_MAX ? NULL : &ts,
				     NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		l->no_pwait2 = true;
	}
	int ms = wait_ns == UINT64_MAX ? -1
		 : wait_ns >= (uint64_t)INT32_MAX * 1000000u
			 ? INT32_MAX
			 : (int)((wait_ns + 999999u) / 1000000u);
	return epoll_wait(l->epfd, l->ev, LOOP_BATCH, ms);
}

void loop_set_poll(struct loop *l, bool (*fn)(void *), void *arg)
{
	l->poll_fn = fn;
	l->poll_arg = arg;
}

static bool epoll_due(struct loop *l)
{
	if (++l->spins % LOOP_POLL_CLOCK_EVERY)
		return false;
	uint64_t now = loop_now_ns();
	if (now - l->last_epoll_ns < LOOP_POLL_EPOLL_NS)
		return false;
	l->last_epoll_ns = now;
	return true;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	if (l->poll_fn && !epoll_due(l)) {
		/* Busy polling: most passes only poll; epoll is asked now and
		 * then, for the fds that have no poll. */
		if (l->alarms)
			run_alarms(l);
		if (l->nsoon)
			run_soon(l);
		bool busy = l->poll_fn(l->poll_arg);
		run_deferred(l);
		if (!busy)
			sched_yield(); /* see loop_set_poll() */
		return 0;
	}
	uint64_t wait_ns = l->poll_fn || l->nsoon ? 0
			   : timeout_ms < 0	    ? UINT64_MAX
						    : (uint64_t)timeout_ms * 1000000u;
	if (l->alarms && wait_ns) {
		uint64_t now = loop_now_ns();
		uint64_t until = l->alarms->at > now ? l->alarms->at - now : 0;
		if (until < wait_ns)
			wait_ns = until;
	}
	int n = wait_events(l, wait_ns);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->nev = n;
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = l->ev[i].data.ptr;
		if (!w)
			continue; /* deleted by an earlier callback of this batch */
		w->cb(w->arg, l->ev[i].events);
	}
	l->nev = 0;
	if (l->alarms)
		run_alarms(l);
	if (l->nsoon)
		run_soon(l);
	if (l->poll_fn)
		l->poll_fn(l->poll_arg);
	run_deferred(l);
	return n;
}

int loop_run(struct loop *l)
{
	l->stop = false;
	while (!l->stop) {
		int r = loop_run_once(l, -1);
		if (r < 0) {
			log_error("epoll_wait: %s", strerror(-r));
			return r;
		}
	}
	run_deferred(l);
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
