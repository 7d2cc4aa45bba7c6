/* The MAC table: learn, look up, age, move, bound, flush. */
#include "unit.h"

#include <stdlib.h>

#include "fdb.h"

#define MAC(n) (0x020000000000ull | (uint64_t)(n))

static void learn_then_lookup(void **state)
{
	struct fdb *t = fdb_new(100, 300);
	assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(1)), 10), FDB_NO_PORT);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(1)), 3, 10), FDB_LEARNED);
	assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(1)), 10), 3);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(1)), 3, 11), FDB_REFRESHED);
	assert_int_equal(fdb_count(t), 1);
	assert_int_equal(fdb_get_stats(t)->learned, 1);
	fdb_free(t);
}

static void vlan_is_part_of_the_key(void **state)
{
	struct fdb *t = fdb_new(100, 300);
	fdb_learn(t, fdb_key(0, MAC(1)), 1, 0);
	fdb_learn(t, fdb_key(7, MAC(1)), 2, 0);
	assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(1)), 0), 1);
	assert_int_equal(fdb_lookup(t, fdb_key(7, MAC(1)), 0), 2);
	assert_int_equal(fdb_lookup(t, fdb_key(8, MAC(1)), 0), FDB_NO_PORT);
	fdb_free(t);
}

static void station_moves_at_once(void **state)
{
	struct fdb *t = fdb_new(100, 300);
	fdb_learn(t, fdb_key(0, MAC(1)), 1, 0);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(1)), 2, 1), FDB_MOVED);
	assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(1)), 1), 2);
	assert_int_equal(fdb_port_count(t, 1), 0);
	assert_int_equal(fdb_port_count(t, 2), 1);
	assert_int_equal(fdb_get_stats(t)->moved, 1);
	fdb_free(t);
}

static void entries_age_out(void **state)
{
	struct fdb *t = fdb_new(100, 300);
	fdb_learn(t, fdb_key(0, MAC(1)), 1, 1000);
	fdb_learn(t, fdb_key(0, MAC(2)), 1, 1200);
	assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(1)), 1299), 1);
	/* Lazy: the lookup itself finds it stale and removes it. */
	assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(1)), 1300), FDB_NO_PORT);
	assert_int_equal(fdb_count(t), 1);
	/* The sweep removes what nobody looked up. */
	assert_int_equal(fdb_expire(t, 1500), 1);
	assert_int_equal(fdb_count(t), 0);
	assert_int_equal(fdb_get_stats(t)->expired, 2);
	fdb_free(t);
}

static void full_table_refuses_new_stations(void **state)
{
	struct fdb *t = fdb_new(10, 300);
	for (int i = 1; i <= 10; i++)
		assert_int_equal(fdb_learn(t, fdb_key(0, MAC(i)), 1, 0), FDB_LEARNED);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(11)), 1, 0), FDB_FULL);
	assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(11)), 0), FDB_NO_PORT);
	/* Known stations still refresh and move. */
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(3)), 1, 1), FDB_REFRESHED);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(3)), 2, 1), FDB_MOVED);
	assert_int_equal(fdb_count(t), 10);
	assert_int_equal(fdb_get_stats(t)->refused_full, 1);
	fdb_free(t);
}

static void per_port_limit(void **state)
{
	struct fdb *t = fdb_new(100, 300);
	fdb_set_port_limit(t, 5, 2);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(1)), 5, 0), FDB_LEARNED);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(2)), 5, 0), FDB_LEARNED);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(3)), 5, 0), FDB_PORT_LIMIT);
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(3)), 6, 0), FDB_LEARNED);
	/* A station may not move onto a port that is at its limit either. */
	assert_int_equal(fdb_learn(t, fdb_key(0, MAC(3)), 5, 0), FDB_PORT_LIMIT);
	assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(3)), 0), 6);
	fdb_free(t);
}

