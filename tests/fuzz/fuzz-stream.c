/* Fuzz target: the stream framing reader, through the real port code.
 *
 * Arbitrary bytes, split at arbitrary points, arrive on a QEMU-framing
 * stream port (over a socketpair) whose switch has one other port.  The
 * target steps the event loop after each chunk and checks that the port
 * took exactly the frames a plain reading of the byte stream finds, that a
 * bad length or a partial frame at the end puts the port down and is
 * counted, and that every packet goes back to the pool.
 *
 * Input: chunks of [1 byte length N][N bytes].
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "port-pipe.h"
#include "port-stream.h"
#include "sw.h"

static struct loop *loop;
static struct sw *sw;
static struct port *sink;
static uint8_t stream[1 << 20];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (pkt_pool_init(512, 16, 0) < 0 || !(loop = loop_new()))
		abort();
	sw = sw_new("s", SW_PRIVATE, 1500, 64, 300);
	sink = port_new(&port_pipe_ops, "sink", NULL);
	if (!sw || !sink || sw_port_attach(sw, sink) < 0 ||
	    sink->ops->open(sink, &(struct port_args){ .fd = -1 }) < 0)
		abort();
	return 0;
}

static void pump(void)
{
	while (loop_run_once(loop, 0) > 0)
		;
}

/* Frames a plain reading of the stream finds; *bad if it hits a bad length,
 * *partial if bytes of an unfinished frame remain. */
static unsigned reference(const uint8_t *s, size_t n, bool *bad, bool *partial)
{
	size_t pos = 0;
	unsigned frames = 0;
	*bad = *partial = false;
	while (n - pos >= 4) {
		uint32_t len = (uint32_t)s[pos] << 24 | (uint32_t)s[pos + 1] << 16 |
			       (uint32_t)s[pos + 2] << 8 | s[pos + 3];
		if (len == 0 || len > PKT_MAX_FRAME) {
			*bad = true;
			return frames;
		}
		if (n - pos - 4 < len)
			break;
		pos += 4 + len;
		frames++;
	}
	*partial = pos < n;
	return frames;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	struct port *p = port_new(&port_stream_ops, "q", loop);
	if (!p || sw_port_attach(sw, p) < 0 ||
	    p->ops->open(p, &(struct port_args){ .fd = sv[0] }) < 0)
		abort();
	pipe_clear(sink);
	fdb_flush(sw->fdb, -1);

	size_t off = 0, n = 0;
	while (off < size && p->state == PORT_UP) {
		size_t len = data[off++];
		if (len > size - off)
			len = size - off;
		if (n + len > sizeof(stream))
			break;
		memcpy(stream + n, data + off, len);
		const uint8_t *w = data + off;
		size_t left = len;
		while (left && p->state == PORT_UP) {
			ssize_t r = write(sv[1], w, left);
			if (r < 0 && errno != EAGAIN)
				abort();
			if (r > 0) {
				w += r;
				left -= (size_t)r;
			}
			pump();
		}
		n += len - left;
		off += len;
	}
	bool bad, partial;
	unsigned want = reference(stream, n, &bad, &partial);
	if (p->state == PORT_UP) {
		close(sv[1]); /* the peer goes: end of stream */
		sv[1] = -1;
		pump();
	}
	const struct port_stats *st = &p->stats;
	if (st->rx_packets != want)
		abort(); /* took a different number of frames */
	if (p->state == PORT_UP)
		abort(); /* end of stream not noticed */
	if ((bad || partial) && !st->rx_drop[RX_DROP_MALFORMED])
		abort(); /* a broken stream went uncounted */
	if (bad && !st->resets)
		abort();
	uint64_t accounted = ((struct pipe_priv *)port_priv(sink))->total + st->rx_filtered;
	for (unsigned i = 0; i < RX_DROP_MAX; i++)
		if (i != RX_DROP_MALFORMED)
			accounted += st->rx_drop[i];
	if (accounted != want)
		abort(); /* a frame vanished without a counter */

	p->ops->close(p);
	sw_port_detach(sw, p);
	port_free(p);
	if (sv[1] >= 0)
		close(sv[1]);
	struct pkt_pool_stats ps;
	pkt_pool_get_stats(&ps);
	if (ps.small_free != ps.small_total || ps.large_free != ps.large_total)
		abort();
	return 0;
}
