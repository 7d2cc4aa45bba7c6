/* The MAC table (forwarding database) of one switch.
 *
 * Maps {VLAN, MAC} to a port index.  Generic over the port: it stores a
 * 16-bit handle and never calls into ports, so tests and other users (a
 * future VXLAN port) can use it alone.
 *
 * Design:
 * - Open addressing with linear probing over 16-byte entries {key, port,
 *   last seen}; deletion by backward shift, so there are no tombstones.  The
 *   table grows by doubling while it is at most half full, up to the size
 *   that holds max_entries; memory is bounded by max_entries whatever frames
 *   arrive (32 bytes per MAC at the worst load).
 * - The key packs VLAN and MAC into 64 bits: vlan << 48 | mac.  Key 0 (MAC
 *   00:00:00:00:00:00) is never learned and marks an empty slot.
 * - The hash is keyed with a random per-table secret, so a guest cannot pick
 *   MACs that collide.
 * - Ageing is lazy: an entry older than the ageing time counts as a miss at
 *   lookup and is removed there; fdb_expire() sweeps the rest, for memory and
 *   for display.
 * - When full, a new station is not learned (its frames are flooded) and
 *   `refused_full` counts it.  A per-port limit caps what one port may learn.
 *
 * Thread safety: none; the table belongs to the datapath thread.
 */
#ifndef VS_FDB_H
#define VS_FDB_H

#include <stdbool.h>
#include <stdint.h>

#define FDB_NO_PORT (-1)

struct fdb_stats {
	uint64_t learned;	   /* new entries */
	uint64_t moved;		   /* a station seen on another port */
	uint64_t expired;	   /* removed by ageing */
	uint64_t refused_full;	   /* not learned: table at max_entries */
	uint64_t refused_port_limit; /* not learned: port at its own limit */
	uint64_t flushed;	   /* removed by fdb_flush */
};

enum fdb_learn_result {
	FDB_REFRESHED,
	FDB_LEARNED,
	FDB_MOVED,
	FDB_FULL,
	FDB_PORT_LIMIT,
};

static inline uint64_t fdb_key(uint16_t vlan, uint64_t mac)
{
	return (uint64_t)(vlan & 0xfff) << 48 | mac;
}

/* NULL on allocation failure. */
struct fdb *fdb_new(uint32_t max_entries, uint32_t aging_s);
void fdb_free(struct fdb *t);

void fdb_set_aging(struct fdb *t, uint32_t aging_s);
/* Benchmarks and tests only: fixed hash keys instead of random ones, for
 * repeatable probe lengths.  The table must be empty. */
void fdb_set_secret(struct fdb *t, uint64_t k0, uint64_t k1);
/* Change the bound; entries above a lower bound stay until they age out. */
void fdb_set_max(struct fdb *t, uint32_t max_entries);
/* Cap what one port may learn; 0 = no per-port cap. */
void fdb_set_port_limit(struct fdb *t, uint16_t port, uint32_t limit);

/* Record that the station `key` was heard on `port` at `now` (seconds). */
enum fdb_learn_result fdb_learn(struct fdb *t, uint64_t key, uint16_t port, uint32_t now);

/* The time (seconds) for fdb_learn_lookup(): once per burst. */
void fdb_set_now(struct fdb *t, uint32_t now);

/* ---- The hot path, inline: the layout below is fdb.c's own; nothing else
 * may touch it (it is here only so the forwarding step need not call). */

struct fdb_entry {
	uint64_t key; /* 0: empty slot */
	uint16_t port;
	uint16_t pad;
	uint32_t seen; /* seconds, monotonic */
};

struct fdb {
	struct fdb_entry *slots;
	uint32_t mask;	   /* capacity - 1; capacity is a power of two */
	uint32_t count;
	uint32_t max;	   /* max_entries */
	uint32_t aging;
	uint64_t k0, k1;   /* hash secret; k1 is odd */
	uint32_t *port_count;
	uint32_t *port_limit;
	uint32_t nports;   /* length of port_count and port_limit */
	uint32_t now;	   /* for fdb_learn_lookup(), see fdb_set_now() */
	struct fdb_stats st;
};

