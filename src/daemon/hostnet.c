/* The host's network configuration through rtnetlink (libmnl) and /proc/sys.
 *
 * One request socket (nl) carries every request; replies are read to the end
 * before the next request goes out, so that the socket never holds a stale
 * reply.  When that cannot be guaranteed (a read error, an interrupted dump,
 * a reply that does not match) the socket is replaced by a fresh one rather
 * than trying to guess what is left in it.  A second socket (mon) only
 * listens to link events.
 */
#include "hostnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "util.h"

/* A dump reply comes in skbs the kernel sizes after the largest buffer we
 * ever passed to recvmsg, up to 32 KiB; a smaller buffer truncates them.
 * (libmnl >= 1.0.5 calls this MNL_SOCKET_DUMP_SIZE.) */
#define NL_BUF_SIZE 32768

/* Requests are one fixed header and a handful of addresses and integers. */
#define NL_REQ_SIZE 1024

/* The kernel's INFINITY_LIFE_TIME, which is not in the uapi headers. */
#define LIFETIME_INFINITE 0xFFFFFFFFu

/* Address flags that are configuration and therefore saved and restored.
 * The rest is state the kernel keeps (permanent, tentative, deprecated,
 * dadfailed, optimistic, secondary...) and cannot be set from outside. */
#define ADDR_FLAGS_KEPT (IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN)

/* Times a dump is restarted when the kernel reports that the table changed
 * while it was being dumped. */
#define DUMP_TRIES 4

static struct mnl_socket *nl;
static unsigned nl_portid;
static uint32_t nl_seq;
static bool nl_inited;
static uint8_t nl_buf[NL_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
/* The kernel's own words about the last failed request (extended ACK). */
static char nl_errmsg[160];

static struct mnl_socket *mon;
/* Separate from nl_buf: the monitor callback may well call hn_link_get(). */
static uint8_t mon_buf[NL_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));

/* ---- Socket and request/reply ---- */

static int nl_open(void)
{
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	/* Error messages from the kernel, without the echo of our request.
	 * Older kernels do not know these; the errno alone then has to do. */
	int one = 1;
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;
		mnl_socket_close(nl);
		nl = NULL;
		return err;
	}
	nl_portid = mnl_socket_get_portid(nl);
	return 0;
}

static void nl_reset(void)
{
	/* Whatever is left of the reply is garbage now.  A new socket is the
	 * only sure way to be rid of it; if opening one fails, the next
	 * request tries again. */
	mnl_socket_close(nl);
	nl = NULL;
	int err = nl_open();
	if (err < 0)
		log_warn("hostnet: cannot reopen the netlink socket: %s", strerror(-err));
}

int hn_init(void)
{
	if (nl_inited)
		return 0;
	int err = nl_open();
	if (err < 0)
		return err;
	nl_inited = true;
	return 0;
}

void hn_fini(void)
{
	if (nl)
		mnl_socket_close(nl);
	nl = NULL;
	nl_inited = false;
}

struct talk {
	int (*cb)(const struct nlmsghdr *nlh, void *arg);
	void *arg;
	int cb_err; /* first error the callback returned */
	int nl_err; /* positive errno the kernel answered with */
};

static int talk_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;

	/* Never stop early: the rest of the reply must still be read off the
	 * socket, or the next request would find it there. */
	if (t->cb && t->cb_err == 0)
		t->cb_err = t->cb(nlh, t->arg);
	return MNL_CB_OK;
}

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	(void)data;
	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(nl_errmsg, sizeof(nl_errmsg), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int talk_error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP; /* the ACK */
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = sizeof(*e);
		/* Unless capped, our request is echoed before the TLVs. */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= sizeof(e->msg))
			off += e->msg.nlmsg_len - sizeof(e->msg);
		if (off < mnl_nlmsg_get_payload_len(nlh))
			mnl_attr_parse(nlh, (unsigned)off, extack_attr_cb, NULL);
	}
	t->nl_err = e->error < 0 ? -e->error : e->error;
	errno = t->nl_err;
	return MNL_CB_ERROR;
}

static int talk_done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	int err = 0;

	/* A dump that failed in the kernel ends with a DONE that carries the
	 * error (libmnl's default handler would ignore it). */
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		t->nl_err = -err;
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/* Send one request and read its whole reply, calling cb for every data
 * message.  Returns 0, the error the kernel answered with, or the first error
 * cb returned.  -EINTR means that a dump was interrupted and must be redone. */
static int nl_talk(struct nlmsghdr *nlh, int (*cb)(const struct nlmsghdr *, void *), void *arg)
{
	/* Not const: libmnl's prototype wants a plain pointer. */
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = talk_error_cb,
		[NLMSG_DONE] = talk_done_cb,
	};
	struct talk t = { .cb = cb, .arg = arg };
	int err;

	if (!nl_inited)
		return -ENOTCONN;
	if (!nl) {
		err = nl_open();
		if (err < 0)
			return err;
	}
	/* A dump ends with DONE; anything else is made to end with an ACK so
	 * that we know when the reply is complete. */
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (++nl_seq == 0)
		nl_seq = 1;
	nlh->nlmsg_seq = nl_seq;
	nl_errmsg[0] = '\0';

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, nl_buf, sizeof(nl_buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto reset;
		}
		int ret = mnl_cb_run2(nl_buf, (size_t)n, nl_seq, nl_portid, talk_data_cb, &t, ctl,
				      ARRAY_SIZE(ctl));
		if (ret == MNL_CB_OK)
			continue;
		if (ret == MNL_CB_STOP)
			return t.cb_err;
		if (t.nl_err)
			return -t.nl_err; /* the kernel's answer: the reply is complete */
		/* EINTR (dump interrupted), EPROTO/ESRCH (not our reply) or
		 * EBADMSG: the rest of the reply is still queued. */
		err = -errno;
		goto reset;
	}
reset:
	nl_reset();
	return err;
}

static struct nlmsghdr *nl_req(void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	return nlh;
}

