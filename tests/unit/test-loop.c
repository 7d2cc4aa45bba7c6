/* The event loop's next-pass queue (loop_soon) and its alarms (loop_alarm),
 * which receive moderation uses to read a busy port again: on the next pass
 * while it has a backlog, a period after the last read otherwise. */
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit.h"
#include "loop.h"

struct probe {
	struct loop *l;
	struct loop_soon s;
	int runs;
	int requeue;		  /* queue itself again this many times */
	struct loop_soon *cancel; /* cancel this one when run */
};

static void probe_run(void *arg)
{
	struct probe *p = arg;
	p->runs++;
	if (p->requeue > 0) {
		p->requeue--;
		assert_int_equal(loop_soon_add(p->l, &p->s), 0);
	}
	if (p->cancel)
		loop_soon_cancel(p->l, p->cancel);
}

/* Runs once, on the next pass, and that pass does not wait. */
static void soon_runs_once_on_next_pass(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct probe p = { .l = l };
	loop_soon_init(&p.s, probe_run, &p);
	assert_int_equal(loop_soon_add(l, &p.s), 0);
	assert_int_equal(loop_soon_add(l, &p.s), 0); /* already queued: no second run */
	/* A pass that could wait forever must not: work is queued. */
	assert_int_equal(loop_run_once(l, -1), 0);
	assert_int_equal(p.runs, 1);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(p.runs, 1);
	loop_free(l);
}

static void count_event(void *arg, uint32_t events)
{
	(void)events;
	(*(int *)arg)++;
}

/* An entry that queues itself again runs once per pass, not in a loop:
 * a ready fd gets its turn in every pass too. */
static void soon_requeued_waits_for_the_pass_after(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct probe p = { .l = l, .requeue = 2 };
	loop_soon_init(&p.s, probe_run, &p);
	assert_int_equal(loop_soon_add(l, &p.s), 0);
	int efd = eventfd(1, EFD_NONBLOCK), fd_turns = 0;
	struct loop_watch w;
	loop_watch_init(&w);
	assert_int_equal(loop_watch_add(l, &w, efd, EPOLLIN, count_event, &fd_turns), 0);
	for (int pass = 1; pass <= 3; pass++) {
		loop_run_once(l, -1);
		assert_int_equal(p.runs, pass);
		assert_int_equal(fd_turns, pass);
	}
	loop_watch_del(l, &w);
	loop_run_once(l, 0);
	assert_int_equal(p.runs, 3);
	close(efd);
	loop_free(l);
}

/* Cancelled before its pass, or by an earlier entry of the same pass: it
 * does not run, and its owner may be gone. */
static void soon_cancel_before_and_during_the_pass(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct probe a = { .l = l }, b = { .l = l }, c = { .l = l };
	loop_soon_init(&a.s, probe_run, &a);
	loop_soon_init(&b.s, probe_run, &b);
	loop_soon_init(&c.s, probe_run, &c);
	a.cancel = &b.s;
	assert_int_equal(loop_soon_add(l, &a.s), 0);
	assert_int_equal(loop_soon_add(l, &b.s), 0);
	assert_int_equal(loop_soon_add(l, &c.s), 0);
	loop_soon_cancel(l, &c.s);
	assert_false(c.s.queued);
	loop_run_once(l, 0);
	assert_int_equal(a.runs, 1);
	assert_int_equal(b.runs, 0);
	assert_int_equal(c.runs, 0);
	assert_false(b.s.queued);
	/* Queued again after a cancel, it runs. */
	assert_int_equal(loop_soon_add(l, &b.s), 0);
	loop_run_once(l, 0);
	assert_int_equal(b.runs, 1);
	loop_free(l);
}

/* Many at once: the queue grows; a pass runs the oldest 64 (as many as
 * epoll hands out events), and each runs exactly once in the end. */
static void soon_many_entries(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	enum { N = 1000 };
	static struct probe p[N];
	for (int i = 0; i < N; i++) {
		p[i] = (struct probe){ .l = l };
		loop_soon_init(&p[i].s, probe_run, &p[i]);
		assert_int_equal(loop_soon_add(l, &p[i].s), 0);
	}
	for (int i = 0; i < N; i += 2)
		loop_soon_cancel(l, &p[i].s);
	loop_run_once(l, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].runs, i % 2 && i < 2 * 64);
	for (int pass = 0; pass < N / 64; pass++)
		loop_run_once(l, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].runs, i % 2);
	loop_free(l);
}

