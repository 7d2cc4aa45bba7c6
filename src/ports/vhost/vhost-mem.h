/* A guest's memory as the backend sees it: up to 8 regions, each a shared
 * mapping of a file descriptor the frontend sent with SET_MEM_TABLE.
 *
 * Two address spaces point into it: descriptors carry guest-physical
 * addresses (gpa), ring addresses in SET_VRING_ADDR are the frontend
 * process's own virtual addresses (uva).  Both translate to a pointer into
 * our mapping only after a bounds check against one region; a range that
 * crosses the end of a region is either split (descriptor buffers, see
 * vhost_mem_gpa()) or refused (rings).
 *
 * The table is a plain value: the translation functions are pure, so tests
 * and fuzz targets can build a table over any buffer (vhost_mem_add_host()).
 */
#ifndef VS_VHOST_MEM_H
#define VS_VHOST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "vhost-proto.h"

struct vhost_mem_region {
	uint64_t gpa;	/* guest-physical start */
	uint64_t size;
	uint64_t uva;	/* the frontend's address of the same start */
	uint8_t *host;	/* our address of the same start */
	void *map_base;	/* what to munmap (NULL: not ours) */
	size_t map_len;
};

struct vhost_mem {
	unsigned n;
	unsigned last; /* region of the last hit: buffers cluster */
	/* Set (from the SIGBUS handler) when the frontend shrank a region's
	 * file under us: the caller must drop the connection. */
	volatile int poisoned;
	struct vhost_mem_region r[VHOST_USER_MAX_REGIONS];
};

/* Host pointer for guest-physical [gpa, gpa + len): returns NULL if gpa is in
 * no region, else the pointer and in *contig how many of the len bytes are
 * contiguous there (the rest, if any, continues at gpa + *contig). */
static inline uint8_t *vhost_mem_gpa(struct vhost_mem *m, uint64_t gpa, uint64_t len,
				     uint64_t *contig)
{
	const struct vhost_mem_region *r = &m->r[m->last];
	if (m->last < m->n && gpa - r->gpa < r->size)
		goto hit;
	for (unsigned i = 0; i < m->n; i++) {
		r = &m->r[i];
		/* Unsigned: gpa below r->gpa wraps to a huge offset. */
		if (gpa - r->gpa < r->size) {
			m->last = i;
			goto hit;
		}
	}
	return NULL;
hit:;
	uint64_t off = gpa - r->gpa;
	uint64_t room = r->size - off;
	*contig = len < room ? len : room;
	return r->host + off;
}

/* Host pointer for frontend-virtual [uva, uva + len), which must lie inside
 * one region; NULL otherwise. */
uint8_t *vhost_mem_uva(const struct vhost_mem *m, uint64_t uva, uint64_t len);

/* Host pointer for guest-physical [gpa, gpa + len) inside one region, or NULL. */
uint8_t *vhost_mem_gpa_range(struct vhost_mem *m, uint64_t gpa, uint64_t len);

/* Map the regions of a SET_MEM_TABLE message, one fd each, into *out (which
 * must be empty).  The fds stay the caller's.  0, or -errno with *out empty
 * and *why saying what was wrong. */
int vhost_mem_map(struct vhost_mem *out, const struct vhost_user_mem *msg, const int *fds,
		  unsigned nfds, const char **why);

/* A frontend can shrink its memory file after we mapped it (QEMU seals its
 * memfd; DPDK's cannot be sealed); touching a page past the new end raises
 * SIGBUS.  Mapped regions are registered with a SIGBUS handler that puts a
 * zero page there, so the access completes, and sets m->poisoned: the port
 * checks it after every burst and drops that frontend.  A SIGBUS anywhere
 * else keeps its default action.  vhost_mem_map() installs the handler. */

/* Unmap everything; the table is empty afterwards. */
void vhost_mem_unmap(struct vhost_mem *m);

/* Tests and fuzzing: add a region over memory we already have.  0 or -E2BIG. */
int vhost_mem_add_host(struct vhost_mem *m, uint64_t gpa, uint64_t uva, void *host,
		       uint64_t size);

#endif