/* ---- Attribute helpers ---- */

struct attr_table {
	const struct nlattr **tb;
	unsigned max;
};

static int attr_table_cb(const struct nlattr *attr, void *data)
{
	struct attr_table *t = data;
	unsigned type = mnl_attr_get_type(attr);

	/* Attributes newer than our headers are none of our business. */
	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static int parse_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb,
		       unsigned max)
{
	struct attr_table t = { tb, max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_nlmsg_get_payload_len(nlh) < hdrlen)
		return -EBADMSG;
	mnl_attr_parse(nlh, (unsigned)hdrlen, attr_table_cb, &t);
	return 0;
}

static void parse_nested(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	struct attr_table t = { tb, max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	mnl_attr_parse_nested(nest, attr_table_cb, &t);
}

static bool attr_u32(const struct nlattr *attr, uint32_t *v)
{
	if (!attr || mnl_attr_get_payload_len(attr) < sizeof(uint32_t))
		return false;
	*v = mnl_attr_get_u32(attr);
	return true;
}

/* An attribute of exactly len bytes (an address of the right family). */
static bool attr_bytes(const struct nlattr *attr, void *dst, size_t len)
{
	if (!attr || mnl_attr_get_payload_len(attr) != len)
		return false;
	memcpy(dst, mnl_attr_get_payload(attr), len);
	return true;
}

/* A string attribute that fits in size bytes with its NUL. */
static bool attr_str(const struct nlattr *attr, char *dst, size_t size)
{
	if (!attr)
		return false;
	const char *s = mnl_attr_get_payload(attr);
	size_t n = strnlen(s, mnl_attr_get_payload_len(attr));
	if (n >= size)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static const char *ip_str(int family, const uint8_t *a, char buf[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(family, a, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "?");
	return buf;
}

/* For log messages: "10.0.0.0/8 via 10.1.0.1 table 100 metric 5". */
static const char *route_str(const struct hn_route *r, char *buf, size_t size)
{
	char dst[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN];

	ip_str(r->family, r->dst, dst);
	snprintf(buf, size, "%s/%u%s%s table %u metric %u", dst, r->dst_len,
		 r->has_gateway ? " via " : "", r->has_gateway ? ip_str(r->family, r->gateway, gw) : "",
		 r->table, r->priority);
	return buf;
}

/* " (what the kernel said)", or nothing if it said nothing. */
static const char *errmsg_suffix(char *buf, size_t size)
{
	if (nl_errmsg[0])
		snprintf(buf, size, " (%s)", nl_errmsg);
	else
		buf[0] = '\0';
	return buf;
}

/* ---- Links ---- */

static int parse_link(const struct nlmsghdr *nlh, struct hn_link *l)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	uint32_t v;

	if (parse_attrs(nlh, sizeof(*ifi), tb, IFLA_MAX) < 0)
		return -EBADMSG;
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	l->type = ifi->ifi_type;
	if (!attr_str(tb[IFLA_IFNAME], l->name, sizeof(l->name)))
		return -EBADMSG;
	/* Only Ethernet-like links have a 6-byte address; the rest (tun, ipip,
	 * none at all) read as all zeroes. */
	attr_bytes(tb[IFLA_ADDRESS], l->mac, sizeof(l->mac));
	if (attr_u32(tb[IFLA_MTU], &v))
		l->mtu = v;
	if (attr_u32(tb[IFLA_MASTER], &v))
		l->master = (int)v;
	if (tb[IFLA_STATS64] &&
	    mnl_attr_get_payload_len(tb[IFLA_STATS64]) >= sizeof(struct rtnl_link_stats64)) {
		struct rtnl_link_stats64 st;
		memcpy(&st, mnl_attr_get_payload(tb[IFLA_STATS64]), sizeof(st));
		l->rx_packets = st.rx_packets;
		l->tx_packets = st.tx_packets;
		l->tx_dropped = st.tx_dropped;
	}
	if (tb[IFLA_LINKINFO]) {
		const struct nlattr *info[IFLA_INFO_MAX + 1];
		parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
		if (!attr_str(info[IFLA_INFO_KIND], l->kind, sizeof(l->kind)))
			l->kind[0] = '\0';
	}
	return 0;
}

struct link_ctx {
	struct hn_link link;
	bool found;
};

static int link_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct link_ctx *ctx = arg;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	int err = parse_link(nlh, &ctx->link);
	if (err < 0)
		return err;
	ctx->found = true;
	return 0;
}

static int link_get(int ifindex, const char *name, bool stats, struct hn_link *out)
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct link_ctx ctx = { .found = false };

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	/* Counters are a large part of the message, wanted only by
	 * hn_link_get_stats(). */
	if (!stats)
		mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	int err = nl_talk(nlh, link_cb, &ctx);
	if (err < 0)
		return err;
	if (!ctx.found)
		return -EBADMSG;
	*out = ctx.link;
	return 0;
}

static int link_get_by_name(const char *name, bool stats, struct hn_link *out)
{
	if (!name || !out)
		return -EINVAL;
	size_t len = strnlen(name, IFNAMSIZ);
	/* A name that is no valid interface name names no interface. */
	if (len == 0 || len >= IFNAMSIZ)
		return -ENODEV;
	return link_get(0, name, stats, out);
}

int hn_link_get(const char *name, struct hn_link *out)
{
	return link_get_by_name(name, false, out);
}

int hn_link_get_stats(const char *name, struct hn_link *out)
{
	return link_get_by_name(name, true, out);
}

int hn_link_get_by_index(int ifindex, struct hn_link *out)
{
	if (!out)
		return -EINVAL;
	if (ifindex <= 0)
		return -ENODEV;
	return link_get(ifindex, NULL, false, out);
}

static struct nlmsghdr *link_req(void *buf, uint16_t type, int ifindex, struct ifinfomsg **ifi)
{
	struct nlmsghdr *nlh = nl_req(buf, type, 0);

