/* Fuzz target: Ethernet frame parsing and the whole forwarding decision.
 *
 * Frames from random ports go into two switches with random port states and
 * table bounds.  After every frame the target checks the invariants a user
 * relies on:
 *   - a frame never leaves through the port it came in on;
 *   - a frame never reaches a port of another switch;
 *   - what leaves is byte for byte what came in, to at most one copy per port;
 *   - the MAC table never holds more than its bound;
 *   - every packet goes back to the pool.
 *
 * Input: 3 header bytes (ports on switch A and B, table bound), then
 * operations: 0-5 inject a frame (port, 2-byte length, bytes), 6 toggle a
 * port up/down, 7 flush a table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdb.h"
#include "port-pipe.h"
#include "sw.h"

#define NA 6
#define NB 4

static struct sw *sa, *sb;
static struct port *ports[NA + NB];

static struct port *add(struct sw *sw, const char *name)
{
	struct port *p = port_new(&port_pipe_ops, name, NULL);
	if (!p || sw_port_attach(sw, p) < 0 || p->ops->open(p, &(struct port_args){ .fd = -1 }) < 0)
		abort();
	return p;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (pkt_pool_init(512, 16, 0) < 0)
		abort();
	sa = sw_new("a", SW_PRIVATE, 1500, 16, 300);
	sb = sw_new("b", SW_PRIVATE, 1500, 16, 300);
	char name[8];
	for (int i = 0; i < NA + NB; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ports[i] = add(i < NA ? sa : sb, name);
	}
	return 0;
}

struct input {
	const uint8_t *d;
	size_t n, off;
};

static unsigned next(struct input *in)
{
	return in->off < in->n ? in->d[in->off++] : 0;
}

static unsigned total(int i)
{
	return ((struct pipe_priv *)port_priv(ports[i]))->total;
}

static void check_pool(void)
{
	struct pkt_pool_stats st;
	pkt_pool_get_stats(&st);
	if (st.small_free != st.small_total || st.large_free != st.large_total)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[PKT_MAX_FRAME];
	struct input in = { data, size, 0 };
	unsigned na = 1 + next(&in) % NA, nb = 1 + next(&in) % NB, max = 1 + next(&in) % 16;
	struct sw *sws[2] = { sa, sb };

	/* A fresh start: all ports up, tables empty, this input's bound. */
	for (int i = 0; i < NA + NB; i++) {
		port_set_state(ports[i], PORT_UP);
		pipe_clear(ports[i]);
	}
	for (int s = 0; s < 2; s++) {
		fdb_flush(sws[s]->fdb, -1);
		fdb_set_max(sws[s]->fdb, max);
	}

	while (in.off < in.n) {
		unsigned op = next(&in) % 8;
		if (op == 6) {
			struct port *p = ports[next(&in) % (NA + NB)];
			port_set_state(p, p->state == PORT_UP ? PORT_DOWN : PORT_UP);
			continue;
		}
		if (op == 7) {
			fdb_flush(sws[next(&in) % 2]->fdb, -1);
			continue;
		}
		/* Inject on one of the ports in use on either switch. */
		unsigned pick = next(&in) % (na + nb);
		int ip = pick < na ? (int)pick : NA + (int)(pick - na);
		unsigned len = next(&in) << 8;
		len |= next(&in);
		for (unsigned i = 0; i < len; i++)
			frame[i] = in.off < in.n ? in.d[in.off++] : (uint8_t)i;

		unsigned before[NA + NB];
		for (int i = 0; i < NA + NB; i++)
			before[i] = total(i);
		if (pipe_inject(ports[ip], frame, len) < 0)
			abort(); /* the pool must never run dry */
		for (int i = 0; i < NA + NB; i++) {
			unsigned got = total(i) - before[i];
			if (got > 1)
				abort(); /* one copy per port at most */
			if (i == ip && got)
				abort(); /* back out of its ingress port */
			if (got && (i < NA) != (ip < NA))
				abort(); /* across switches */
			if (got) {
				struct pipe_priv *pp = port_priv(ports[i]);
				const struct pipe_frame *f = &pp->frames[pp->n - 1];
				if (pp->n && (f->len != len || memcmp(f->data, frame, len) != 0))
					abort(); /* changed on the way */
				pipe_clear(ports[i]);
				before[i] = 0;
			}
		}
		for (int s = 0; s < 2; s++)
			if (fdb_count(sws[s]->fdb) > max)
				abort();
		check_pool();
	}
	return 0;
}
