/* The event loop: one epoll set, file-descriptor watches, periodic timers and
 * deferred calls.  Everything runs on one thread, so the datapath and the
 * control plane never take locks: a control command runs between two batches.
 *
 * A watch (struct loop_watch) is owned by whoever embeds it.  loop_watch_del()
 * also cancels events for it that the current epoll batch still holds, so an
 * owner may be freed after loop_watch_del() returns, even from a callback.
 */
#ifndef VS_LOOP_H
#define VS_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;

typedef void (*loop_cb)(void *arg, uint32_t events);

struct loop_watch {
	int fd;		 /* -1 when not registered */
	uint32_t events; /* EPOLLIN / EPOLLOUT ... as registered */
	loop_cb cb;
	void *arg;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch fd for events; cb(arg, revents) runs when one is ready (level-triggered). */
int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events, loop_cb cb,
		   void *arg);
int loop_watch_mod(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_watch_del(struct loop *l, struct loop_watch *w);
static inline bool loop_watch_active(const struct loop_watch *w)
{
	return w->fd >= 0;
}
static inline void loop_watch_init(struct loop_watch *w)
{
	w->fd = -1;
}

/* Call cb(arg, 0) every period_ms; returns a timer id >= 0 or -errno. */
int loop_timer_add(struct loop *l, unsigned period_ms, loop_cb cb, void *arg);

/* Run fn(arg) once, after the current batch of events is handled. Used to free
 * objects that a callback later in the same batch might still name. */
int loop_defer(struct loop *l, void (*fn)(void *), void *arg);

/* Run until loop_stop(). Returns 0, or -errno if epoll itself fails. */
int loop_run(struct loop *l);
/* One pass: wait at most timeout_ms (0: do not wait) and handle what is
 * ready.  Returns the number of events handled or -errno.  For tests. */
int loop_run_once(struct loop *l, int timeout_ms);
void loop_stop(struct loop *l);

/* Work for the next pass (NAPI's "poll again"): a backend that left frames
 * in the kernel queues itself here instead of arming a timer or turning
 * its fd's events back on.  The next pass asks epoll without waiting, lets
 * the ready fds have their turn, then calls fn(arg) once (a pass runs at
 * most as many entries as epoll hands it events, oldest first: the rest
 * wait for the pass after, so that both get turns).  Owned by the
 * caller like a watch; queueing a queued entry does nothing. */
struct loop_soon {
	void (*fn)(void *arg);
	void *arg;
	bool queued;
};
static inline void loop_soon_init(struct loop_soon *s, void (*fn)(void *), void *arg)
{
	*s = (struct loop_soon){ .fn = fn, .arg = arg };
}
/* Returns 0 or -ENOMEM. */
int loop_soon_add(struct loop *l, struct loop_soon *s);
/* Unqueue; after it the owner may be freed, even from a callback. */
void loop_soon_cancel(struct loop *l, struct loop_soon *s);
/* A one-shot alarm without a descriptor: fn(arg) runs once, in the first
 * pass at or after `at` (loop_now_ns() time), after that pass's fds.  The
 * loop sleeps in epoll until the earliest alarm, so setting one is no
 * system call (a timerfd costs one to set and one to read, and in a VM the
 * kernel's timer reprogramming on every set: receive moderation sets one
 * per busy read).  Alarms are kept in order, searched from the latest, so
 * alarms set in time order (one period for all ports) cost O(1).  Owned by
 * the caller like a watch; setting a set alarm moves it. */
struct loop_alarm {
	void (*fn)(void *arg);
	void *arg;
	uint64_t at;
	struct loop_alarm *prev, *next;
	bool set;
};
static inline void loop_alarm_init(struct loop_alarm *a, void (*fn)(void *), void *arg)
{
	*a = (struct loop_alarm){ .fn = fn, .arg = arg };
}
void loop_alarm_set(struct loop *l, struct loop_alarm *a, uint64_t at);
/* After it the owner may be freed, even from a callback. */
void loop_alarm_cancel(struct loop *l, struct loop_alarm *a);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t loop_now_ns(void);

/* Busy polling: when set, epoll never sleeps and fn(arg) runs every pass.
 * fn returns whether it found work; after a pass in which it found none the
 * loop yields the CPU (sched_yield()) to any other task waiting for it: the
 * core still spins when the machine is idle, but the traffic's own
 * endpoints (a VM's vCPU thread, iperf3) are not kept waiting behind an
 * idle poll. */
void loop_set_poll(struct loop *l, bool (*fn)(void *), void *arg);

#endif