	*ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifi));
	(*ifi)->ifi_family = AF_UNSPEC;
	(*ifi)->ifi_index = ifindex;
	return nlh;
}

int hn_link_set_up(int ifindex, bool up)
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return -ENODEV;
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, ifindex, &ifi);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return nl_talk(nlh, NULL, NULL);
}

int hn_link_set_mtu(int ifindex, unsigned mtu)
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return -ENODEV;
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, ifindex, &ifi);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(nlh, NULL, NULL);
}

int hn_link_set_mac(int ifindex, const uint8_t mac[6])
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct ifinfomsg *ifi;

	if (!mac)
		return -EINVAL;
	if (ifindex <= 0)
		return -ENODEV;
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, ifindex, &ifi);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	return nl_talk(nlh, NULL, NULL);
}

int hn_link_del(int ifindex)
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return -ENODEV;
	struct nlmsghdr *nlh = link_req(buf, RTM_DELLINK, ifindex, &ifi);
	return nl_talk(nlh, NULL, NULL);
}

/* ---- Validation shared by apply, remove and from_json ---- */

static int addr_check(const struct hn_addr *a)
{
	size_t alen = family_len(a->family);

	if (!alen || a->prefixlen > alen * 8)
		return -EINVAL;
	if (a->flags & ~(uint32_t)ADDR_FLAGS_KEPT)
		return -EINVAL;
	if (a->has_broadcast && a->family != AF_INET)
		return -EINVAL;
	return 0;
}

