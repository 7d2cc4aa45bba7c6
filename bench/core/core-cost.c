/* The forwarding core's cost, measured in instructions under callgrind
 * (deterministic, unlike time on a shared machine).
 *
 *   core-cost unicast MACS     bursts of 32 learned-unicast 64-byte frames,
 *                              with MACS stations in the table
 *   core-cost flood PORTS      bursts of 32 broadcast frames to PORTS ports
 *
 * Run it as
 *   valgrind --tool=callgrind --toggle-collect=sw_input --callgrind-out-file=F \
 *            core-cost unicast 1000
 * and divide the instructions callgrind counted (only inside sw_input, with
 * everything it calls: parse, learn, look up, queue, hand to the port) by
 * the frames the program reports.  bench/core/run.sh does all of it.
 *
 * The ports are "null" ports: their tx_burst only frees the packets, so
 * what is counted is the switch, not a backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "fdb.h"
#include "sw.h"
#include "util.h"

#define BURSTS 2000

static void null_tx(struct port *p, struct pkt **pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		port_tx_ok(p, pkts[i]->len);
		pkt_free(pkts[i]);
	}
}

static int null_open(struct port *p, const struct port_args *a)
{
	port_set_state(p, PORT_UP);
	return 0;
}

static void null_close(struct port *p)
{
}

static const struct port_ops null_ops = {
	.type = "null", .open = null_open, .close = null_close, .tx_burst = null_tx,
};

static struct port *add_port(struct sw *sw, unsigned i)
{
	char name[16];
	snprintf(name, sizeof(name), "p%u", i);
	struct port *p = port_new(&null_ops, name, NULL);
	if (!p || sw_port_attach(sw, p) < 0 || p->ops->open(p, NULL) < 0)
		exit(1);
	return p;
}

static void mac_of(uint64_t n, uint8_t *m)
{
	eth_addr_from_u64(0x020000000000ull | (n & 0xffffffffffull), m);
}

static struct pkt *frame(const uint8_t *dst, const uint8_t *src)
{
	struct pkt *k = pkt_alloc(64);
	if (!k)
		exit(1);
	memset(k->data, 0, 64);
	memcpy(k->data, dst, 6);
	memcpy(k->data + 6, src, 6);
	eth_put_be16(k->data + 12, ETH_TYPE_IPV4);
	k->len = 64;
	return k;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "unicast") && strcmp(argv[1], "flood"))) {
		fprintf(stderr, "usage: core-cost unicast MACS | flood PORTS\n");
		return 2;
	}
	unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
	bool flood = strcmp(argv[1], "flood") == 0;
	unsigned nports = flood ? n : 2, macs = flood ? 2 : n;
	if (pkt_pool_init(PKT_BURST * 2, 0, 0) < 0)
		return 1;
	struct sw *sw = sw_new("bench", SW_PRIVATE, 1500, macs + 16, 300);
	/* Fixed keys (CORE_COST_SEED picks others): repeatable counts. */
	uint64_t seed = strtoull(getenv("CORE_COST_SEED") ? getenv("CORE_COST_SEED") : "1", NULL, 0);
	fdb_set_secret(sw->fdb, seed * 0x9e3779b97f4a7c15ull, (seed + 7) * 0xd6e8feb86659fd93ull);
	struct port **ports = calloc(nports, sizeof(*ports));
	for (unsigned i = 0; i < nports; i++)
		ports[i] = add_port(sw, i);
	/* Stations: half behind port 0, half behind port 1, learned. */
	uint32_t now = mono_seconds();
	uint8_t m[6], dst[6], src[6];
	for (unsigned i = 0; i < macs; i++)
		fdb_learn(sw->fdb, fdb_key(0, eth_addr_to_u64((mac_of(i, m), m))), i & 1, now);
	if (fdb_count(sw->fdb) != macs) {
		fprintf(stderr, "table holds %u of %u\n", fdb_count(sw->fdb), macs);
		return 1;
	}
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	unsigned long frames = 0;
	uint64_t r = 0x9e3779b97f4a7c15ull;
	for (unsigned b = 0; b < BURSTS; b++) {
		struct pkt *burst[PKT_BURST];
		for (unsigned i = 0; i < PKT_BURST; i++) {
			/* A station behind port 1 talks to one behind port 0, each
			 * frame a different pair (the table is really looked up). */
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			unsigned s = (unsigned)(r % macs) | 1, t = (unsigned)((r >> 32) % macs) & ~1u;
			mac_of(s, src);
			mac_of(t, dst);
			burst[i] = frame(flood ? bcast : dst, src);
		}
		sw_input(sw, ports[1], burst, PKT_BURST);
		frames += PKT_BURST;
	}
	unsigned long out = 0;
	for (unsigned i = 0; i < nports; i++)
		out += ports[i]->stats.tx_packets;
	printf("frames %lu delivered %lu ports %u macs %u entry_bytes %zu table_bytes %zu\n", frames,
	       out, nports, fdb_count(sw->fdb), (size_t)16,
	       (size_t)fdb_capacity(sw->fdb) * 16);
	return out == (flood ? frames * (nports - 1) : frames) ? 0 : 1;
}
