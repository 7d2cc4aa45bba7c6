#include "fdb.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util.h"

#define FDB_MIN_CAP 64u

static uint32_t cap_for(uint32_t max_entries)
{
	/* Keep the load at most 1/2 when full. */
	uint64_t want = (uint64_t)max_entries * 2;
	uint32_t cap = FDB_MIN_CAP;
	while (cap < want && cap < (1u << 31))
		cap <<= 1;
	return cap;
}

struct fdb *fdb_new(uint32_t max_entries, uint32_t aging_s)
{
	struct fdb *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->slots = calloc(FDB_MIN_CAP, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->mask = FDB_MIN_CAP - 1;
	t->max = max_entries;
	t->aging = aging_s;
	if (getrandom(&t->k0, sizeof(t->k0), 0) != sizeof(t->k0) ||
	    getrandom(&t->k1, sizeof(t->k1), 0) != sizeof(t->k1)) {
		/* No entropy yet: still a valid table, only predictable. */
		t->k0 = (uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ull;
		t->k1 = 0xd6e8feb86659fd93ull;
	}
	t->k1 |= 1;
	return t;
}

void fdb_free(struct fdb *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->port_count);
	free(t->port_limit);
	free(t);
}

void fdb_set_secret(struct fdb *t, uint64_t k0, uint64_t k1)
{
	t->k0 = k0;
	t->k1 = k1 | 1;
}

void fdb_set_aging(struct fdb *t, uint32_t aging_s)
{
	t->aging = aging_s;
}

void fdb_set_max(struct fdb *t, uint32_t max_entries)
{
	t->max = max_entries;
}

static int ensure_port(struct fdb *t, uint16_t port)
{
	if (port < t->nports)
		return 0;
	uint32_t n = t->nports ? t->nports : 16;
	while (n <= port)
		n *= 2;
	uint32_t *c = realloc(t->port_count, n * sizeof(*c));
	if (!c)
		return -1;
	t->port_count = c;
	uint32_t *l = realloc(t->port_limit, n * sizeof(*l));
	if (!l)
		return -1;
	t->port_limit = l;
	memset(c + t->nports, 0, (n - t->nports) * sizeof(*c));
	memset(l + t->nports, 0, (n - t->nports) * sizeof(*l));
	t->nports = n;
	return 0;
}

void fdb_set_port_limit(struct fdb *t, uint16_t port, uint32_t limit)
{
	if (ensure_port(t, port) == 0)
		t->port_limit[port] = limit;
}

/* Remove slot i and close the gap (backward shift). */
static void remove_slot(struct fdb *t, uint32_t i)
{
	struct fdb_entry *s = t->slots;
	t->port_count[s[i].port]--;
	t->count--;
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & t->mask;
		if (s[j].key == 0)
			break;
		uint32_t home = fdb_slot(t, s[j].key);
		/* Entry j may move to i only if its home is not in (i, j]. */
		bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		s[i] = s[j];
		i = j;
	}
	s[i].key = 0;
}

static int grow(struct fdb *t)
{
	uint32_t ncap = (t->mask + 1) * 2;
	struct fdb_entry *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	uint32_t nmask = ncap - 1;
	for (uint32_t i = 0; i <= t->mask; i++) {
		if (t->slots[i].key == 0)
			continue;
		uint32_t h = fdb_hash(t, t->slots[i].key) & nmask;
		while (ns[h].key)
			h = (h + 1) & nmask;
		ns[h] = t->slots[i];
	}
	free(t->slots);
	t->slots = ns;
	t->mask = nmask;
	return 0;
}

static enum fdb_learn_result learn_slow(struct fdb *t, uint64_t key, uint16_t port,
					uint32_t now);

__attribute__((noinline)) static int lookup_expired(struct fdb *t, uint32_t i)
{
	remove_slot(t, i);
	t->st.expired++;
	return FDB_NO_PORT;
}


/* The common case, a station heard again on its port, is a small leaf
 * function; everything else (new, moved) is out of line. */
enum fdb_learn_result fdb_learn(struct fdb *t, uint64_t key, uint16_t port, uint32_t now)
{
	uint32_t i = fdb_slot(t, key);
	struct fdb_entry *s = t->slots;
	while (s[i].key) {
		if (s[i].key == key) {
			if (likely(s[i].port == port)) {
				if (s[i].seen != now)
					s[i].seen = now;
				return FDB_REFRESHED;
			}
			break;
		}
		i = (i + 1) & t->mask;
	}
	return learn_slow(t, key, port, now);
}