static int route_check(const struct hn_route *r)
{
	size_t alen = family_len(r->family);

	if (!alen || r->dst_len > alen * 8)
		return -EINVAL;
	/* No host bits below the prefix: IPv4 refuses such a route and IPv6
	 * would quietly make it a different one. */
	for (unsigned bit = r->dst_len; bit < alen * 8; bit++)
		if (r->dst[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	if (r->table == RT_TABLE_UNSPEC || r->table == RT_TABLE_LOCAL)
		return -EINVAL;
	if (r->type == RTN_UNSPEC || r->type > RTN_MAX || r->type == RTN_MULTICAST)
		return -EINVAL;
	return 0;
}

static int ifconfig_check(const struct hn_ifconfig *c)
{
	if ((c->n_addrs && !c->addrs) || (c->n_routes && !c->routes))
		return -EINVAL;
	for (size_t i = 0; i < c->n_addrs; i++)
		if (addr_check(&c->addrs[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < c->n_routes; i++)
		if (route_check(&c->routes[i]) < 0)
			return -EINVAL;
	return 0;
}

/* ---- Reading addresses and routes ---- */

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = reallocarray(*v, ncap, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

static bool ipv6_link_local(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* 1 if the message is an address of ifindex that the user configured, 0 if
 * not, or a negative errno. */
static int parse_addr(const struct nlmsghdr *nlh, int ifindex, struct hn_addr *a)
{
	const struct nlattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	char s[INET6_ADDRSTRLEN];

	if (nlh->nlmsg_type != RTM_NEWADDR || parse_attrs(nlh, sizeof(*ifa), tb, IFA_MAX) < 0)
		return 0;
	/* The dump has every interface's addresses unless the socket asks
	 * for strict checking; filtering here works either way. */
	if ((int)ifa->ifa_index != ifindex)
		return 0;
	size_t alen = family_len(ifa->ifa_family);
	if (!alen)
		return 0;

	memset(a, 0, sizeof(*a));
	a->family = ifa->ifa_family;
	a->prefixlen = ifa->ifa_prefixlen;
	a->scope = ifa->ifa_scope;
	/* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on a
	 * point-to-point link and the same as IFA_LOCAL elsewhere.  IPv6 sends
	 * only IFA_ADDRESS unless there is a peer. */
	if (!attr_bytes(tb[IFA_LOCAL], a->addr, alen) && !attr_bytes(tb[IFA_ADDRESS], a->addr, alen))
		return -EBADMSG;
	uint32_t flags = ifa->ifa_flags;
	/* ifa_flags has room for the first eight flags only. */
	attr_u32(tb[IFA_FLAGS], &flags);

	if (a->family == AF_INET6) {
		if (ipv6_link_local(a->addr))
			return 0;
		if (flags & (IFA_F_TEMPORARY | IFA_F_MANAGETEMPADDR))
			return 0;
		/* SLAAC addresses expire; the ones the user adds are
		 * permanent unless given a lifetime on purpose. */
		if (!(flags & IFA_F_PERMANENT) && tb[IFA_CACHEINFO] &&
		    mnl_attr_get_payload_len(tb[IFA_CACHEINFO]) >= sizeof(struct ifa_cacheinfo)) {
			const struct ifa_cacheinfo *ci = mnl_attr_get_payload(tb[IFA_CACHEINFO]);
			if (ci->ifa_valid != LIFETIME_INFINITE)
				return 0;
		}
#ifdef IFAPROT_KERNEL_LO
		/* Newer kernels say outright which ones they made. */
		if (tb[IFA_PROTO] && mnl_attr_get_payload_len(tb[IFA_PROTO]) >= 1) {
			uint8_t proto = mnl_attr_get_u8(tb[IFA_PROTO]);
			if (proto == IFAPROT_KERNEL_LO || proto == IFAPROT_KERNEL_RA ||
			    proto == IFAPROT_KERNEL_LL)
				return 0;
		}
#endif
	} else {
		uint8_t peer[4];
		if (tb[IFA_LOCAL] && attr_bytes(tb[IFA_ADDRESS], peer, sizeof(peer)) &&
		    memcmp(peer, a->addr, sizeof(peer)) != 0)
			log_warn("hostnet: ifindex %d: the peer of %s is not saved", ifindex,
				 ip_str(AF_INET, a->addr, s));
		a->has_broadcast = attr_bytes(tb[IFA_BROADCAST], a->broadcast, 4);
	}
	a->flags = flags & ADDR_FLAGS_KEPT;
	return 1;
}

struct addr_ctx {
	int ifindex;
	struct hn_addr *v;
	size_t n, cap;
};

static int addr_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct addr_ctx *ctx = arg;
	struct hn_addr a;

	int ret = parse_addr(nlh, ctx->ifindex, &a);
	if (ret <= 0)
		return ret;
	if (grow((void **)&ctx->v, &ctx->cap, ctx->n, sizeof(*ctx->v)) < 0)
		return -ENOMEM;
	ctx->v[ctx->n++] = a;
	return 0;
}

static bool multipath_uses(const struct nlattr *mp, int ifindex)
{
	const char *p = mnl_attr_get_payload(mp);
	size_t len = mnl_attr_get_payload_len(mp);

	while (len >= sizeof(struct rtnexthop)) {
		const struct rtnexthop *nh = (const struct rtnexthop *)p;
		if (nh->rtnh_len < sizeof(*nh) || nh->rtnh_len > len)
			break;
		if (nh->rtnh_ifindex == ifindex)
			return true;
		size_t step = RTNH_ALIGN(nh->rtnh_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return false;
}

/* 1 if the message is a route through ifindex that the user configured, 0 if
 * not, or a negative errno. */
static int parse_route(const struct nlmsghdr *nlh, int ifindex, struct hn_route *r)
{
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	char s[128];

	if (nlh->nlmsg_type != RTM_NEWROUTE || parse_attrs(nlh, sizeof(*rtm), tb, RTA_MAX) < 0)
		return 0;
	size_t alen = family_len(rtm->rtm_family);
	if (!alen || rtm->rtm_dst_len > alen * 8)
		return 0;

	memset(r, 0, sizeof(*r));
	r->family = rtm->rtm_family;
	r->dst_len = rtm->rtm_dst_len;
	r->table = rtm->rtm_table;
	attr_u32(tb[RTA_TABLE], &r->table); /* rtm_table stops at 255 */
	r->protocol = rtm->rtm_protocol;
	r->scope = rtm->rtm_scope;
	r->type = rtm->rtm_type;
	attr_bytes(tb[RTA_DST], r->dst, alen);
	attr_u32(tb[RTA_PRIORITY], &r->priority);

	/* What the kernel keeps up by itself comes back by itself. */
	if (r->table == RT_TABLE_LOCAL || (rtm->rtm_flags & RTM_F_CLONED) ||
	    r->protocol == RTPROT_KERNEL || r->protocol == RTPROT_RA || r->type == RTN_MULTICAST)
		return 0;
	if (tb[RTA_MULTIPATH]) {
		if (multipath_uses(tb[RTA_MULTIPATH], ifindex))
			log_warn("hostnet: ifindex %d: multipath route %s is not saved", ifindex,
				 route_str(r, s, sizeof(s)));
		return 0;
	}
	uint32_t oif;
	if (!attr_u32(tb[RTA_OIF], &oif) || oif != (uint32_t)ifindex)
		return 0;
	/* Ours, but more than struct hn_route can say: restoring it without
	 * the rest would make it a different route. */
	if (tb[RTA_NH_ID] || tb[RTA_VIA] || tb[RTA_ENCAP] || tb[RTA_SRC] || rtm->rtm_src_len ||
	    rtm->rtm_tos) {
		log_warn("hostnet: ifindex %d: route %s uses a nexthop object, an encapsulation, a "
			 "source prefix or a TOS and is not saved",
			 ifindex, route_str(r, s, sizeof(s)));
		return 0;
	}
	r->has_gateway = attr_bytes(tb[RTA_GATEWAY], r->gateway, alen);
	r->has_prefsrc = attr_bytes(tb[RTA_PREFSRC], r->prefsrc, alen);
	if (tb[RTA_METRICS]) {
		const struct nlattr *mx[RTAX_MAX + 1];
		parse_nested(tb[RTA_METRICS], mx, RTAX_MAX);
		attr_u32(mx[RTAX_MTU], &r->mtu);
	}
	if (rtm->rtm_flags & RTNH_F_ONLINK)
		log_warn("hostnet: ifindex %d: route %s is onlink; that flag is not saved", ifindex,
			 route_str(r, s, sizeof(s)));
	return 1;
}

struct route_ctx {
	int ifindex;
	struct hn_route *v;
	size_t n, cap;
};

static int route_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct route_ctx *ctx = arg;
	struct hn_route r;

	int ret = parse_route(nlh, ctx->ifindex, &r);
	if (ret <= 0)
		return ret;
	if (grow((void **)&ctx->v, &ctx->cap, ctx->n, sizeof(*ctx->v)) < 0)
		return -ENOMEM;
	ctx->v[ctx->n++] = r;
	return 0;
}

static int dump_addrs(struct addr_ctx *ctx)
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_UNSPEC;
	ifa->ifa_index = (uint32_t)ctx->ifindex;
	return nl_talk(nlh, addr_cb, ctx);
}

static int dump_routes(int family, struct route_ctx *ctx)
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)family;
	return nl_talk(nlh, route_cb, ctx);
}

static int ifconfig_read(int ifindex, struct hn_ifconfig *out)
{
	struct addr_ctx ac = { .ifindex = ifindex };
	struct route_ctx rc = { .ifindex = ifindex };
	int err;

	err = dump_addrs(&ac);
	if (err < 0)
		goto free_lists;
	err = dump_routes(AF_INET, &rc);
	if (err < 0)
		goto free_lists;
	err = dump_routes(AF_INET6, &rc);
	if (err < 0)
		goto free_lists;
	out->addrs = ac.v;
	out->n_addrs = ac.n;
	out->routes = rc.v;
	out->n_routes = rc.n;
	return 0;

free_lists:
	free(ac.v);
	free(rc.v);
	return err;
}

int hn_ifconfig_get(int ifindex, struct hn_ifconfig *out)
{
	struct hn_link l;
	struct hn_ifconfig c;
	int err;

	if (!out)
		return -EINVAL;
	/* Otherwise a missing interface would read as one with nothing on it. */
	err = hn_link_get_by_index(ifindex, &l);
	if (err < 0)
		return err;
	for (int tries = 0; tries < DUMP_TRIES; tries++) {
		err = ifconfig_read(ifindex, &c);
		if (err != -EINTR)
			break;
	}
	if (err == -EINTR)
		return -EAGAIN; /* the tables kept changing under us */
	if (err < 0)
		return err;
	*out = c;
	return 0;
}

void hn_ifconfig_free(struct hn_ifconfig *c)
{
	if (!c)
		return;
	free(c->addrs);
	free(c->routes);
	memset(c, 0, sizeof(*c));
}

/* ---- Changing addresses and routes ---- */

static int addr_change(uint16_t type, int ifindex, const struct hn_addr *a)
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	size_t alen = family_len(a->family);
	/* EXCL: -EEXIST then means that the address is on this interface
	 * already (addresses are per interface), which apply must know so as
	 * not to take it away again when it rolls back. */
	struct nlmsghdr *nlh = nl_req(buf, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = a->prefixlen;
	ifa->ifa_flags = (uint8_t)a->flags;
	ifa->ifa_scope = a->scope;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, a->addr);
	if (type == RTM_NEWADDR) {
		struct ifa_cacheinfo ci = {
			.ifa_prefered = LIFETIME_INFINITE,
			.ifa_valid = LIFETIME_INFINITE,
		};
		mnl_attr_put_u32(nlh, IFA_FLAGS, a->flags);
		if (a->has_broadcast)
			mnl_attr_put(nlh, IFA_BROADCAST, 4, a->broadcast);
		mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
	}
	return nl_talk(nlh, NULL, NULL);
}

static int route_change(uint16_t type, int ifindex, const struct hn_route *r)
{
	uint8_t buf[NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	size_t alen = family_len(r->family);
	bool add = type == RTM_NEWROUTE;
	/* CREATE without EXCL: -EEXIST then means that this very route (same
	 * nexthop) exists.  With EXCL, IPv4 says -EEXIST for any route to the
	 * same prefix and metric, even one through another interface. */
	struct nlmsghdr *nlh = nl_req(buf, type, add ? NLM_F_CREATE : 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)r->family;
	rtm->rtm_dst_len = r->dst_len;
	rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_type = r->type;
	/* A delete matches on what identifies the route; scope "nowhere" and
	 * protocol 0 match any. */
	rtm->rtm_protocol = add ? r->protocol : 0;
	rtm->rtm_scope = add ? r->scope : RT_SCOPE_NOWHERE;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	mnl_attr_put(nlh, RTA_DST, alen, r->dst);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, r->priority);
	if (r->has_gateway)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, r->gateway);
	if (add && r->has_prefsrc)
		mnl_attr_put(nlh, RTA_PREFSRC, alen, r->prefsrc);
	if (add && r->mtu) {
		struct nlattr *mx = mnl_attr_nest_start(nlh, RTA_METRICS);
		mnl_attr_put_u32(nlh, RTAX_MTU, r->mtu);
		mnl_attr_nest_end(nlh, mx);
	}
	return nl_talk(nlh, NULL, NULL);
}

/* The order routes go in: those without a gateway first, because the gateway
 * of the others may be reachable only through them.  Position i of the
 * order is route route_at(c, i). */
static size_t route_at(const struct hn_ifconfig *c, size_t i)
{
	size_t k = 0;

	for (int gw = 0; gw <= 1; gw++)
		for (size_t j = 0; j < c->n_routes; j++)
			if (c->routes[j].has_gateway == (bool)gw && k++ == i)
				return j;
	return 0; /* not reached for i < n_routes */
}

int hn_ifconfig_apply(int ifindex, const struct hn_ifconfig *c)
{
	char s[128], e[sizeof(nl_errmsg) + 4], ip[INET6_ADDRSTRLEN];
	size_t na = 0, nr = 0;
	int err;

	if (!c)
		return -EINVAL;
	if (ifindex <= 0)
		return -ENODEV;
	err = ifconfig_check(c);
	if (err < 0)
		return err;
	/* Which ones we added, as opposed to found there: only those are
	 * taken away again on failure. */
	bool *added = calloc(c->n_addrs + c->n_routes + 1, sizeof(*added));
	if (!added)
		return -ENOMEM;
	bool *route_added = added + c->n_addrs;

	for (na = 0; na < c->n_addrs; na++) {
		const struct hn_addr *a = &c->addrs[na];
		err = addr_change(RTM_NEWADDR, ifindex, a);
		if (err == -EEXIST)
			continue;
		if (err < 0) {
			log_warn("hostnet: cannot add %s/%u to ifindex %d: %s%s",
				 ip_str(a->family, a->addr, ip), a->prefixlen, ifindex,
				 strerror(-err), errmsg_suffix(e, sizeof(e)));
			goto undo_addrs;
		}
		added[na] = true;
	}
	for (nr = 0; nr < c->n_routes; nr++) {
		size_t i = route_at(c, nr);
		err = route_change(RTM_NEWROUTE, ifindex, &c->routes[i]);
		if (err == -EEXIST)
			continue;
		if (err < 0) {
			log_warn("hostnet: cannot add route %s to ifindex %d: %s%s",
				 route_str(&c->routes[i], s, sizeof(s)), ifindex, strerror(-err),
				 errmsg_suffix(e, sizeof(e)));
			goto undo_routes;
		}
		route_added[i] = true;
	}
	free(added);
	return 0;

undo_routes:
	/* Backwards: gateway routes go before the routes they resolve
	 * through. */
	while (nr-- > 0) {
		size_t i = route_at(c, nr);
		if (route_added[i] && route_change(RTM_DELROUTE, ifindex, &c->routes[i]) < 0)
			log_warn("hostnet: rollback: cannot remove route %s from ifindex %d",
				 route_str(&c->routes[i], s, sizeof(s)), ifindex);
	}
undo_addrs:
	while (na-- > 0) {
		const struct hn_addr *a = &c->addrs[na];
		if (added[na] && addr_change(RTM_DELADDR, ifindex, a) < 0)
			log_warn("hostnet: rollback: cannot remove %s/%u from ifindex %d",
				 ip_str(a->family, a->addr, ip), a->prefixlen, ifindex);
	}
	free(added);
	return err;
}

static bool already_gone(int err)
{
	return err == -ENOENT || err == -ESRCH || err == -EADDRNOTAVAIL;
}

int hn_ifconfig_remove(int ifindex, const struct hn_ifconfig *c)
{
	int first = 0;

	if (!c)
		return -EINVAL;
	if (ifindex <= 0)
		return -ENODEV;
	int err = ifconfig_check(c);
	if (err < 0)
		return err;
	/* Routes before addresses (removing an address takes routes that use
	 * it along), and in the reverse of the order apply adds them. */
	for (size_t k = c->n_routes; k-- > 0;) {
		err = route_change(RTM_DELROUTE, ifindex, &c->routes[route_at(c, k)]);
		if (err < 0 && !already_gone(err) && !first)
			first = err;
	}
	for (size_t i = c->n_addrs; i-- > 0;) {
		err = addr_change(RTM_DELADDR, ifindex, &c->addrs[i]);
		if (err < 0 && !already_gone(err) && !first)
			first = err;
	}
	return first;
}

/* ---- JSON ---- */

static const char *family_name(int family)
{
	return family == AF_INET ? "inet" : "inet6";
}

static json_t *ip_json(int family, const uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, a, buf, sizeof(buf)))
		return NULL;
	return json_string(buf);
}