static void flush_one_port(void **state)
{
	struct fdb *t = fdb_new(1000, 300);
	for (int i = 1; i <= 300; i++)
		fdb_learn(t, fdb_key(0, MAC(i)), (uint16_t)(i % 3), 0);
	assert_int_equal(fdb_flush(t, 1), 100);
	assert_int_equal(fdb_count(t), 200);
	for (int i = 1; i <= 300; i++) {
		int want = i % 3 == 1 ? FDB_NO_PORT : i % 3;
		assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(i)), 0), want);
	}
	assert_int_equal(fdb_flush(t, -1), 200);
	assert_int_equal(fdb_count(t), 0);
	fdb_free(t);
}

/* Deletion by backward shift must keep every other entry reachable, whatever
 * the order of inserts and deletes: compare against a plain array. */
static void random_churn_matches_model(void **state)
{
	enum { N = 5000, MAXE = 2000 };
	struct fdb *t = fdb_new(MAXE, 1000000);
	static int model[N]; /* port + 1, or 0 */
	unsigned live = 0;
	srandom(42);
	for (int step = 0; step < 200000; step++) {
		int m = (int)(random() % N) + 1;
		int op = (int)(random() % 4);
		if (op < 3) {
			uint16_t port = (uint16_t)(random() % 7);
			enum fdb_learn_result r = fdb_learn(t, fdb_key(0, MAC(m)), port, 0);
			if (model[m - 1] == 0) {
				if (live < MAXE) {
					assert_int_equal(r, FDB_LEARNED);
					model[m - 1] = port + 1;
					live++;
				} else {
					assert_int_equal(r, FDB_FULL);
				}
			} else {
				model[m - 1] = port + 1;
			}
		} else if (model[m - 1]) {
			/* Delete by flushing its port is too coarse; age it out
			 * instead: relearn at time 0 and expire the rest later.
			 * Here, simply check lookups. */
			assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(m)), 0), model[m - 1] - 1);
		}
		if (step % 20000 == 0) {
			/* Flush a random port in both. */
			int fp = (int)(random() % 7);
			unsigned removed = fdb_flush(t, fp);
			unsigned want = 0;
			for (int i = 0; i < N; i++)
				if (model[i] == fp + 1) {
					model[i] = 0;
					want++;
				}
			assert_int_equal(removed, want);
			live -= want;
		}
	}
	assert_int_equal(fdb_count(t), live);
	for (int i = 0; i < N; i++)
		assert_int_equal(fdb_lookup(t, fdb_key(0, MAC(i + 1)), 0), model[i] ? model[i] - 1 : FDB_NO_PORT);
	fdb_free(t);
}

static void memory_stays_bounded(void **state)
{
	/* A flood of new sources never grows the table past its bound. */
	struct fdb *t = fdb_new(1000, 300);
	for (uint64_t i = 1; i <= 100000; i++)
		fdb_learn(t, fdb_key(0, MAC(i * 7919)), 1, 0);
	assert_int_equal(fdb_count(t), 1000);
	assert_true(fdb_capacity(t) <= 2048);
	assert_int_equal(fdb_get_stats(t)->refused_full, 99000);
	fdb_free(t);
}

static void count_foreach(void *arg, uint64_t key, uint16_t port, uint32_t age)
{
	int *n = arg;
	(*n)++;
	assert_int_equal(age, 5);
}

static void foreach_skips_stale(void **state)
{
	struct fdb *t = fdb_new(100, 10);
	fdb_learn(t, fdb_key(0, MAC(1)), 1, 100);
	fdb_learn(t, fdb_key(0, MAC(2)), 1, 90);
	int n = 0;
	fdb_foreach(t, 105, count_foreach, &n);
	assert_int_equal(n, 1);
	fdb_free(t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(learn_then_lookup),
	cmocka_unit_test(vlan_is_part_of_the_key),
	cmocka_unit_test(station_moves_at_once),
	cmocka_unit_test(entries_age_out),
	cmocka_unit_test(full_table_refuses_new_stations),
	cmocka_unit_test(per_port_limit),
	cmocka_unit_test(flush_one_port),
	cmocka_unit_test(random_churn_matches_model),
	cmocka_unit_test(memory_stays_bounded),
	cmocka_unit_test(foreach_skips_stale),
};

UNIT_MAIN(tests)