/* The slot of a key: multiply-fold hashing with secret keys (the key XOR
 * one random key, times another, 64x64 -> 128 bits, halves XORed), masked.
 * A few instructions; it mixes every key bit into the slot (multiply-shift
 * alone clustered for some keys), and a guest that does not know the keys
 * cannot choose MACs that collide. */
static inline uint32_t fdb_hash(const struct fdb *t, uint64_t key)
{
	unsigned __int128 m = (unsigned __int128)(key ^ t->k0) * t->k1;
	return (uint32_t)m ^ (uint32_t)(m >> 64);
}

static inline uint32_t fdb_slot(const struct fdb *t, uint64_t key)
{
	return fdb_hash(t, key) & t->mask;
}

static inline bool fdb_entry_expired(const struct fdb *t, const struct fdb_entry *e, uint32_t now)
{
	return (uint32_t)(now - e->seen) >= t->aging;
}

int fdb_learn_lookup_slow(struct fdb *t, uint64_t src, uint16_t port, uint64_t dst);
int fdb_lookup_expired(struct fdb *t, uint32_t i);

/* Learn `src` on `port` and look up `dst`: the two table operations of a
 * unicast frame (the forwarding step's hot path), at the time given by
 * fdb_set_now().  Returns the port behind dst or FDB_NO_PORT.  A source that
 * cannot be learned shows in the table's refused_* counters. */
static inline int fdb_learn_lookup(struct fdb *t, uint64_t src, uint16_t port, uint64_t dst)
{
	/* Everything read from the table header once: the store to `seen`
	 * below could otherwise make the compiler reload it. */
	struct fdb_entry *s = t->slots;
	const uint32_t mask = t->mask, now = t->now;
	const uint64_t k0 = t->k0, k1 = t->k1;
	unsigned __int128 m = (unsigned __int128)(src ^ k0) * k1;
	uint32_t i = ((uint32_t)m ^ (uint32_t)(m >> 64)) & mask;
	for (;; i = (i + 1) & mask) {
		if (s[i].key == src) {
			if (__builtin_expect(s[i].port != port, 0))
				return fdb_learn_lookup_slow(t, src, port, dst);
			if (s[i].seen != now)
				s[i].seen = now;
			break;
		}
		if (__builtin_expect(!s[i].key, 0))
			return fdb_learn_lookup_slow(t, src, port, dst);
	}
	m = (unsigned __int128)(dst ^ k0) * k1;
	for (i = ((uint32_t)m ^ (uint32_t)(m >> 64)) & mask; s[i].key; i = (i + 1) & mask) {
		if (s[i].key == dst) {
			if (__builtin_expect(fdb_entry_expired(t, &s[i], now), 0))
				return fdb_lookup_expired(t, i);
			return s[i].port;
		}
	}
	return FDB_NO_PORT;
}

/* The port behind `key`, or FDB_NO_PORT if unknown or aged out. */
int fdb_lookup(struct fdb *t, uint64_t key, uint32_t now);

/* Remove entries of one port, or of all ports when port < 0.  Returns how
 * many were removed. */
unsigned fdb_flush(struct fdb *t, int port);

/* Remove aged-out entries; returns how many. */
unsigned fdb_expire(struct fdb *t, uint32_t now);

/* Call fn for each live entry; age = now - last seen, in seconds. */
void fdb_foreach(struct fdb *t, uint32_t now,
		 void (*fn)(void *arg, uint64_t key, uint16_t port, uint32_t age), void *arg);

uint32_t fdb_count(const struct fdb *t);
uint32_t fdb_port_count(const struct fdb *t, uint16_t port);
uint32_t fdb_max(const struct fdb *t);
uint32_t fdb_capacity(const struct fdb *t); /* slots allocated now */
const struct fdb_stats *fdb_get_stats(const struct fdb *t);

#endif