__attribute__((noinline)) static enum fdb_learn_result learn_slow(struct fdb *t, uint64_t key,
								  uint16_t port, uint32_t now)
{
	uint32_t i = fdb_slot(t, key);
	struct fdb_entry *s = t->slots;
	while (s[i].key) {
		if (s[i].key == key) {
			struct fdb_entry *e = &s[i];
			if (e->port == port) {
				if (e->seen != now)
					e->seen = now;
				return FDB_REFRESHED;
			}
			/* The station moved (or its entry aged and it came
			 * back elsewhere): re-learn it here at once. */
			if (ensure_port(t, port) < 0)
				return FDB_FULL;
			if (t->port_limit[port] && t->port_count[port] >= t->port_limit[port]) {
				t->st.refused_port_limit++;
				return FDB_PORT_LIMIT;
			}
			t->port_count[e->port]--;
			t->port_count[port]++;
			e->port = port;
			e->seen = now;
			t->st.moved++;
			return FDB_MOVED;
		}
		i = (i + 1) & t->mask;
	}
	if (t->count >= t->max) {
		t->st.refused_full++;
		return FDB_FULL;
	}
	if (ensure_port(t, port) < 0)
		return FDB_FULL;
	if (t->port_limit[port] && t->port_count[port] >= t->port_limit[port]) {
		t->st.refused_port_limit++;
		return FDB_PORT_LIMIT;
	}
	if ((t->count + 1) * 2 > t->mask + 1 && t->mask + 1 < cap_for(t->max)) {
		if (grow(t) < 0) {
			t->st.refused_full++;
			return FDB_FULL;
		}
		s = t->slots;
		i = fdb_slot(t, key);
		while (s[i].key)
			i = (i + 1) & t->mask;
	} else if (t->count + 1 > t->mask) {
		/* Never fill the last slot: probing needs an empty one. */
		t->st.refused_full++;
		return FDB_FULL;
	}
	s[i].key = key;
	s[i].port = port;
	s[i].seen = now;
	t->count++;
	t->port_count[port]++;
	t->st.learned++;
	return FDB_LEARNED;
}

int fdb_lookup(struct fdb *t, uint64_t key, uint32_t now)
{
	uint32_t i = fdb_slot(t, key);
	const struct fdb_entry *s = t->slots;
	while (s[i].key) {
		if (s[i].key == key) {
			if (unlikely(fdb_entry_expired(t, &s[i], now)))
				return lookup_expired(t, i);
			return s[i].port;
		}
		i = (i + 1) & t->mask;
	}
	return FDB_NO_PORT;
}

void fdb_set_now(struct fdb *t, uint32_t now)
{
	t->now = now;
}

/* The rare cases of fdb_learn_lookup() (fdb.h), out of line. */
int fdb_learn_lookup_slow(struct fdb *t, uint64_t src, uint16_t port, uint64_t dst)
{
	learn_slow(t, src, port, t->now);
	return fdb_lookup(t, dst, t->now);
}

int fdb_lookup_expired(struct fdb *t, uint32_t i)
{
	return lookup_expired(t, i);
}

unsigned fdb_flush(struct fdb *t, int port)
{
	unsigned n = 0;
	for (uint32_t i = 0; i <= t->mask;) {
		if (t->slots[i].key && (port < 0 || t->slots[i].port == port)) {
			remove_slot(t, i); /* slot i may now hold a shifted entry */
			n++;
			continue;
		}
		i++;
	}
	t->st.flushed += n;
	return n;
}

unsigned fdb_expire(struct fdb *t, uint32_t now)
{
	unsigned n = 0;
	for (uint32_t i = 0; i <= t->mask;) {
		if (t->slots[i].key && fdb_entry_expired(t, &t->slots[i], now)) {
			remove_slot(t, i);
			n++;
			continue;
		}
		i++;
	}
	t->st.expired += n;
	return n;
}

void fdb_foreach(struct fdb *t, uint32_t now,
		 void (*fn)(void *arg, uint64_t key, uint16_t port, uint32_t age), void *arg)
{
	for (uint32_t i = 0; i <= t->mask; i++) {
		const struct fdb_entry *e = &t->slots[i];
		if (e->key && !fdb_entry_expired(t, e, now))
			fn(arg, e->key, e->port, now - e->seen);
	}
}

uint32_t fdb_count(const struct fdb *t)
{
	return t->count;
}

uint32_t fdb_port_count(const struct fdb *t, uint16_t port)
{
	return port < t->nports ? t->port_count[port] : 0;
}

uint32_t fdb_max(const struct fdb *t)
{
	return t->max;
}

uint32_t fdb_capacity(const struct fdb *t)
{
	return t->mask + 1;
}

const struct fdb_stats *fdb_get_stats(const struct fdb *t)
{
	return &t->st;
}