/* json_object_set_new() takes the value over even when it fails (and fails
 * on a NULL value), so a chain of these needs no cleanup but the object. */
static json_t *addr_to_json(const struct hn_addr *a)
{
	json_t *o = json_object();

	if (json_object_set_new(o, "family", json_string(family_name(a->family))) < 0 ||
	    json_object_set_new(o, "address", ip_json(a->family, a->addr)) < 0 ||
	    json_object_set_new(o, "prefixlen", json_integer(a->prefixlen)) < 0 ||
	    json_object_set_new(o, "scope", json_integer(a->scope)) < 0 ||
	    json_object_set_new(o, "flags", json_integer(a->flags)) < 0 ||
	    (a->has_broadcast &&
	     json_object_set_new(o, "broadcast", ip_json(AF_INET, a->broadcast)) < 0))
		goto free_object;
	return o;

free_object:
	json_decref(o);
	return NULL;
}

static json_t *route_to_json(const struct hn_route *r)
{
	json_t *o = json_object();

	if (json_object_set_new(o, "family", json_string(family_name(r->family))) < 0 ||
	    json_object_set_new(o, "dst", ip_json(r->family, r->dst)) < 0 ||
	    json_object_set_new(o, "dst_len", json_integer(r->dst_len)) < 0 ||
	    (r->has_gateway &&
	     json_object_set_new(o, "gateway", ip_json(r->family, r->gateway)) < 0) ||
	    (r->has_prefsrc &&
	     json_object_set_new(o, "prefsrc", ip_json(r->family, r->prefsrc)) < 0) ||
	    json_object_set_new(o, "table", json_integer(r->table)) < 0 ||
	    json_object_set_new(o, "priority", json_integer(r->priority)) < 0 ||
	    json_object_set_new(o, "protocol", json_integer(r->protocol)) < 0 ||
	    json_object_set_new(o, "scope", json_integer(r->scope)) < 0 ||
	    json_object_set_new(o, "type", json_integer(r->type)) < 0 ||
	    json_object_set_new(o, "mtu", json_integer(r->mtu)) < 0)
		goto free_object;
	return o;

free_object:
	json_decref(o);
	return NULL;
}

