#include "vhost-mem.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

uint8_t *vhost_mem_uva(const struct vhost_mem *m, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vhost_mem_region *r = &m->r[i];
		uint64_t off = uva - r->uva;
		if (off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

uint8_t *vhost_mem_gpa_range(struct vhost_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t contig;
	uint8_t *h = vhost_mem_gpa(m, gpa, len, &contig);
	return h && contig == len ? h : NULL;
}

int vhost_mem_add_host(struct vhost_mem *m, uint64_t gpa, uint64_t uva, void *host,
		       uint64_t size)
{
	if (m->n == VHOST_USER_MAX_REGIONS)
		return -E2BIG;
	m->r[m->n++] = (struct vhost_mem_region){
		.gpa = gpa, .size = size, .uva = uva, .host = host,
	};
	return 0;
}

/* Checks one region of the message against its fd; the mapping length. */
static int region_check(const struct vhost_user_region *rg, int fd, size_t *map_len,
			const char **why)
{
	uint64_t end;
	struct stat st;

	if (rg->memory_size == 0) {
		*why = "empty region";
		return -EINVAL;
	}
	if (__builtin_add_overflow(rg->guest_phys_addr, rg->memory_size - 1, &end) ||
	    __builtin_add_overflow(rg->userspace_addr, rg->memory_size - 1, &end) ||
	    __builtin_add_overflow(rg->mmap_offset, rg->memory_size, &end) || end > SIZE_MAX) {
		*why = "region wraps around";
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = "region fd is not a memory file";
		return -EINVAL;
	}
	/* Touching a page past the end of the file would be SIGBUS. */
	if ((uint64_t)st.st_size < end) {
		*why = "region extends past the end of its file";
		return -EINVAL;
	}
	*map_len = (size_t)end;
	return 0;
}

/* ---- the SIGBUS safety net (see vhost-mem.h) ---- */

struct guard {
	uintptr_t base;
	size_t len;
	struct vhost_mem *mem;
};

/* Changed only outside the handler, by the one datapath thread; the handler
 * runs on that thread too (SIGBUS is synchronous), so it never sees a half
 * update. */
static struct guard *guards;
static unsigned nguards, guards_cap;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	long pg = sysconf(_SC_PAGESIZE);
	for (unsigned i = 0; i < nguards; i++) {
		if (a - guards[i].base >= guards[i].len)
			continue;
		void *page = (void *)(a & ~((uintptr_t)pg - 1));
		if (mmap(page, (size_t)pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
			guards[i].mem->poisoned = 1;
			return; /* the access is retried, on a zero page */
		}
		break;
	}
	/* Not guest memory: the default action (a core dump) on return. */
	signal(SIGBUS, SIG_DFL);
}

static int guard_add(struct vhost_mem *m, void *base, size_t len)
{
	/* (Re)installed at every mapping: cheap, and nothing that replaced
	 * it meanwhile leaves guest memory unguarded. */
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		return -errno;
	if (nguards == guards_cap) {
		unsigned cap = guards_cap ? guards_cap * 2 : 16;
		struct guard *g = realloc(guards, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		guards = g;
		guards_cap = cap;
	}
	guards[nguards++] = (struct guard){ (uintptr_t)base, len, m };
	return 0;
}

static void guard_del(void *base)
{
	for (unsigned i = 0; i < nguards; i++) {
		if (guards[i].base == (uintptr_t)base) {
			guards[i] = guards[--nguards];
			return;
		}
	}
}

int vhost_mem_map(struct vhost_mem *out, const struct vhost_user_mem *msg, const int *fds,
		  unsigned nfds, const char **why)
{
	int r;

	if (msg->nregions == 0 || msg->nregions > VHOST_USER_MAX_REGIONS) {
		*why = "bad number of memory regions";
		return -EINVAL;
	}
	if (nfds != msg->nregions) {
		*why = "memory table: one fd per region expected";
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < msg->nregions; i++) {
		const struct vhost_user_region *rg = &msg->regions[i];
		size_t len;
		r = region_check(rg, fds[i], &len, why);
		if (r < 0)
			goto err_unmap;
		/* Map from offset 0: mmap_offset need not be page-aligned. */
		void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
				  fds[i], 0);
		if (base == MAP_FAILED) {
			r = -errno;
			*why = "mmap of a memory region failed";
			goto err_unmap;
		}
		/* A memfd that may still shrink could turn a valid address
		 * into SIGBUS later; seal it if the frontend allows (QEMU's
		 * memfd backend already does), else live with it: only the
		 * frontend process, not the guest, can shrink it. */
		fcntl(fds[i], F_ADD_SEALS, F_SEAL_SHRINK);
		r = guard_add(out, base, len);
		if (r < 0) {
			munmap(base, len);
			*why = "out of memory";
			goto err_unmap;
		}
		struct vhost_mem_region *mr = &out->r[out->n++];
		mr->gpa = rg->guest_phys_addr;
		mr->size = rg->memory_size;
		mr->uva = rg->userspace_addr;
		mr->host = (uint8_t *)base + rg->mmap_offset;
		mr->map_base = base;
		mr->map_len = len;
	}
	return 0;
err_unmap:
	vhost_mem_unmap(out);
	return r;
}

void vhost_mem_unmap(struct vhost_mem *m)
{
	for (unsigned i = 0; i < m->n; i++) {
		if (m->r[i].map_base) {
			guard_del(m->r[i].map_base);
			munmap(m->r[i].map_base, m->r[i].map_len);
		}
	}
	memset(m, 0, sizeof(*m));
}
