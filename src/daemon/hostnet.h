/* The host's network configuration, read and changed through rtnetlink
 * (libmnl) and /proc/sys.  Everything the switch changes on the host goes
 * through here so that it can be recorded first and undone later: the
 * daemon saves a struct hn_ifconfig / struct hn_sysctls to its state file
 * BEFORE it changes anything, and restores them from there.
 *
 * All functions return 0 (or a count) on success and a negative errno on
 * failure; output parameters are written only on success.  Not thread-safe:
 * one netlink socket, used from the daemon's one thread.  Everything works in
 * the network namespace the daemon runs in.
 */
#ifndef VS_HOSTNET_H
#define VS_HOSTNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

int hn_init(void);
void hn_fini(void);

struct hn_link {
	int ifindex;
	char name[16];
	uint8_t mac[6];
	unsigned mtu;
	unsigned flags;	     /* IFF_UP, IFF_RUNNING, IFF_LOOPBACK ... */
	unsigned short type; /* ARPHRD_ETHER, ARPHRD_LOOPBACK ... */
	char kind[16];	     /* IFLA_INFO_KIND: "veth", "tun", "bridge", "" */
	int master;	     /* IFLA_MASTER ifindex, 0 if none */
	/* The kernel's counters (IFLA_STATS64), filled by hn_link_get_stats()
	 * only. */
	uint64_t rx_packets, tx_packets, tx_dropped;
};

/* Look up a link by name: -ENODEV if there is none. */
int hn_link_get(const char *name, struct hn_link *out);
int hn_link_get_by_index(int ifindex, struct hn_link *out);
/* hn_link_get() with the link's counters. */
int hn_link_get_stats(const char *name, struct hn_link *out);
int hn_link_set_up(int ifindex, bool up);
int hn_link_set_mtu(int ifindex, unsigned mtu);
int hn_link_set_mac(int ifindex, const uint8_t mac[6]);
int hn_link_del(int ifindex);

struct hn_addr {
	int family;	    /* AF_INET or AF_INET6 */
	uint8_t addr[16];   /* 4 or 16 bytes used */
	uint8_t prefixlen;
	uint8_t scope;	    /* RT_SCOPE_UNIVERSE ... */
	uint32_t flags;	    /* IFA_F_NOPREFIXROUTE and the like; IFA_F_PERMANENT etc. dropped */
	bool has_broadcast;
	uint8_t broadcast[4];
};

struct hn_route {
	int family;
	uint8_t dst[16];
	uint8_t dst_len;
	bool has_gateway;
	uint8_t gateway[16];
	bool has_prefsrc;
	uint8_t prefsrc[16];
	uint32_t table;	   /* RT_TABLE_MAIN ... (never RT_TABLE_LOCAL) */
	uint32_t priority; /* metric */
	uint8_t protocol;  /* RTPROT_BOOT, RTPROT_STATIC, RTPROT_DHCP ... */
	uint8_t scope;
	uint8_t type;	   /* RTN_UNICAST, RTN_BLACKHOLE ... */
	uint32_t mtu;	   /* RTAX_MTU, 0 if unset */
};

/* What the host's IP stack has on one interface. */
struct hn_ifconfig {
	struct hn_addr *addrs;
	size_t n_addrs;
	struct hn_route *routes;
	size_t n_routes;
};

/* Read the addresses and routes that belong to the user on an interface:
 * - IPv4 addresses; IPv6 addresses except link-local (fe80::/10) and except
 *   addresses the kernel made itself (SLAAC: IFA_F_MANAGETEMPADDR/temporary,
 *   or a finite valid lifetime from autoconf);
 * - routes whose output interface is this one, in every table but the local
 *   one, except the ones the kernel creates by itself (protocol kernel:
 *   connected prefixes, fe80::/64, multicast; cloned/cached routes) and
 *   router-advertisement routes (protocol ra).  Multipath routes that use
 *   the interface are skipped with a warning in the log.
 * out must be freed with hn_ifconfig_free(). */
int hn_ifconfig_get(int ifindex, struct hn_ifconfig *out);
void hn_ifconfig_free(struct hn_ifconfig *c);

/* Add the addresses, then the routes (those without a gateway first), to an
 * interface.  All or nothing: on failure what was added is removed again and
 * the error returned.  An address or route that already exists there counts
 * as added (-EEXIST is not an error). */
int hn_ifconfig_apply(int ifindex, const struct hn_ifconfig *c);

/* Remove these routes and addresses from an interface.  Best effort: goes on
 * past -ENOENT/-ESRCH/-EADDRNOTAVAIL, returns the first other error. */
int hn_ifconfig_remove(int ifindex, const struct hn_ifconfig *c);

/* Serialise for the state file and back.  from_json checks every field and
 * returns -EINVAL for anything malformed (the state file is input too). */
json_t *hn_ifconfig_to_json(const struct hn_ifconfig *c);
int hn_ifconfig_from_json(const json_t *j, struct hn_ifconfig *out);

/* The per-interface settings the switch changes on an attached interface so
 * that the host's own IP stack stays off it. */
/* Per-interface settings the switch changes and gives back (sysctls, and
 * one ethtool feature). */
struct hn_sysctls {
	int arp_ignore;	   /* net.ipv4.conf.IF.arp_ignore */
	int disable_ipv6;  /* net.ipv6.conf.IF.disable_ipv6; -1 if IPv6 is absent */
	int gro;	   /* generic receive offload (ethtool -K IF gro): 0 or 1;
			    * -1: the device cannot say, or leave it alone */
};
int hn_sysctls_get(const char *ifname, struct hn_sysctls *out);
int hn_sysctls_set(const char *ifname, const struct hn_sysctls *s);
json_t *hn_sysctls_to_json(const struct hn_sysctls *s);
int hn_sysctls_from_json(const json_t *j, struct hn_sysctls *out);

/* Link events: a netlink socket subscribed to RTNLGRP_LINK.  hn_monitor_fd()
 * is the fd to poll; hn_monitor_read() drains it and calls fn for every link
 * that was added/changed (gone = false) or deleted (gone = true). */
int hn_monitor_open(void);
int hn_monitor_fd(void);
int hn_monitor_read(void (*fn)(void *arg, const struct hn_link *l, bool gone), void *arg);
void hn_monitor_close(void);

#endif
