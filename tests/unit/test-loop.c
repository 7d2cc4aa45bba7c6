/* The event loop's next-pass queue (loop_soon), which receive moderation
 * uses to read a port with a backlog again without a timer. */
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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(soon_runs_once_on_next_pass),
	cmocka_unit_test(soon_requeued_waits_for_the_pass_after),
	cmocka_unit_test(soon_cancel_before_and_during_the_pass),
	cmocka_unit_test(soon_many_entries),
};

UNIT_MAIN(tests)
