/* Fuzz target: the vhost-user message handler (vhost_dev_handle), with real
 * file descriptors: a 1 MiB memfd as the guest's memory and eventfds as kick
 * and call.  After each message, if the device runs, a burst goes each way
 * through the rings it set up.  Checks: no crash or sanitizer report, replies
 * fit, a refused message says why, and no file descriptor leaks (the handler
 * owns the fds it is given; a reset closes them all).
 *
 * Input: messages of [fd count 0-3][length, 2 bytes LE][bytes] (a memory
 * table gets a memfd, other messages eventfds); the first
 * byte's top bit asks for the next 4 KiB of input to be the guest memory.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pkt.h"
#include "vhost/vhost-dev.h"

#define GUEST (1u << 20)

static int memfd;

/* The fds this input gave the handler, to check that none outlives a reset. */
static int given[1024];
static unsigned ngiven;

/* Still open and still ours (a number may have been reused by another of
 * libFuzzer's threads, which open /proc files)? */
static bool ours_open(int fd)
{
	char path[64], link[128];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return strstr(link, "eventfd") || strstr(link, "fuzz-guest");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (pkt_pool_init(256, 16, 0) < 0)
		abort();
	memfd = memfd_create("fuzz-guest", 0);
	if (memfd < 0 || ftruncate(memfd, GUEST) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vhost_dev d;
	size_t off = 0;
	/* Every input starts from zeroed guest memory (nothing maps it now). */
	if (ftruncate(memfd, 0) < 0 || ftruncate(memfd, GUEST) < 0)
		abort();
	if (size && (data[0] & 0x80) && size > 4097) {
		if (pwrite(memfd, data + 1, 4096, 0) != 4096)
			abort();
		off = 4097;
	}
	vhost_dev_init(&d);
	ngiven = 0;
	while (off + 3 <= size) {
		unsigned nfds = data[off] % 4;
		size_t len = data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		/* A memory table gets a memfd, anything else eventfds. */
		bool mem_msg = len >= 4 && data[off] == VHOST_USER_SET_MEM_TABLE && !data[off + 1] &&
			       !data[off + 2] && !data[off + 3];
		int fds[3];
		for (unsigned i = 0; i < nfds; i++) {
			fds[i] = mem_msg && i == 0 ? dup(memfd) : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (fds[i] < 0)
				abort();
			if (ngiven < sizeof(given) / sizeof(given[0]))
				given[ngiven++] = fds[i];
		}
		struct vhost_user_msg reply;
		size_t rlen = 0;
		d.why = NULL;
		int r = vhost_dev_handle(&d, data + off, len, fds, nfds, &reply, &rlen);
		off += len;
		if (rlen > sizeof(reply))
			abort();
		if (r < 0) {
			if (!d.why)
				abort(); /* refused without a reason */
			vhost_dev_reset(&d); /* the port drops the connection */
			vhost_dev_init(&d);
			continue;
		}
		if (vhost_dev_running(&d)) {
			struct port_stats st = { 0 };
			struct pkt *pkts[PKT_BURST];
			const char *why;
			int n = virtq_tx_dequeue(&d.vq[VHOST_NET_TXQ], &d.mem, pkts, PKT_BURST, &st,
						 &why);
			if (n > 0)
				pkt_free_burst(pkts, (unsigned)n);
			struct pkt *k = pkt_alloc(60);
			if (!k)
				abort();
			memset(k->data, 0xee, 60);
			k->len = 60;
			virtq_rx_enqueue(&d.vq[VHOST_NET_RXQ], &d.mem, &k, 1, &st, &why);
			pkt_free(k);
		}
	}
	vhost_dev_reset(&d);
	for (unsigned i = 0; i < ngiven; i++)
		if (ours_open(given[i]))
			abort(); /* an fd the handler was given stayed open */
	struct pkt_pool_stats ps;
	pkt_pool_get_stats(&ps);
	if (ps.small_free != ps.small_total || ps.large_free != ps.large_total)
		abort();
	return 0;
}
