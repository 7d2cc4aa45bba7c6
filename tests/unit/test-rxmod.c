/* Receive moderation (rxmod.h) with a stand-in backend whose every read
 * hands over as many frames, of a given size, as the test sets: when the
 * watch goes quiet and comes back, and how the window adapts. */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit.h"
#include "loop.h"
#include "rxmod.h"

static unsigned frames, frame_len; /* what each read hands over */
static unsigned reads;

static unsigned fake_burst(struct port *p)
{
	reads++;
	p->stats.rx_bytes += (uint64_t)frames * frame_len;
	return frames;
}

struct rig {
	struct loop *l;
	struct port *p;
	struct loop_watch w;
	int efd;
	struct rxmod m;
};

static void no_event(void *arg, uint32_t events)
{
	(void)arg;
	(void)events;
	fail_msg("the stand-in's fd never has input");
}

static void rig_up(struct rig *r, unsigned usecs, unsigned usecs_max)
{
	r->l = loop_new();
	r->p = calloc(1, sizeof(*r->p));
	assert_non_null(r->l);
	assert_non_null(r->p);
	r->p->loop = r->l;
	r->efd = eventfd(0, EFD_NONBLOCK);
	loop_watch_init(&r->w);
	assert_int_equal(loop_watch_add(r->l, &r->w, r->efd, EPOLLIN, no_event, NULL), 0);
	rxmod_init(&r->m, r->p, &r->w, fake_burst, usecs, usecs_max);
}

static void rig_down(struct rig *r)
{
	rxmod_stop(&r->m);
	loop_watch_del(r->l, &r->w);
	close(r->efd);
	free(r->p);
	loop_free(r->l);
}

/* One moderated read: the loop sleeps until the alarm, then reads. */
static void next_read(struct rig *r)
{
	unsigned before = reads;
	for (int pass = 0; pass < 100 && reads == before; pass++)
		assert_true(loop_run_once(r->l, -1) >= 0);
	assert_true(reads > before);
}

/* A wakeup that finds a frame or two: the watch goes quiet and an alarm
 * reads, until a read finds less than two; then the watch is back. */
static void busy_port_is_read_on_the_alarm_until_quiet(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 50, 50);
	frames = 1, frame_len = 100;
	rxmod_wakeup(&r.m);
	assert_false(r.m.on); /* a lone frame: read at once, nothing else */
	assert_true(r.w.events & EPOLLIN);
	frames = 3;
	uint64_t t0 = loop_now_ns();
	rxmod_wakeup(&r.m);
	assert_true(r.m.on);
	assert_false(r.w.events & EPOLLIN);
	assert_true(r.m.alarm.set);
	assert_true(r.m.alarm.at >= t0 + 50000 && r.m.alarm.at <= loop_now_ns() + 50000);
	next_read(&r);
	assert_true(r.m.on);
	assert_int_equal(r.p->stats.rx_moderated, 3);
	frames = 1;
	next_read(&r);
	assert_false(r.m.on);
	assert_false(r.m.alarm.set);
	assert_true(r.w.events & EPOLLIN);
	assert_int_equal(r.p->stats.rx_moderated, 4);
	rig_down(&r);
}

/* A steady stream of small frames, a dozen a read: the window doubles
 * read by read up to its maximum; reads of big frames (64 KiB segments)
 * halve it; a quiet port starts again from the shortest. */
static void window_grows_for_small_frames_and_shrinks_for_big_ones(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 50, 400);
	frames = 12, frame_len = 64;
	rxmod_wakeup(&r.m);
	assert_int_equal(r.m.win, 50);
	static const unsigned grown[] = { 100, 200, 400, 400 };
	for (unsigned i = 0; i < sizeof(grown) / sizeof(grown[0]); i++) {
		next_read(&r);
		assert_int_equal(r.m.win, grown[i]);
		uint64_t now = loop_now_ns();
		assert_true(r.m.alarm.at > now && r.m.alarm.at <= now + grown[i] * 1000u);
	}
	frames = 2, frame_len = 65536;
	next_read(&r);
	assert_int_equal(r.m.win, 200);
	next_read(&r);
	assert_int_equal(r.m.win, 100);
	frames = 12, frame_len = 64;
	next_read(&r);
	assert_int_equal(r.m.win, 200);
	next_read(&r);
	assert_int_equal(r.m.win, 400);
	/* The rate falls to a few frames a read: the window comes down. */
	frames = 3;
	next_read(&r);
	assert_int_equal(r.m.win, 200);
	next_read(&r);
	assert_int_equal(r.m.win, 100);
	frames = 0;
	next_read(&r);
	assert_false(r.m.on);
	frames = 12;
	rxmod_wakeup(&r.m);
	assert_int_equal(r.m.win, 50);
	rig_down(&r);
}

/* An ACK stream (a few frames a read) keeps the short window: those frames
 * steer a TCP sender, and waiting longer for them saves few wakeups. */
static void few_frames_a_read_keep_the_short_window(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 50, 400);
	frames = 4, frame_len = 66;
	rxmod_wakeup(&r.m);
	for (int i = 0; i < 5; i++) {
		next_read(&r);
		assert_int_equal(r.m.win, 50);
	}
	rig_down(&r);
}

/* A backlog (full bursts, read back to back on the loop's next passes)
 * halves the window: the port is past what it needs to batch. */
static void backlog_shrinks_the_window(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 50, 400);
	frames = 12, frame_len = 64;
	rxmod_wakeup(&r.m);
	for (int i = 0; i < 3; i++)
		next_read(&r);
	assert_int_equal(r.m.win, 400);
	frames = PKT_BURST;
	unsigned before = reads;
	next_read(&r);
	/* Each moderated read takes RXMOD_MAX_BURSTS full bursts, then queues
	 * the port for the loop's next-pass list, which the same pass may run. */
	unsigned moderated = (reads - before) / 8;
	assert_true(moderated >= 1);
	assert_int_equal(r.m.win, moderated >= 3 ? 50 : 400 >> moderated);
	assert_false(r.m.alarm.set); /* read again on the next pass instead */
	assert_true(r.m.soon.queued);
	rig_down(&r);
}

/* --rx-usecs-max at or below --rx-usecs: a fixed window. */
static void max_at_the_base_is_a_fixed_window(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 50, 0);
	frames = 12, frame_len = 64;
	rxmod_wakeup(&r.m);
	for (int i = 0; i < 4; i++) {
		next_read(&r);
		assert_int_equal(r.m.win, 50);
	}
	rig_down(&r);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(busy_port_is_read_on_the_alarm_until_quiet),
	cmocka_unit_test(window_grows_for_small_frames_and_shrinks_for_big_ones),
	cmocka_unit_test(few_frames_a_read_keep_the_short_window),
	cmocka_unit_test(backlog_shrinks_the_window),
	cmocka_unit_test(max_at_the_base_is_a_fixed_window),
};

UNIT_MAIN(tests)
