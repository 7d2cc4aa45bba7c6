/* Ethernet frame layout and the few facts the switch reads from a frame. */
#ifndef VS_ETH_H
#define VS_ETH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ETH_ADDR_LEN 6
#define ETH_HDR_LEN 14
#define ETH_VLAN_LEN 4
#define ETH_MIN_FRAME ETH_HDR_LEN /* anything shorter is a runt */
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_VLAN 0x8100
#define ETH_TYPE_QINQ 0x88a8
#define ETH_TYPE_IPV6 0x86dd

/* A MAC address packed into the low 48 bits of an integer, first octet most
 * significant: cheap to compare, hash and store. */
static inline uint64_t eth_addr_to_u64(const uint8_t *a)
{
	return ((uint64_t)a[0] << 40) | ((uint64_t)a[1] << 32) | ((uint64_t)a[2] << 24) |
	       ((uint64_t)a[3] << 16) | ((uint64_t)a[4] << 8) | (uint64_t)a[5];
}

/* The same from a frame, with one unaligned 8-byte load: the two bytes
 * after the address (the next address, or the EtherType) are read and
 * shifted out, so the frame must have 8 readable bytes at a (any frame of
 * at least ETH_HDR_LEN bytes does, for the destination and the source). */
static inline uint64_t eth_addr_load(const uint8_t *a)
{
	uint64_t v;
	memcpy(&v, a, sizeof(v));
	return __builtin_bswap64(v) >> 16;
}

static inline void eth_addr_from_u64(uint64_t v, uint8_t *a)
{
	for (int i = 5; i >= 0; i--) {
		a[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline bool eth_addr_is_multicast(const uint8_t *a)
{
	return a[0] & 1; /* the I/G bit; broadcast included */
}

static inline bool eth_addr_is_zero(const uint8_t *a)
{
	return (a[0] | a[1] | a[2] | a[3] | a[4] | a[5]) == 0;
}

static inline uint16_t eth_get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline void eth_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* "aa:bb:cc:dd:ee:ff"; buf must hold 18 bytes. */
void eth_addr_format(const uint8_t *a, char *buf);
/* Parses "aa:bb:cc:dd:ee:ff"; returns 0 or -EINVAL. */
int eth_addr_parse(const char *s, uint8_t *a);

#endif
