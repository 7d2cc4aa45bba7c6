/* The forwarding decision, through test-double ports:
 *
 *   [A]--+            +--[C]
 *        |  switch s  |
 *   [B]--+            +--[D]     and a second switch t with [E] [F]
 */
#include "unit.h"

#include <stdlib.h>

#include "eth.h"
#include "offload.h"
#include "port-pipe.h"
#include "sw.h"

static const uint8_t MAC_A[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t MAC_B[6] = { 2, 0, 0, 0, 0, 0xb };
static const uint8_t MAC_C[6] = { 2, 0, 0, 0, 0, 0xc };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MCAST[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
static const uint8_t ZERO[6] = { 0 };

struct fixture {
	struct sw *s, *t;
	struct port *a, *b, *c, *d, *e, *f;
};

static struct port *add(struct sw *sw, const char *name)
{
	struct port *p = port_new(&port_pipe_ops, name, NULL);
	assert_non_null(p);
	assert_int_equal(sw_port_attach(sw, p), 0);
	assert_int_equal(p->ops->open(p, &(struct port_args){ .fd = -1 }), 0);
	return p;
}

static void del(struct sw *sw, struct port *p)
{
	sw_port_detach(sw, p);
	p->ops->close(p);
	port_free(p);
}

static int setup(void **state)
{
	assert_int_equal(pkt_pool_init(256, 16, 0), 0);
	struct fixture *fx = calloc(1, sizeof(*fx));
	fx->s = sw_new("s", SW_PRIVATE, 1500, 1000, 300);
	fx->t = sw_new("t", SW_PRIVATE, 1500, 1000, 300);
	fx->a = add(fx->s, "a");
	fx->b = add(fx->s, "b");
	fx->c = add(fx->s, "c");
	fx->d = add(fx->s, "d");
	fx->e = add(fx->t, "e");
	fx->f = add(fx->t, "f");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct port *sp[] = { fx->a, fx->b, fx->c, fx->d };
	for (unsigned i = 0; i < 4; i++)
		if (sp[i])
			del(fx->s, sp[i]);
	del(fx->t, fx->e);
	del(fx->t, fx->f);
	sw_free(fx->s);
	sw_free(fx->t);
	free(fx);
	struct pkt_pool_stats st;
	pkt_pool_get_stats(&st);
	/* Every packet went back to the pool: nothing leaked, nothing freed twice. */
	assert_int_equal(st.small_free, st.small_total);
	assert_int_equal(st.large_free, st.large_total);
	pkt_pool_fini();
	return 0;
}

static unsigned sent(struct port *p)
{
	return ((struct pipe_priv *)port_priv(p))->total;
}

static const struct pipe_frame *last(struct port *p)
{
	struct pipe_priv *pp = port_priv(p);
	assert_true(pp->n > 0);
	return &pp->frames[pp->n - 1];
}

static void clear_all(struct fixture *fx)
{
	struct port *all[] = { fx->a, fx->b, fx->c, fx->d, fx->e, fx->f };
	for (unsigned i = 0; i < 6; i++)
		if (all[i])
			pipe_clear(all[i]);
}

static uint32_t frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint32_t len)
{
	memset(buf, 0x5a, len);
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	eth_put_be16(buf + 12, 0x88b5); /* local experimental EtherType */
	return len;
}

static void send(struct port *p, const uint8_t *dst, const uint8_t *src, uint32_t len)
{
	static uint8_t buf[PKT_MAX_FRAME];
	assert_int_equal(pipe_inject(p, buf, frame(buf, dst, src, len)), 0);
}

static void unknown_unicast_floods_but_not_back(void **state)
{
	struct fixture *fx = *state;
	send(fx->a, MAC_B, MAC_A, 60);
	assert_int_equal(sent(fx->a), 0);
	assert_int_equal(sent(fx->b), 1);
	assert_int_equal(sent(fx->c), 1);
	assert_int_equal(sent(fx->d), 1);
	assert_int_equal(fx->a->stats.rx_flooded, 1);
	assert_int_equal(fx->c->stats.tx_flooded, 1);
	assert_memory_equal(last(fx->c)->data, MAC_B, 6);
}

static void learned_unicast_goes_to_one_port(void **state)
{
	struct fixture *fx = *state;
	send(fx->b, MAC_A, MAC_B, 60); /* B is learned on port b */
	clear_all(fx);
	send(fx->a, MAC_B, MAC_A, 60);
	assert_int_equal(sent(fx->b), 1);
	assert_int_equal(sent(fx->c), 0);
	assert_int_equal(sent(fx->d), 0);
	assert_int_equal(sent(fx->a), 0);
	assert_int_equal(fx->a->stats.rx_flooded, 0);
	assert_int_equal(fx->b->stats.tx_packets, 1); /* b sent the first frame: no flood to it */
}

static void broadcast_and_multicast_flood(void **state)
{
	struct fixture *fx = *state;
	send(fx->b, MAC_A, MAC_B, 60);
	clear_all(fx);
	send(fx->a, BCAST, MAC_A, 60);
	send(fx->a, MCAST, MAC_A, 60);
	assert_int_equal(sent(fx->b), 2);
	assert_int_equal(sent(fx->c), 2);
	assert_int_equal(sent(fx->d), 2);
	assert_int_equal(sent(fx->a), 0);
}

static void station_behind_ingress_is_filtered(void **state)
{
	struct fixture *fx = *state;
	send(fx->a, BCAST, MAC_B, 60); /* B heard on port a */
	clear_all(fx);
	send(fx->a, MAC_B, MAC_A, 60);
	assert_int_equal(sent(fx->a) + sent(fx->b) + sent(fx->c) + sent(fx->d), 0);
	assert_int_equal(fx->a->stats.rx_filtered, 1);
}

static void station_move_relearned_at_once(void **state)
{
	struct fixture *fx = *state;
	send(fx->b, BCAST, MAC_B, 60);
	send(fx->c, BCAST, MAC_B, 60); /* B moved to port c */
	clear_all(fx);
	send(fx->a, MAC_B, MAC_A, 60);
	assert_int_equal(sent(fx->c), 1);
	assert_int_equal(sent(fx->b), 0);
}

static void bad_sources_dropped_never_learned(void **state)
{
	struct fixture *fx = *state;
	send(fx->a, MAC_B, MCAST, 60);
	send(fx->a, MAC_B, BCAST, 60);
	send(fx->a, MAC_B, ZERO, 60);
	assert_int_equal(sent(fx->b) + sent(fx->c) + sent(fx->d), 0);
	assert_int_equal(fx->a->stats.rx_drop[RX_DROP_BAD_SRC], 3);
	assert_int_equal(fx->a->stats.rx_packets, 3);
	assert_int_equal(port_rx_dropped(fx->a), 3);
	assert_int_equal(fdb_count(fx->s->fdb), 0);
}

static void runts_and_oversize_dropped(void **state)
{
	struct fixture *fx = *state;
	send(fx->a, BCAST, MAC_A, 13);
	send(fx->a, BCAST, MAC_A, 1500 + 18 + 1);
	send(fx->a, BCAST, MAC_A, 1500 + 18); /* one VLAN tag's worth is allowed */
	send(fx->a, BCAST, MAC_A, 14);	     /* a header and nothing else is a frame */
	assert_int_equal(fx->a->stats.rx_drop[RX_DROP_RUNT], 1);
	assert_int_equal(fx->a->stats.rx_drop[RX_DROP_OVERSIZE], 1);
	assert_int_equal(sent(fx->b), 2);
}

static void switches_are_isolated(void **state)
{
	struct fixture *fx = *state;
	send(fx->a, BCAST, MAC_A, 60);
	send(fx->e, BCAST, MAC_C, 60);
	send(fx->e, MAC_A, MAC_C, 60); /* A is known on s, not on t */
	assert_int_equal(sent(fx->f), 2);
	assert_int_equal(sent(fx->b), 1);
	assert_int_equal(fdb_lookup(fx->t->fdb, fdb_key(0, eth_addr_to_u64(MAC_A)), 0), FDB_NO_PORT);
}

static void down_port_gets_no_flood_and_forgets(void **state)
{
	struct fixture *fx = *state;
	send(fx->c, BCAST, MAC_C, 60);
	port_set_state(fx->c, PORT_DOWN);
	clear_all(fx);
	send(fx->a, MAC_C, MAC_A, 60); /* C forgotten: flooded, but not to c */
	assert_int_equal(sent(fx->c), 0);
	assert_int_equal(sent(fx->b), 1);
	assert_int_equal(fx->c->stats.tx_drop[TX_DROP_LINK_DOWN], 0);
	port_set_state(fx->c, PORT_UP);
}

static void removed_port_forgotten(void **state)
{
	struct fixture *fx = *state;
	send(fx->d, BCAST, MAC_C, 60);
	del(fx->s, fx->d);
	fx->d = NULL;
	clear_all(fx);
	send(fx->a, MAC_C, MAC_A, 60);
	assert_int_equal(sent(fx->b), 1);
	assert_int_equal(sent(fx->c), 1);
	/* A new port reusing the slot learns nothing old. */
	fx->d = add(fx->s, "d2");
	send(fx->a, MAC_C, MAC_A, 60);
	assert_int_equal(sent(fx->d), 1);
	assert_int_equal(fx->d->stats.tx_flooded, 1);
}

static void slow_port_drops_only_its_own(void **state)
{
	struct fixture *fx = *state;
	((struct pipe_priv *)port_priv(fx->c))->capacity = 3;
	for (int i = 0; i < 10; i++)
		send(fx->a, BCAST, MAC_A, 60);
	assert_int_equal(sent(fx->b), 10);
	assert_int_equal(sent(fx->c), 3);
	assert_int_equal(fx->c->stats.tx_drop[TX_DROP_QUEUE_FULL], 7);
	assert_int_equal(port_tx_dropped(fx->c), 7);
	assert_int_equal(port_tx_dropped(fx->b), 0);
}

static void burst_of_many_frames(void **state)
{
	struct fixture *fx = *state;
	struct pkt *pk[100];
	uint8_t buf[64];
	for (int i = 0; i < 100; i++) {
		pk[i] = pkt_alloc(64);
		assert_non_null(pk[i]);
		uint8_t src[6] = { 2, 1, 0, 0, 0, (uint8_t)i };
		frame(buf, BCAST, src, 64);
		memcpy(pk[i]->data, buf, 64);
		pk[i]->len = 64;
	}
	port_input(fx->a, pk, 100); /* more than one burst at once */
	assert_int_equal(sent(fx->b), 100);
	assert_int_equal(fdb_count(fx->s->fdb), 100);
	assert_int_equal(fx->a->stats.rx_bytes, 6400);
}

static void table_full_floods_and_counts(void **state)
{
	struct fixture *fx = *state;
	fdb_set_max(fx->s->fdb, 2);
	uint8_t m1[6] = { 2, 9, 0, 0, 0, 1 }, m2[6] = { 2, 9, 0, 0, 0, 2 }, m3[6] = { 2, 9, 0, 0, 0, 3 };
	send(fx->b, BCAST, m1, 60);
	send(fx->b, BCAST, m2, 60);
	send(fx->b, BCAST, m3, 60);
	assert_int_equal(fdb_count(fx->s->fdb), 2);
	assert_int_equal(fx->b->stats.learn_refused, 1);
	clear_all(fx);
	send(fx->a, m3, MAC_A, 60); /* m3 unknown: flooded (and A refused too) */
	assert_int_equal(sent(fx->b) + sent(fx->c) + sent(fx->d), 3);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(unknown_unicast_floods_but_not_back, setup, teardown),
	cmocka_unit_test_setup_teardown(learned_unicast_goes_to_one_port, setup, teardown),
	cmocka_unit_test_setup_teardown(broadcast_and_multicast_flood, setup, teardown),
	cmocka_unit_test_setup_teardown(station_behind_ingress_is_filtered, setup, teardown),
	cmocka_unit_test_setup_teardown(station_move_relearned_at_once, setup, teardown),
	cmocka_unit_test_setup_teardown(bad_sources_dropped_never_learned, setup, teardown),
	cmocka_unit_test_setup_teardown(runts_and_oversize_dropped, setup, teardown),
	cmocka_unit_test_setup_teardown(switches_are_isolated, setup, teardown),
	cmocka_unit_test_setup_teardown(down_port_gets_no_flood_and_forgets, setup, teardown),
	cmocka_unit_test_setup_teardown(removed_port_forgotten, setup, teardown),
	cmocka_unit_test_setup_teardown(slow_port_drops_only_its_own, setup, teardown),
	cmocka_unit_test_setup_teardown(burst_of_many_frames, setup, teardown),
	cmocka_unit_test_setup_teardown(table_full_floods_and_counts, setup, teardown),
};

UNIT_MAIN(tests)