json_t *hn_ifconfig_to_json(const struct hn_ifconfig *c)
{
	if (!c || ifconfig_check(c) < 0)
		return NULL;
	json_t *root = json_object();
	if (!root)
		return NULL;
	json_t *addrs = json_array();
	if (json_object_set_new(root, "addrs", addrs) < 0)
		goto free_root;
	json_t *routes = json_array();
	if (json_object_set_new(root, "routes", routes) < 0)
		goto free_root;
	/* append_new, like set_new, takes the element over even on failure. */
	for (size_t i = 0; i < c->n_addrs; i++)
		if (json_array_append_new(addrs, addr_to_json(&c->addrs[i])) < 0)
			goto free_root;
	for (size_t i = 0; i < c->n_routes; i++)
		if (json_array_append_new(routes, route_to_json(&c->routes[i])) < 0)
			goto free_root;
	return root;

free_root:
	json_decref(root);
	return NULL;
}

static int json_int_field(const json_t *o, const char *key, long long min, long long max,
			  long long *v)
{
	const json_t *x = json_object_get(o, key);

	if (!json_is_integer(x))
		return -EINVAL;
	json_int_t i = json_integer_value(x);
	if (i < min || i > max)
		return -EINVAL;
	*v = i;
	return 0;
}

static int json_family_field(const json_t *o, int *family)
{
	const char *s = json_string_value(json_object_get(o, "family"));

	if (!s)
		return -EINVAL;
	if (strcmp(s, "inet") == 0)
		*family = AF_INET;
	else if (strcmp(s, "inet6") == 0)
		*family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

/* An address string of the given family.  Absent is an error unless present
 * is given, which then says whether it was there. */
static int json_ip_field(const json_t *o, const char *key, int family, uint8_t *dst,
			 bool *present)
{
	const json_t *x = json_object_get(o, key);

	if (!x && present) {
		*present = false;
		return 0;
	}
	if (!json_is_string(x))
		return -EINVAL;
	const char *s = json_string_value(x);
	/* inet_pton() would stop at a NUL inside the string and accept what
	 * comes before it. */
	if (strlen(s) != json_string_length(x) || inet_pton(family, s, dst) != 1)
		return -EINVAL;
	if (present)
		*present = true;
	return 0;
}

static int addr_from_json(const json_t *o, struct hn_addr *a)
{
	long long prefixlen, scope, flags;

	if (!json_is_object(o))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	if (json_family_field(o, &a->family) < 0 ||
	    json_ip_field(o, "address", a->family, a->addr, NULL) < 0 ||
	    json_int_field(o, "prefixlen", 0, 128, &prefixlen) < 0 ||
	    json_int_field(o, "scope", 0, UINT8_MAX, &scope) < 0 ||
	    json_int_field(o, "flags", 0, UINT32_MAX, &flags) < 0)
		return -EINVAL;
	/* Only IPv4 has broadcast addresses; asking for one under inet6 is
	 * an error, not absent. */
	if (a->family == AF_INET) {
		if (json_ip_field(o, "broadcast", AF_INET, a->broadcast, &a->has_broadcast) < 0)
			return -EINVAL;
	} else if (json_object_get(o, "broadcast")) {
		return -EINVAL;
	}
	a->prefixlen = (uint8_t)prefixlen;
	a->scope = (uint8_t)scope;
	a->flags = (uint32_t)flags;
	return addr_check(a);
}

static int route_from_json(const json_t *o, struct hn_route *r)
{
	long long dst_len, table, priority, protocol, scope, type, mtu;

	if (!json_is_object(o))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (json_family_field(o, &r->family) < 0 ||
	    json_ip_field(o, "dst", r->family, r->dst, NULL) < 0 ||
	    json_int_field(o, "dst_len", 0, 128, &dst_len) < 0 ||
	    json_ip_field(o, "gateway", r->family, r->gateway, &r->has_gateway) < 0 ||
	    json_ip_field(o, "prefsrc", r->family, r->prefsrc, &r->has_prefsrc) < 0 ||
	    json_int_field(o, "table", 0, UINT32_MAX, &table) < 0 ||
	    json_int_field(o, "priority", 0, UINT32_MAX, &priority) < 0 ||
	    json_int_field(o, "protocol", 0, UINT8_MAX, &protocol) < 0 ||
	    json_int_field(o, "scope", 0, UINT8_MAX, &scope) < 0 ||
	    json_int_field(o, "type", 0, UINT8_MAX, &type) < 0 ||
	    json_int_field(o, "mtu", 0, UINT32_MAX, &mtu) < 0)
		return -EINVAL;
	r->dst_len = (uint8_t)dst_len;
	r->table = (uint32_t)table;
	r->priority = (uint32_t)priority;
	r->protocol = (uint8_t)protocol;
	r->scope = (uint8_t)scope;
	r->type = (uint8_t)type;
	r->mtu = (uint32_t)mtu;
	return route_check(r);
}

int hn_ifconfig_from_json(const json_t *j, struct hn_ifconfig *out)
{
	struct hn_ifconfig c = { 0 };
	int err = -EINVAL;

	if (!out || !json_is_object(j))
		return -EINVAL;
	const json_t *ja = json_object_get(j, "addrs");
	const json_t *jr = json_object_get(j, "routes");
	if (!json_is_array(ja) || !json_is_array(jr))
		return -EINVAL;

	size_t na = json_array_size(ja), nr = json_array_size(jr);
	if ((na && !(c.addrs = calloc(na, sizeof(*c.addrs)))) ||
	    (nr && !(c.routes = calloc(nr, sizeof(*c.routes))))) {
		err = -ENOMEM;
		goto free_config;
	}
	for (c.n_addrs = 0; c.n_addrs < na; c.n_addrs++) {
		err = addr_from_json(json_array_get(ja, c.n_addrs), &c.addrs[c.n_addrs]);
		if (err < 0)
			goto free_config;
	}
	for (c.n_routes = 0; c.n_routes < nr; c.n_routes++) {
		err = route_from_json(json_array_get(jr, c.n_routes), &c.routes[c.n_routes]);
		if (err < 0)
			goto free_config;
	}
	*out = c;
	return 0;

free_config:
	hn_ifconfig_free(&c);
	return err;
}

/* ---- Sysctls ---- */

/* Interface names end up in paths: nothing that could leave the directory
 * (and nothing the kernel would refuse as a name either). */
static bool ifname_ok(const char *name)
{
	if (!name)
		return false;
	size_t len = strnlen(name, IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == ':' || (unsigned char)name[i] <= ' ' ||
		    name[i] == 0x7f)
			return false;
	return true;
}

static void sysctl_path(char *buf, size_t size, const char *proto, const char *ifname,
			const char *leaf)
{
	snprintf(buf, size, "/proc/sys/net/%s/conf/%s/%s", proto, ifname, leaf);
}

static int sysctl_read(const char *path, int *v)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err < 0)
		return err;
	buf[n] = '\0';

	char *end;
	errno = 0;
	long x = strtol(buf, &end, 10);
	if (end == buf || (*end != '\0' && *end != '\n') || errno || x < INT_MIN || x > INT_MAX)
		return -EIO;
	*v = (int)x;
	return 0;
}