struct ring {
	struct loop *l;
	struct loop_alarm a;
	int id, *order, *n;
	int runs, again;	   /* set itself again (at 0: in the past) this many times */
	struct loop_alarm *cancel; /* cancel this one when run */
};

static void ring_run(void *arg)
{
	struct ring *r = arg;
	r->runs++;
	if (r->order)
		r->order[(*r->n)++] = r->id;
	if (r->again > 0) {
		r->again--;
		loop_alarm_set(r->l, &r->a, 0);
	}
	if (r->cancel)
		loop_alarm_cancel(r->l, r->cancel);
}

/* An alarm runs neither before its time nor later than a pass after it: a
 * pass that may wait forever sleeps only until the alarm, then runs it. */
static void alarm_runs_at_its_time(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct ring r = { .l = l };
	loop_alarm_init(&r.a, ring_run, &r);
	uint64_t t0 = loop_now_ns();
	loop_alarm_set(l, &r.a, t0 + 30 * 1000000u);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(r.runs, 0);
	/* Each pass sleeps until the alarm (not forever), so a few suffice. */
	for (int pass = 0; pass < 100 && r.runs == 0; pass++)
		assert_true(loop_run_once(l, -1) >= 0);
	uint64_t took = loop_now_ns() - t0;
	assert_true(took >= 30 * 1000000u);
	assert_true(took < 2000 * 1000000u);
	assert_false(r.a.set);
	loop_run_once(l, 0);
	assert_int_equal(r.runs, 1);
	loop_free(l);
}

/* Set in any order, moved, cancelled before or during the pass: the due ones
 * run earliest first and once each, a cancelled one not at all. */
static void alarms_run_in_time_order(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int order[8], n = 0;
	struct ring r[5];
	for (int i = 0; i < 5; i++) {
		r[i] = (struct ring){ .l = l, .id = i, .order = order, .n = &n };
		loop_alarm_init(&r[i].a, ring_run, &r[i]);
	}
	uint64_t now = loop_now_ns();
	loop_alarm_set(l, &r[0].a, now - 3000);
	loop_alarm_set(l, &r[1].a, now - 5000);
	loop_alarm_set(l, &r[2].a, now - 4000);
	loop_alarm_set(l, &r[3].a, now - 9000);
	loop_alarm_set(l, &r[3].a, now - 1000); /* moved: now the latest */
	loop_alarm_set(l, &r[4].a, now - 2000);
	loop_alarm_cancel(l, &r[0].a);
	r[4].cancel = &r[3].a; /* runs before it */
	loop_run_once(l, 0);
	assert_int_equal(n, 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 4);
	for (int i = 0; i < 5; i++)
		assert_false(r[i].a.set);
	loop_run_once(l, 0);
	assert_int_equal(n, 3);
	loop_free(l);
}

/* An alarm that sets itself again in the past runs once per pass, not in a
 * loop inside one: the fds get their turn between. */
static void alarm_set_again_waits_for_the_next_pass(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct ring r = { .l = l, .again = 2 };
	loop_alarm_init(&r.a, ring_run, &r);
	loop_alarm_set(l, &r.a, 0);
	for (int pass = 1; pass <= 3; pass++) {
		loop_run_once(l, -1);
		assert_int_equal(r.runs, pass);
	}
	assert_false(r.a.set);
	loop_free(l);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(alarm_runs_at_its_time),
	cmocka_unit_test(alarms_run_in_time_order),
	cmocka_unit_test(alarm_set_again_waits_for_the_next_pass),
	cmocka_unit_test(soon_runs_once_on_next_pass),
	cmocka_unit_test(soon_requeued_waits_for_the_pass_after),
	cmocka_unit_test(soon_cancel_before_and_during_the_pass),
	cmocka_unit_test(soon_many_entries),
};

UNIT_MAIN(tests)
