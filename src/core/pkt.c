#include "pkt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pkt_class {
	struct pkt *free;
	unsigned total, nfree;
	struct pkt *structs;
	uint8_t *bufs;
};

static struct pkt_class classes[3];
static uint64_t alloc_failed;

static int class_init(struct pkt_class *c, enum pkt_kind kind, unsigned n, uint32_t bufsize)
{
	memset(c, 0, sizeof(*c));
	if (n == 0)
		return 0;
	c->structs = calloc(n, sizeof(struct pkt));
	if (!c->structs)
		return -ENOMEM;
	if (bufsize) {
		/* Large enough that malloc maps it: pages that no frame ever
		 * touches cost no memory. */
		c->bufs = malloc((size_t)n * bufsize);
		if (!c->bufs) {
			free(c->structs);
			c->structs = NULL;
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct pkt *p = &c->structs[i];
		p->kind = (uint8_t)kind;
		p->buf = bufsize ? c->bufs + (size_t)i * bufsize : NULL;
		p->buf_size = bufsize;
		p->next_free = c->free;
		c->free = p;
	}
	c->total = c->nfree = n;
	return 0;
}

int pkt_pool_init(unsigned n_small, unsigned n_large, unsigned n_ext)
{
	if (class_init(&classes[PKT_SMALL], PKT_SMALL, n_small, PKT_SMALL_SIZE) < 0 ||
	    class_init(&classes[PKT_LARGE], PKT_LARGE, n_large, PKT_LARGE_SIZE) < 0 ||
	    class_init(&classes[PKT_EXT], PKT_EXT, n_ext, 0) < 0) {
		pkt_pool_fini();
		return -ENOMEM;
	}
	return 0;
}

void pkt_pool_fini(void)
{
	for (unsigned i = 0; i < 3; i++) {
		free(classes[i].structs);
		free(classes[i].bufs);
		memset(&classes[i], 0, sizeof(classes[i]));
	}
}

static struct pkt *class_get(struct pkt_class *c)
{
	struct pkt *p = c->free;
	if (!p) {
		alloc_failed++;
		return NULL;
	}
	c->free = p->next_free;
	c->nfree--;
	p->refcnt = 1;
	p->len = 0;
	memset(&p->off, 0, sizeof(p->off));
	return p;
}

struct pkt *pkt_alloc(uint32_t size)
{
	struct pkt *p;
	if (size <= PKT_SMALL_SIZE - PKT_HEADROOM)
		p = class_get(&classes[PKT_SMALL]);
	else if (size <= PKT_LARGE_SIZE - PKT_HEADROOM)
		p = class_get(&classes[PKT_LARGE]);
	else
		return NULL;
	if (p)
		p->data = p->buf + PKT_HEADROOM;
	return p;
}

struct pkt *pkt_alloc_ext(uint8_t *data, uint32_t len, void (*release)(struct pkt *),
			  void *owner, uint64_t cookie)
{
	struct pkt *p = class_get(&classes[PKT_EXT]);
	if (!p)
		return NULL;
	p->data = p->buf = data;
	p->len = p->buf_size = len;
	p->release = release;
	p->owner = owner;
	p->cookie = cookie;
	return p;
}

void pkt_free(struct pkt *p)
{
	if (--p->refcnt)
		return;
	if (p->kind == PKT_EXT && p->release)
		p->release(p);
	struct pkt_class *c = &classes[p->kind];
	p->next_free = c->free;
	c->free = p;
	c->nfree++;
}

void pkt_pool_get_stats(struct pkt_pool_stats *st)
{
	st->small_total = classes[PKT_SMALL].total;
	st->small_free = classes[PKT_SMALL].nfree;
	st->large_total = classes[PKT_LARGE].total;
	st->large_free = classes[PKT_LARGE].nfree;
	st->ext_total = classes[PKT_EXT].total;
	st->ext_free = classes[PKT_EXT].nfree;
	st->alloc_failed = alloc_failed;
}