static int sysctl_write(const char *path, int v)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d\n", v);
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* A sysctl takes the value in one write or not at all. */
	ssize_t n = write(fd, buf, (size_t)len);
	int err = n < 0 ? -errno : n != len ? -EIO : 0;
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

/* GRO through the ethtool ioctl: cmd ETHTOOL_GGRO or ETHTOOL_SGRO. */
static int ethtool_gro(const char *ifname, uint32_t cmd, int *val)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ethtool_value ev = { .cmd = cmd, .data = cmd == ETHTOOL_SGRO ? (uint32_t)*val : 0 };
	struct ifreq ifr = { .ifr_data = (void *)&ev };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int r = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && cmd == ETHTOOL_GGRO)
		*val = ev.data ? 1 : 0;
	return r;
}

int hn_sysctls_get(const char *ifname, struct hn_sysctls *out)
{
	char path[128];
	struct hn_sysctls s;

	if (!out || !ifname_ok(ifname))
		return -EINVAL;
	sysctl_path(path, sizeof(path), "ipv4", ifname, "arp_ignore");
	int err = sysctl_read(path, &s.arp_ignore);
	if (err < 0)
		return err;
	sysctl_path(path, sizeof(path), "ipv6", ifname, "disable_ipv6");
	err = sysctl_read(path, &s.disable_ipv6);
	/* The interface exists (it has an ipv4 directory), so no ipv6 one
	 * means no IPv6 on it: booted without IPv6, or an MTU below 1280. */
	if (err == -ENOENT)
		s.disable_ipv6 = -1;
	else if (err < 0)
		return err;
	if (ethtool_gro(ifname, ETHTOOL_GGRO, &s.gro) < 0)
		s.gro = -1;
	*out = s;
	return 0;
}

