/* The vhost-user wire protocol (QEMU docs/interop/vhost-user.rst) and the
 * split-virtqueue layout (virtio 1.1, 2.6), as both ends of our code see them:
 * the backend (vhost-dev.c, virtq.c) and our own test frontend (vu-front.c).
 *
 * A message is a 12-byte header (request, flags, payload size) and a payload;
 * file descriptors travel as SCM_RIGHTS with the header.  Numbers are in host
 * byte order.  Ring fields are little-endian (virtio 1.x); every target we
 * build for is little-endian, and the accessors below say so in one place.
 *
 * The ring structures and feature bits come from the kernel's uapi headers
 * (linux/virtio_ring.h, linux/virtio_net.h, linux/virtio_config.h); only the
 * vhost-user specific part is defined here.
 */
#ifndef VS_VHOST_PROTO_H
#define VS_VHOST_PROTO_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#if __BYTE_ORDER != __LITTLE_ENDIAN
#error "vhost-user rings are little-endian; add byte swaps for this target"
#endif

enum vhost_user_request {
	VHOST_USER_NONE = 0,
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_SLAVE_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_VRING_KICK = 35,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_MAX
};

/* Header flags. */
#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY (1u << 2)
#define VHOST_USER_NEED_REPLY (1u << 3)

/* Feature bit 30 (the reserved UNUSED bit of virtio) announces protocol
 * features. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits. */
#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD 1
#define VHOST_USER_PROTOCOL_F_RARP 2
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_MTU 4
#define VHOST_USER_PROTOCOL_F_SLAVE_REQ 5
#define VHOST_USER_PROTOCOL_F_CONFIG 9
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHOST_USER_PROTOCOL_F_STATUS 16

/* SET_VRING_KICK/CALL/ERR payload: ring index, and "no fd attached". */
#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD (1u << 8)

#define VHOST_USER_MAX_FDS 8	 /* per message, as QEMU and DPDK */
#define VHOST_USER_MAX_REGIONS 8 /* SET_MEM_TABLE */

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vhost_user_state {
	uint32_t index;
	uint32_t num;
};

struct vhost_user_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;	/* frontend user addresses, not guest-physical */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vhost_user_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vhost_user_mem {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_region regions[VHOST_USER_MAX_REGIONS];
};

/* The largest payload we accept.  GET_CONFIG carries up to 256 bytes of
 * config space; nothing we handle is bigger than the memory table. */
#define VHOST_USER_MAX_PAYLOAD 512

struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_user_state state;
		struct vhost_user_addr addr;
		struct vhost_user_mem mem;
		uint8_t raw[VHOST_USER_MAX_PAYLOAD];
	};
} __attribute__((packed));

#define VHOST_USER_HDR_SIZE sizeof(struct vhost_user_hdr)

/* virtio-net header: 12 bytes with VERSION_1 or MRG_RXBUF, else 10. */
struct vnet_hdr_mrg {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

/* Ring memory is shared with a guest that may write it at any time: every
 * field is read exactly once into a local through these, then only the local
 * is checked and used. */
#define VQ_READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define VQ_WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/* The one place where ring byte order would be converted. */
static inline uint16_t vq_le16(uint16_t v)
{
	return le16toh(v);
}

/* Ordering against the other side of the ring (another process or a vCPU). */
#define vq_smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define vq_smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define vq_smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* Bytes of each part of a split ring of `num` entries (with the event index
 * fields, which are always there in memory). */
static inline uint64_t vq_desc_bytes(uint32_t num)
{
	return 16ull * num;
}
static inline uint64_t vq_avail_bytes(uint32_t num)
{
	return 4ull + 2ull * num + 2ull;
}
static inline uint64_t vq_used_bytes(uint32_t num)
{
	return 4ull + 8ull * num + 2ull;
}

/* Whether the other side asked to be told about index new_idx, having last
 * been told about old_idx (virtio 1.1, 2.6.7.2 / 2.6.10.1). */
static inline int vq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* The event index fields just past each ring (virtio 1.1, 2.6.6): used_event
 * at the end of the avail ring, avail_event at the end of the used ring. */
static inline uint16_t *vq_used_event(struct vring_avail *a, uint32_t num)
{
	return (uint16_t *)(void *)((uint8_t *)a + 4 + 2 * (size_t)num);
}
static inline uint16_t *vq_avail_event(struct vring_used *u, uint32_t num)
{
	return (uint16_t *)(void *)((uint8_t *)u + 4 + 8 * (size_t)num);
}

const char *vhost_user_request_name(uint32_t req);

#endif