int hn_sysctls_set(const char *ifname, const struct hn_sysctls *s)
{
	char path[128];
	int old;

	if (!s || !ifname_ok(ifname) || s->arp_ignore < 0 || s->disable_ipv6 < -1 || s->gro < -1 ||
	    s->gro > 1)
		return -EINVAL;
	sysctl_path(path, sizeof(path), "ipv4", ifname, "arp_ignore");
	int err = sysctl_read(path, &old);
	if (err < 0)
		return err;
	err = sysctl_write(path, s->arp_ignore);
	if (err < 0)
		return err;
	if (s->disable_ipv6 != -1) {
		char path6[128];
		sysctl_path(path6, sizeof(path6), "ipv6", ifname, "disable_ipv6");
		err = sysctl_write(path6, s->disable_ipv6);
		if (err < 0)
			goto restore_arp_ignore;
	}
	/* GRO is a speed-up, not a promise: a device that cannot change it
	 * (fixed, unsupported) keeps what it has. */
	if (s->gro != -1) {
		int v = s->gro, r = ethtool_gro(ifname, ETHTOOL_SGRO, &v);
		if (r < 0)
			log_info("hostnet: GRO of %s stays as it is (%s)", ifname, strerror(-r));
	}
	return 0;

restore_arp_ignore:
	if (sysctl_write(path, old) < 0)
		log_warn("hostnet: cannot restore arp_ignore of %s", ifname);
	return err;
}

json_t *hn_sysctls_to_json(const struct hn_sysctls *s)
{
	if (!s)
		return NULL;
	json_t *o = json_object();
	if (json_object_set_new(o, "arp_ignore", json_integer(s->arp_ignore)) < 0 ||
	    json_object_set_new(o, "disable_ipv6", json_integer(s->disable_ipv6)) < 0 ||
	    json_object_set_new(o, "gro", json_integer(s->gro)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int hn_sysctls_from_json(const json_t *j, struct hn_sysctls *out)
{
	long long arp_ignore, disable_ipv6;

	if (!out || !json_is_object(j))
		return -EINVAL;
	if (json_int_field(j, "arp_ignore", 0, INT_MAX, &arp_ignore) < 0 ||
	    json_int_field(j, "disable_ipv6", -1, INT_MAX, &disable_ipv6) < 0)
		return -EINVAL;
	/* State files from before GRO was saved have none: leave it alone. */
	long long gro = -1;
	if (json_object_get(j, "gro") && json_int_field(j, "gro", -1, 1, &gro) < 0)
		return -EINVAL;
	out->arp_ignore = (int)arp_ignore;
	out->disable_ipv6 = (int)disable_ipv6;
	out->gro = (int)gro;
	return 0;
}

/* ---- Link monitor ---- */

int hn_monitor_open(void)
{
	if (mon)
		return 0;
	mon = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!mon)
		return -errno;
	int err;
	unsigned group = RTNLGRP_LINK;
	if (mnl_socket_bind(mon, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(mon, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		err = -errno;
		goto close_mon;
	}
	/* Room for a burst of events (many ports at once) before the kernel
	 * drops some and we have to resync; capped by net.core.rmem_max. */
	int rcvbuf = 1 << 20;
	setsockopt(mnl_socket_get_fd(mon), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;

close_mon:
	mnl_socket_close(mon);
	mon = NULL;
	return err;
}

int hn_monitor_fd(void)
{
	return mon ? mnl_socket_get_fd(mon) : -EBADF;
}

struct mon_ctx {
	void (*fn)(void *arg, const struct hn_link *l, bool gone);
	void *arg;
	int count;
};

static int mon_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mon_ctx *ctx = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct hn_link l;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	/* The bridge sends its port events to this group too, as AF_BRIDGE:
	 * an RTM_DELLINK of those means "left the bridge", not "gone". */
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi) || ifi->ifi_family != AF_UNSPEC)
		return MNL_CB_OK;
	if (parse_link(nlh, &l) < 0)
		return MNL_CB_OK;
	ctx->count++;
	ctx->fn(ctx->arg, &l, nlh->nlmsg_type == RTM_DELLINK);
	return MNL_CB_OK;
}

int hn_monitor_read(void (*fn)(void *arg, const struct hn_link *l, bool gone), void *arg)
{
	struct mon_ctx ctx = { .fn = fn, .arg = arg };
	bool overrun = false;

	if (!fn)
		return -EINVAL;
	if (!mon)
		return -EBADF;
	/* fn may close the monitor, hence the check on every round. */
	while (mon) {
		ssize_t n = mnl_socket_recvfrom(mon, mon_buf, sizeof(mon_buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			/* Events were lost.  Deliver what is still queued
			 * first, so that the caller's resync comes after
			 * everything older than it. */
			if (errno == ENOBUFS) {
				overrun = true;
				continue;
			}
			return -errno;
		}
		/* Events have sequence number and port 0: no checks. */
		mnl_cb_run(mon_buf, (size_t)n, 0, 0, mon_cb, &ctx);
	}
	return overrun ? -ENOBUFS : ctx.count;
}

void hn_monitor_close(void)
{
	if (mon)
		mnl_socket_close(mon);
	mon = NULL;
}
