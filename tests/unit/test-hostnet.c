/* Host network configuration through rtnetlink and /proc/sys.
 *
 * Needs root.  The group setup moves the whole process into a network
 * namespace of its own before anything else happens, so that nothing here
 * can touch the machine's real interfaces; the namespace and everything
 * created in it vanish when the process exits.  Test interfaces are dummies
 * where the kernel has the driver, else veth pairs (the peer, NAMEp, is
 * brought up so that the carrier is on).
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "hostnet.h"
#include "util.h"

/* Every interface name the tests use: removed after every test, so that a
 * failed test does not leave them behind for the next. */
#define TEST_IFACES "hl0 hb0 hs0 ho0 hd0 hr0 hy0 hm0 hmb0 hq0 hq1 hq2 hq3 hq4 hq5 hq6 hq7"

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN(...) assert_int_equal(run(__VA_ARGS__), 0)

/* The output of a shell command, for checks against `ip -j`. */
static char *capture(const char *cmd)
{
	static char out[65536];
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	return out;
}

static void mkif(const char *name)
{
	if (run("ip link add %s type dummy 2>/dev/null", name) == 0)
		return;
	RUN("ip link add %s type veth peer name %sp", name, name);
	RUN("ip link set %sp up", name);
}

static int ifindex(const char *name)
{
	struct hn_link l;
	assert_int_equal(hn_link_get(name, &l), 0);
	return l.ifindex;
}

static int group_setup(void **state)
{
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (the test needs root)\n", strerror(errno));
		return -1;
	}
	if (run("ip link set lo up") != 0)
		return -1;
	return hn_init() < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	hn_monitor_close();
	hn_fini();
	return 0;
}

static int remove_ifaces(void **state)
{
	run("for i in " TEST_IFACES "; do ip link del $i 2>/dev/null; done; true");
	return 0;
}

static void ip_bytes(int family, const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(family, s, out), 1);
}

static bool ip_is(int family, const uint8_t *a, const char *s)
{
	uint8_t b[16] = { 0 };
	ip_bytes(family, s, b);
	return memcmp(a, b, family == AF_INET ? 4 : 16) == 0;
}

static const struct hn_addr *find_addr(const struct hn_ifconfig *c, int family, const char *ip)
{
	for (size_t i = 0; i < c->n_addrs; i++)
		if (c->addrs[i].family == family && ip_is(family, c->addrs[i].addr, ip))
			return &c->addrs[i];
	return NULL;
}

static const struct hn_route *find_route(const struct hn_ifconfig *c, int family, const char *dst,
					 unsigned dst_len, uint32_t table)
{
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct hn_route *r = &c->routes[i];
		if (r->family == family && r->dst_len == dst_len && r->table == table &&
		    ip_is(family, r->dst, dst))
			return r;
	}
	return NULL;
}

static bool addr_eq(const struct hn_addr *a, const struct hn_addr *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0 &&
	       a->prefixlen == b->prefixlen && a->scope == b->scope && a->flags == b->flags &&
	       a->has_broadcast == b->has_broadcast &&
	       (!a->has_broadcast || memcmp(a->broadcast, b->broadcast, 4) == 0);
}

static bool route_eq(const struct hn_route *a, const struct hn_route *b)
{
	return a->family == b->family && memcmp(a->dst, b->dst, 16) == 0 &&
	       a->dst_len == b->dst_len && a->has_gateway == b->has_gateway &&
	       (!a->has_gateway || memcmp(a->gateway, b->gateway, 16) == 0) &&
	       a->has_prefsrc == b->has_prefsrc &&
	       (!a->has_prefsrc || memcmp(a->prefsrc, b->prefsrc, 16) == 0) &&
	       a->table == b->table && a->priority == b->priority && a->protocol == b->protocol &&
	       a->scope == b->scope && a->type == b->type && a->mtu == b->mtu;
}

/* Same addresses and routes, in any order. */
static void assert_same_config(const struct hn_ifconfig *a, const struct hn_ifconfig *b)
{
	assert_int_equal(a->n_addrs, b->n_addrs);
	assert_int_equal(a->n_routes, b->n_routes);
	for (size_t i = 0; i < a->n_addrs; i++) {
		bool found = false;
		for (size_t j = 0; j < b->n_addrs && !found; j++)
			found = addr_eq(&a->addrs[i], &b->addrs[j]);
		assert_true(found);
	}
	for (size_t i = 0; i < a->n_routes; i++) {
		bool found = false;
		for (size_t j = 0; j < b->n_routes && !found; j++)
			found = route_eq(&a->routes[i], &b->routes[j]);
		assert_true(found);
	}
}

static struct hn_addr mkaddr(int family, const char *ip, uint8_t prefixlen, uint32_t flags)
{
	struct hn_addr a = { .family = family, .prefixlen = prefixlen, .flags = flags };
	ip_bytes(family, ip, a.addr);
	return a;
}

static struct hn_route mkroute(int family, const char *dst, uint8_t dst_len, const char *gw,
			       uint32_t table)
{
	struct hn_route r = {
		.family = family,
		.dst_len = dst_len,
		.table = table,
		.protocol = RTPROT_BOOT,
		.scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
		.type = RTN_UNICAST,
	};
	ip_bytes(family, dst, r.dst);
	if (gw) {
		r.has_gateway = true;
		ip_bytes(family, gw, r.gateway);
	}
	return r;
}

/* ---- Links ---- */

static void link_get_reads_every_field(void **state)
{
	struct hn_link l, m;

	assert_int_equal(hn_link_get("lo", &l), 0);
	assert_int_equal(l.ifindex, 1);
	assert_string_equal(l.name, "lo");
	assert_true(l.flags & IFF_LOOPBACK);
	assert_true(l.flags & IFF_UP);
	assert_int_equal(l.type, ARPHRD_LOOPBACK);
	assert_string_equal(l.kind, "");
	assert_int_equal(l.master, 0);

	RUN("ip link add hl0 address 02:00:00:00:00:01 mtu 1400 type veth peer name hl0p");
	RUN("ip link add hb0 type bridge");
	RUN("ip link set hl0 master hb0");
	assert_int_equal(hn_link_get("hl0", &l), 0);
	assert_string_equal(l.name, "hl0");
	assert_string_equal(l.kind, "veth");
	assert_int_equal(l.type, ARPHRD_ETHER);
	assert_int_equal(l.mtu, 1400);
	assert_memory_equal(l.mac, ((uint8_t[]){ 2, 0, 0, 0, 0, 1 }), 6);
	assert_false(l.flags & IFF_UP);
	assert_int_equal(l.master, ifindex("hb0"));
	assert_int_equal(hn_link_get("hb0", &m), 0);
	assert_string_equal(m.kind, "bridge");

	assert_int_equal(hn_link_get_by_index(l.ifindex, &m), 0);
	assert_string_equal(m.name, "hl0");
	assert_int_equal(m.ifindex, l.ifindex);
}

static void link_get_missing_is_enodev(void **state)
{
	struct hn_link l = { .ifindex = 77 };

	assert_int_equal(hn_link_get("nosuch0", &l), -ENODEV);
	assert_int_equal(hn_link_get("", &l), -ENODEV);
	assert_int_equal(hn_link_get("sixteen-chars-xx", &l), -ENODEV);
	assert_int_equal(hn_link_get_by_index(99999, &l), -ENODEV);
	assert_int_equal(hn_link_get_by_index(0, &l), -ENODEV);
	assert_int_equal(l.ifindex, 77); /* untouched on failure */
	assert_int_equal(hn_link_set_mtu(99999, 1500), -ENODEV);
}

static void link_set_up_mtu_mac(void **state)
{
	const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	struct hn_link l;

	mkif("hl0");
	int idx = ifindex("hl0");
	assert_int_equal(hn_link_set_up(idx, true), 0);
	assert_int_equal(hn_link_get("hl0", &l), 0);
	assert_true(l.flags & IFF_UP);
	assert_int_equal(hn_link_set_up(idx, false), 0);
	assert_int_equal(hn_link_get("hl0", &l), 0);
	assert_false(l.flags & IFF_UP);

	assert_int_equal(hn_link_set_mtu(idx, 1280), 0);
	assert_int_equal(hn_link_get("hl0", &l), 0);
	assert_int_equal(l.mtu, 1280);
	assert_int_equal(hn_link_set_mtu(idx, 10), -EINVAL); /* the kernel's word */

	assert_int_equal(hn_link_set_mac(idx, mac), 0);
	assert_int_equal(hn_link_get("hl0", &l), 0);
	assert_memory_equal(l.mac, mac, 6);
}

static void link_del_removes_it(void **state)
{
	struct hn_link l;

	mkif("hl0");
	int idx = ifindex("hl0");
	assert_int_equal(hn_link_del(idx), 0);
	assert_int_equal(hn_link_get("hl0", &l), -ENODEV);
	assert_int_equal(hn_link_del(idx), -ENODEV);
}

/* ---- Addresses and routes ---- */

/* hs0 with what a user would have configured, next to what the kernel adds
 * by itself, and ho0 beside it. */
static void setup_source(void)
{
	mkif("hs0");
	mkif("ho0");
	RUN("ip link set hs0 up && ip link set ho0 up");
	RUN("ip addr add 10.1.0.1/24 broadcast 10.1.0.255 dev hs0");
	RUN("ip addr add 10.1.1.1/24 dev hs0 noprefixroute");
	RUN("ip -6 addr add 2001:db8:1::1/64 dev hs0 nodad");
	RUN("ip addr add 10.2.0.1/24 dev ho0");
	RUN("ip route add 10.9.0.0/16 dev hs0");
	RUN("ip route add default via 10.1.0.254 dev hs0");
	RUN("ip route add 10.8.0.0/16 via 10.1.0.254 dev hs0 metric 50 mtu 1400 src 10.1.0.1");
	RUN("ip route add 10.7.0.0/16 via 10.1.0.254 dev hs0 table 100 proto static");
	RUN("ip -6 route add 2001:db8:2::/64 via 2001:db8:1::fe dev hs0");
	/* Not hs0's: another interface's, and a multipath route. */
	RUN("ip route add 10.6.0.0/16 via 10.2.0.254 dev ho0");
	RUN("ip route add 10.4.0.0/16 nexthop via 10.1.0.254 dev hs0 nexthop via 10.2.0.254 dev ho0");
}

static void ifconfig_get_returns_user_config(void **state)
{
	struct hn_ifconfig c;
	const struct hn_addr *a;
	const struct hn_route *r;

	setup_source();
	/* The kernel's own are there, so their absence below means something. */
	RUN("ip -6 addr show dev hs0 scope link | grep -q fe80::");
	RUN("ip route show dev hs0 proto kernel | grep -q 10.1.0.0/24");
	RUN("ip -6 route show dev hs0 proto kernel | grep -q 2001:db8:1::/64");

	assert_int_equal(hn_ifconfig_get(ifindex("hs0"), &c), 0);
	assert_int_equal(c.n_addrs, 3);
	assert_non_null(a = find_addr(&c, AF_INET, "10.1.0.1"));
	assert_int_equal(a->prefixlen, 24);
	assert_int_equal(a->scope, RT_SCOPE_UNIVERSE);
	assert_int_equal(a->flags, 0);
	assert_true(a->has_broadcast);
	assert_true(ip_is(AF_INET, a->broadcast, "10.1.0.255"));
	assert_non_null(a = find_addr(&c, AF_INET, "10.1.1.1"));
	assert_int_equal(a->flags, IFA_F_NOPREFIXROUTE);
	assert_false(a->has_broadcast);
	assert_non_null(a = find_addr(&c, AF_INET6, "2001:db8:1::1"));
	assert_int_equal(a->prefixlen, 64);
	assert_int_equal(a->flags, IFA_F_NODAD); /* not PERMANENT: that is state */
	for (size_t i = 0; i < c.n_addrs; i++)
		assert_false(c.addrs[i].family == AF_INET6 && c.addrs[i].addr[0] == 0xfe);

	assert_int_equal(c.n_routes, 5);
	assert_non_null(r = find_route(&c, AF_INET, "10.9.0.0", 16, RT_TABLE_MAIN));
	assert_false(r->has_gateway);
	assert_int_equal(r->scope, RT_SCOPE_LINK);
	assert_int_equal(r->protocol, RTPROT_BOOT);
	assert_int_equal(r->type, RTN_UNICAST);
	assert_non_null(r = find_route(&c, AF_INET, "0.0.0.0", 0, RT_TABLE_MAIN));
	assert_true(r->has_gateway);
	assert_true(ip_is(AF_INET, r->gateway, "10.1.0.254"));
	assert_false(r->has_prefsrc);
	assert_int_equal(r->mtu, 0);
	assert_non_null(r = find_route(&c, AF_INET, "10.8.0.0", 16, RT_TABLE_MAIN));
	assert_int_equal(r->priority, 50);
	assert_int_equal(r->mtu, 1400);
	assert_true(r->has_prefsrc);
	assert_true(ip_is(AF_INET, r->prefsrc, "10.1.0.1"));
	assert_non_null(r = find_route(&c, AF_INET, "10.7.0.0", 16, 100));
	assert_int_equal(r->protocol, RTPROT_STATIC);
	assert_non_null(r = find_route(&c, AF_INET6, "2001:db8:2::", 64, RT_TABLE_MAIN));
	assert_true(ip_is(AF_INET6, r->gateway, "2001:db8:1::fe"));
	assert_int_equal(r->priority, 1024);

	/* Not returned: the kernel's, another interface's, multipath. */
	assert_null(find_route(&c, AF_INET, "10.1.0.0", 24, RT_TABLE_MAIN));
	assert_null(find_route(&c, AF_INET6, "2001:db8:1::", 64, RT_TABLE_MAIN));
	assert_null(find_route(&c, AF_INET6, "fe80::", 64, RT_TABLE_MAIN));
	assert_null(find_route(&c, AF_INET, "10.6.0.0", 16, RT_TABLE_MAIN));
	assert_null(find_route(&c, AF_INET, "10.4.0.0", 16, RT_TABLE_MAIN));
	for (size_t i = 0; i < c.n_routes; i++) {
		assert_int_not_equal(c.routes[i].table, RT_TABLE_LOCAL);
		assert_int_not_equal(c.routes[i].protocol, RTPROT_KERNEL);
		assert_int_not_equal(c.routes[i].type, RTN_MULTICAST);
	}
	hn_ifconfig_free(&c);
	assert_null(c.addrs);
	assert_int_equal(c.n_routes, 0);

	assert_int_equal(hn_ifconfig_get(99999, &c), -ENODEV);
}

static void ifconfig_moves_to_another_interface(void **state)
{
	struct hn_ifconfig c, src, dst;

	setup_source();
	mkif("hd0");
	RUN("ip link set hd0 up");
	int hs = ifindex("hs0"), hd = ifindex("hd0");
	assert_int_equal(hn_ifconfig_get(hs, &c), 0);

	/* What the daemon does: take it off one, put it on the other.  The
	 * route through 10.1.0.1 as source finds that address nowhere until
	 * apply has added it. */
	assert_int_equal(hn_ifconfig_remove(hs, &c), 0);
	assert_int_equal(hn_ifconfig_get(hs, &src), 0);
	assert_int_equal(src.n_addrs, 0);
	assert_int_equal(src.n_routes, 0);
	hn_ifconfig_free(&src);
	assert_int_not_equal(run("ip -4 addr show | grep -q 10.1.0.1"), 0);

	assert_int_equal(hn_ifconfig_apply(hd, &c), 0);
	assert_int_equal(hn_ifconfig_get(hd, &dst), 0);
	assert_same_config(&c, &dst);
	hn_ifconfig_free(&dst);
	assert_non_null(strstr(capture("ip -j -4 route show table 100 dev hd0"),
			       "\"dst\":\"10.7.0.0/16\""));
	assert_non_null(strstr(capture("ip -j -6 addr show dev hd0"), "\"2001:db8:1::1\""));
	assert_non_null(strstr(capture("ip -j -4 route show dev hd0"), "\"prefsrc\":\"10.1.0.1\""));

	/* Everything there already: nothing to do, nothing doubled. */
	assert_int_equal(hn_ifconfig_apply(hd, &c), 0);
	assert_int_equal(hn_ifconfig_get(hd, &dst), 0);
	assert_same_config(&c, &dst);
	hn_ifconfig_free(&dst);

	assert_int_equal(hn_ifconfig_remove(hd, &c), 0);
	assert_int_equal(hn_ifconfig_get(hd, &dst), 0);
	assert_int_equal(dst.n_addrs, 0);
	assert_int_equal(dst.n_routes, 0);
	hn_ifconfig_free(&dst);
	/* Best effort: what is gone already is no error. */
	assert_int_equal(hn_ifconfig_remove(hd, &c), 0);
	hn_ifconfig_free(&c);
}

static void ifconfig_apply_failure_rolls_back(void **state)
{
	struct hn_addr addrs[3];
	struct hn_route routes[2];
	struct hn_ifconfig c = { addrs, 3, routes, 2 }, got;

	mkif("hr0");
	RUN("ip link set hr0 up");
	RUN("ip addr add 10.3.1.1/24 dev hr0");
	int hr = ifindex("hr0");
	addrs[0] = mkaddr(AF_INET, "10.3.0.1", 24, 0);
	addrs[1] = mkaddr(AF_INET, "10.3.1.1", 24, 0); /* there before: must stay */
	addrs[2] = mkaddr(AF_INET6, "2001:db8:3::1", 64, IFA_F_NODAD);
	routes[0] = mkroute(AF_INET, "10.3.5.0", 24, NULL, RT_TABLE_MAIN);
	/* No route to this gateway on hr0. */
	routes[1] = mkroute(AF_INET, "10.50.0.0", 16, "192.168.77.1", RT_TABLE_MAIN);

	int err = hn_ifconfig_apply(hr, &c);
	assert_true(err < 0);
	assert_int_not_equal(err, -EEXIST);
	assert_int_equal(hn_ifconfig_get(hr, &got), 0);
	assert_int_equal(got.n_addrs, 1);
	assert_non_null(find_addr(&got, AF_INET, "10.3.1.1"));
	assert_int_equal(got.n_routes, 0);
	hn_ifconfig_free(&got);
	assert_int_not_equal(run("ip route show dev hr0 | grep -q 10.3.5.0"), 0);

	/* Invalid input is refused before anything changes. */
	addrs[2].prefixlen = 129;
	routes[1] = mkroute(AF_INET, "10.50.0.0", 16, "10.3.0.254", RT_TABLE_MAIN);
	assert_int_equal(hn_ifconfig_apply(hr, &c), -EINVAL);
	assert_int_equal(hn_ifconfig_remove(hr, &c), -EINVAL);
	assert_int_equal(hn_ifconfig_get(hr, &got), 0);
	assert_int_equal(got.n_addrs, 1);
	hn_ifconfig_free(&got);

	/* And with that fixed and the gateway reachable, it all goes on. */
	addrs[2].prefixlen = 64;
	assert_int_equal(hn_ifconfig_apply(hr, &c), 0);
	assert_int_equal(hn_ifconfig_get(hr, &got), 0);
	assert_int_equal(got.n_addrs, 3);
	assert_int_equal(got.n_routes, 2);
	hn_ifconfig_free(&got);
}

/* ---- JSON ---- */

static void ifconfig_json_round_trip(void **state)
{
	struct hn_addr addrs[2] = {
		mkaddr(AF_INET, "192.0.2.10", 24, IFA_F_NOPREFIXROUTE),
		mkaddr(AF_INET6, "2001:db8::10", 64, IFA_F_NODAD),
	};
	struct hn_route routes[2] = {
		mkroute(AF_INET, "0.0.0.0", 0, "192.0.2.1", 100),
		mkroute(AF_INET6, "2001:db8:5::", 48, NULL, RT_TABLE_MAIN),
	};
	struct hn_ifconfig c = { addrs, 2, routes, 2 }, back;

	addrs[0].has_broadcast = true;
	ip_bytes(AF_INET, "192.0.2.255", addrs[0].broadcast);
	addrs[1].scope = RT_SCOPE_SITE;
	routes[0].has_prefsrc = true;
	ip_bytes(AF_INET, "192.0.2.10", routes[0].prefsrc);
	routes[0].priority = 4000000000u;
	routes[0].protocol = RTPROT_DHCP;
	routes[0].mtu = 1400;
	routes[1].priority = 1024;
	routes[1].table = 70000;

	json_t *j = hn_ifconfig_to_json(&c);
	assert_non_null(j);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"address\":\"192.0.2.10\""));
	assert_non_null(strstr(text, "\"broadcast\":\"192.0.2.255\""));
	assert_non_null(strstr(text, "\"family\":\"inet6\""));
	assert_non_null(strstr(text, "\"dst\":\"2001:db8:5::\""));

	j = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(j);
	/* Absent, not null, where there is nothing. */
	json_t *ja = json_object_get(j, "addrs"), *jr = json_object_get(j, "routes");
	assert_null(json_object_get(json_array_get(ja, 1), "broadcast"));
	assert_null(json_object_get(json_array_get(jr, 1), "gateway"));
	assert_null(json_object_get(json_array_get(jr, 1), "prefsrc"));
	assert_int_equal(hn_ifconfig_from_json(j, &back), 0);
	json_decref(j);
	assert_int_equal(back.n_addrs, 2);
	assert_int_equal(back.n_routes, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_true(addr_eq(&addrs[i], &back.addrs[i]));
		assert_true(route_eq(&routes[i], &back.routes[i]));
	}
	hn_ifconfig_free(&back);

	struct hn_ifconfig empty = { 0 };
	j = hn_ifconfig_to_json(&empty);
	assert_non_null(j);
	assert_int_equal(hn_ifconfig_from_json(j, &back), 0);
	json_decref(j);
	assert_int_equal(back.n_addrs + back.n_routes, 0);
	assert_null(back.addrs);
	assert_null(back.routes);
}

static void ifconfig_json_round_trip_of_real_config(void **state)
{
	struct hn_ifconfig c, back;

	setup_source();
	assert_int_equal(hn_ifconfig_get(ifindex("hs0"), &c), 0);
	json_t *j = hn_ifconfig_to_json(&c);
	assert_non_null(j);
	assert_int_equal(hn_ifconfig_from_json(j, &back), 0);
	json_decref(j);
	assert_same_config(&c, &back);
	hn_ifconfig_free(&c);
	hn_ifconfig_free(&back);
}

#define ADDR4 "\"family\":\"inet\",\"address\":\"10.0.0.1\""
#define ADDR_REST "\"prefixlen\":24,\"scope\":0,\"flags\":0"
#define GOOD_ADDR "{" ADDR4 "," ADDR_REST "}"
#define ROUTE_REST "\"table\":254,\"priority\":0,\"protocol\":3,\"scope\":0,\"type\":1,\"mtu\":0"
#define ROUTE4 "\"family\":\"inet\",\"dst\":\"10.9.0.0\",\"dst_len\":16"
#define GOOD_ROUTE "{" ROUTE4 ",\"gateway\":\"10.0.0.254\"," ROUTE_REST "}"
#define WITH_ADDR(a) "{\"addrs\":[" a "],\"routes\":[]}"
#define WITH_ROUTE(r) "{\"addrs\":[],\"routes\":[" r "]}"

static void ifconfig_json_rejects_malformed(void **state)
{
	static const char *const good[] = {
		WITH_ADDR(GOOD_ADDR),
		WITH_ROUTE(GOOD_ROUTE),
		"{\"addrs\":[" GOOD_ADDR "],\"routes\":[" GOOD_ROUTE "],\"future\":1}",
	};
	static const char *const bad[] = {
		"[]",
		"{\"addrs\":[]}",
		"{\"routes\":[]}",
		"{\"addrs\":{},\"routes\":[]}",
		"{\"addrs\":[],\"routes\":null}",
		WITH_ADDR("1"),
		WITH_ADDR("[]"),
		/* family */
		WITH_ADDR("{\"family\":\"ipx\",\"address\":\"10.0.0.1\"," ADDR_REST "}"),
		WITH_ADDR("{\"family\":2,\"address\":\"10.0.0.1\"," ADDR_REST "}"),
		WITH_ADDR("{\"address\":\"10.0.0.1\"," ADDR_REST "}"),
		/* address */
		WITH_ADDR("{\"family\":\"inet\",\"address\":\"10.0.0.256\"," ADDR_REST "}"),
		WITH_ADDR("{\"family\":\"inet\",\"address\":\"10.0.0.1/24\"," ADDR_REST "}"),
		WITH_ADDR("{\"family\":\"inet\",\"address\":\" 10.0.0.1\"," ADDR_REST "}"),
		WITH_ADDR("{\"family\":\"inet\",\"address\":\"10.0.0.1\\u0000x\"," ADDR_REST "}"),
		WITH_ADDR("{\"family\":\"inet\",\"address\":\"2001:db8::1\"," ADDR_REST "}"),
		WITH_ADDR("{\"family\":\"inet6\",\"address\":\"10.0.0.1\"," ADDR_REST "}"),
		WITH_ADDR("{\"family\":\"inet6\",\"address\":\"2001:db8:::1\"," ADDR_REST "}"),
		WITH_ADDR("{\"family\":\"inet\",\"address\":167772161," ADDR_REST "}"),
		WITH_ADDR("{\"family\":\"inet\"," ADDR_REST "}"),
		/* prefixlen, scope, flags */
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":33,\"scope\":0,\"flags\":0}"),
		WITH_ADDR("{\"family\":\"inet6\",\"address\":\"::1\",\"prefixlen\":129,\"scope\":0,"
			  "\"flags\":0}"),
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":-1,\"scope\":0,\"flags\":0}"),
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":\"24\",\"scope\":0,\"flags\":0}"),
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":24.0,\"scope\":0,\"flags\":0}"),
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":24,\"scope\":256,\"flags\":0}"),
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":24,\"flags\":0}"),
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":24,\"scope\":0,\"flags\":true}"),
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":24,\"scope\":0,\"flags\":128}"),
		WITH_ADDR("{" ADDR4 ",\"prefixlen\":24,\"scope\":0,\"flags\":4294967296}"),
		/* broadcast */
		WITH_ADDR("{" ADDR4 "," ADDR_REST ",\"broadcast\":\"10.0.0.\"}"),
		WITH_ADDR("{" ADDR4 "," ADDR_REST ",\"broadcast\":null}"),
		WITH_ADDR("{\"family\":\"inet6\",\"address\":\"::1\"," ADDR_REST
			  ",\"broadcast\":\"10.0.0.255\"}"),
		/* a good one first: what was parsed must not leak */
		WITH_ADDR(GOOD_ADDR "," GOOD_ADDR ",{}"),
		"{\"addrs\":[" GOOD_ADDR "],\"routes\":[" GOOD_ROUTE ",7]}",
		/* routes */
		WITH_ROUTE("{\"family\":\"inet\",\"dst\":\"10.9.0.0\",\"dst_len\":33," ROUTE_REST "}"),
		WITH_ROUTE("{\"family\":\"inet\",\"dst\":\"10.9.0.1\",\"dst_len\":16," ROUTE_REST "}"),
		WITH_ROUTE("{\"family\":\"inet\",\"dst\":\"::\",\"dst_len\":0," ROUTE_REST "}"),
		WITH_ROUTE("{\"family\":\"inet\",\"dst_len\":0," ROUTE_REST "}"),
		WITH_ROUTE("{" ROUTE4 ",\"gateway\":123," ROUTE_REST "}"),
		WITH_ROUTE("{" ROUTE4 ",\"gateway\":\"fe80::1\"," ROUTE_REST "}"),
		WITH_ROUTE("{" ROUTE4 ",\"prefsrc\":\"\"," ROUTE_REST "}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":255,\"priority\":0,\"protocol\":3,\"scope\":0,"
			   "\"type\":1,\"mtu\":0}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":0,\"priority\":0,\"protocol\":3,\"scope\":0,"
			   "\"type\":1,\"mtu\":0}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":4294967296,\"priority\":0,\"protocol\":3,"
			   "\"scope\":0,\"type\":1,\"mtu\":0}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":254,\"priority\":-1,\"protocol\":3,\"scope\":0,"
			   "\"type\":1,\"mtu\":0}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":254,\"priority\":\"1\",\"protocol\":3,\"scope\":0,"
			   "\"type\":1,\"mtu\":0}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":254,\"priority\":0,\"protocol\":256,\"scope\":0,"
			   "\"type\":1,\"mtu\":0}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":254,\"priority\":0,\"protocol\":3,\"scope\":0,"
			   "\"type\":0,\"mtu\":0}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":254,\"priority\":0,\"protocol\":3,\"scope\":0,"
			   "\"type\":5,\"mtu\":0}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":254,\"priority\":0,\"protocol\":3,\"scope\":0,"
			   "\"type\":1,\"mtu\":-1}"),
		WITH_ROUTE("{" ROUTE4 ",\"table\":254,\"priority\":0,\"protocol\":3,\"scope\":0,"
			   "\"type\":1}"),
	};
	struct hn_ifconfig c;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		json_t *j = json_loads(good[i], 0, NULL);
		assert_non_null(j);
		assert_int_equal(hn_ifconfig_from_json(j, &c), 0);
		hn_ifconfig_free(&c);
		json_decref(j);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *j = json_loads(bad[i], JSON_ALLOW_NUL, NULL);
		if (!j)
			fail_msg("test input %zu is not JSON: %s", i, bad[i]);
		memset(&c, 0, sizeof(c));
		c.n_addrs = 77;
		int err = hn_ifconfig_from_json(j, &c);
		if (err != -EINVAL)
			fail_msg("accepted (%d): %s", err, bad[i]);
		assert_int_equal(c.n_addrs, 77); /* untouched on failure */
		json_decref(j);
	}
	assert_int_equal(hn_ifconfig_from_json(NULL, &c), -EINVAL);
}

/* ---- Sysctls ---- */

static void sysctls_get_set_restore(void **state)
{
	struct hn_sysctls s, saved;

	mkif("hy0");
	assert_int_equal(hn_sysctls_get("hy0", &saved), 0);
	assert_int_equal(saved.arp_ignore, 0);
	assert_int_equal(saved.disable_ipv6, 0);

	assert_int_equal(hn_sysctls_set("hy0", &(struct hn_sysctls){ 1, 1, -1 }), 0);
	assert_int_equal(hn_sysctls_get("hy0", &s), 0);
	assert_int_equal(s.arp_ignore, 1);
	assert_int_equal(s.disable_ipv6, 1);
	RUN("grep -qx 1 /proc/sys/net/ipv4/conf/hy0/arp_ignore");
	RUN("grep -qx 1 /proc/sys/net/ipv6/conf/hy0/disable_ipv6");

	/* -1 leaves IPv6 alone. */
	assert_int_equal(hn_sysctls_set("hy0", &(struct hn_sysctls){ 2, -1, -1 }), 0);
	assert_int_equal(hn_sysctls_get("hy0", &s), 0);
	assert_int_equal(s.arp_ignore, 2);
	assert_int_equal(s.disable_ipv6, 1);

	/* GRO: the opposite of what it was, then back. */
	assert_true(saved.gro == 0 || saved.gro == 1);
	assert_int_equal(hn_sysctls_set("hy0", &(struct hn_sysctls){ 0, 0, !saved.gro }), 0);
	assert_int_equal(hn_sysctls_get("hy0", &s), 0);
	assert_int_equal(s.gro, !saved.gro);
	RUN("ethtool -k hy0 | grep -qx 'generic-receive-offload: %s'", saved.gro ? "off" : "on");

	assert_int_equal(hn_sysctls_set("hy0", &saved), 0);
	assert_int_equal(hn_sysctls_get("hy0", &s), 0);
	assert_int_equal(s.arp_ignore, saved.arp_ignore);
	assert_int_equal(s.disable_ipv6, saved.disable_ipv6);
	assert_int_equal(s.gro, saved.gro);

	/* Below IPv6's minimum MTU the interface has no IPv6 (nor its
	 * directory) at all. */
	RUN("ip link set hy0 mtu 1200");
	assert_int_equal(hn_sysctls_get("hy0", &s), 0);
	assert_int_equal(s.disable_ipv6, -1);
	assert_int_equal(hn_sysctls_set("hy0", &(struct hn_sysctls){ 1, -1, -1 }), 0);
	assert_int_equal(hn_sysctls_set("hy0", &(struct hn_sysctls){ 1, 0, -1 }), -ENOENT);

	assert_int_equal(hn_sysctls_set("hy0", &(struct hn_sysctls){ -1, 0, -1 }), -EINVAL);
	assert_int_equal(hn_sysctls_set("hy0", &(struct hn_sysctls){ 0, -2, -1 }), -EINVAL);
}

static void sysctls_refuse_bad_names(void **state)
{
	static const char *const names[] = { "", ".", "..", "../lo", "lo/..", "a b", "x:0",
					     "sixteen-chars-xx" };
	struct hn_sysctls s = { 0, 0, -1 };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		assert_int_equal(hn_sysctls_get(names[i], &s), -EINVAL);
		assert_int_equal(hn_sysctls_set(names[i], &s), -EINVAL);
	}
	assert_int_equal(hn_sysctls_get(NULL, &s), -EINVAL);
	assert_int_equal(hn_sysctls_get("nosuch0", &s), -ENOENT);
	assert_int_equal(hn_sysctls_set("nosuch0", &s), -ENOENT);
}

static void sysctls_json(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"arp_ignore\":1}",
		"{\"disable_ipv6\":1}",
		"{\"arp_ignore\":\"1\",\"disable_ipv6\":0}",
		"{\"arp_ignore\":1,\"disable_ipv6\":-2}",
		"{\"arp_ignore\":-1,\"disable_ipv6\":0}",
		"{\"arp_ignore\":1,\"disable_ipv6\":0.5}",
		"{\"arp_ignore\":4294967296,\"disable_ipv6\":0}",
		"{\"arp_ignore\":1,\"disable_ipv6\":0,\"gro\":2}",
		"{\"arp_ignore\":1,\"disable_ipv6\":0,\"gro\":true}",
	};
	struct hn_sysctls s = { 3, -1, 1 }, back;

	json_t *j = hn_sysctls_to_json(&s);
	assert_non_null(j);
	assert_int_equal(hn_sysctls_from_json(j, &back), 0);
	json_decref(j);
	assert_int_equal(back.arp_ignore, 3);
	assert_int_equal(back.disable_ipv6, -1);
	assert_int_equal(back.gro, 1);

	/* A state file from before GRO was saved: GRO is left alone. */
	j = json_loads("{\"arp_ignore\":1,\"disable_ipv6\":0}", 0, NULL);
	assert_int_equal(hn_sysctls_from_json(j, &back), 0);
	assert_int_equal(back.gro, -1);
	json_decref(j);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		back.arp_ignore = 77;
		if (hn_sysctls_from_json(j, &back) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(back.arp_ignore, 77);
		json_decref(j);
	}
}

/* ---- Monitor ---- */

struct seen {
	const char *name;
	int added, gone, enslaved, released;
};

static void record(void *arg, const struct hn_link *l, bool gone)
{
	struct seen *s = arg;

	if (strcmp(l->name, s->name) != 0)
		return;
	if (gone) {
		s->gone++;
		return;
	}
	s->added++;
	if (l->master)
		s->enslaved++;
	else if (s->enslaved)
		s->released++;
}

/* Read events for up to two seconds, until *until is non-zero. */
static void read_events_until(struct seen *s, const int *until)
{
	struct pollfd pfd = { .fd = hn_monitor_fd(), .events = POLLIN };

	for (int i = 0; i < 200 && !*until; i++) {
		if (poll(&pfd, 1, 10) > 0)
			assert_true(hn_monitor_read(record, s) >= 0);
	}
	assert_true(*until);
}

static void monitor_sees_add_and_del(void **state)
{
	struct seen s = { .name = "hm0" };

	assert_int_equal(hn_monitor_open(), 0);
	assert_true(hn_monitor_fd() >= 0);
	/* Nothing queued yet: returns at once. */
	assert_true(hn_monitor_read(record, &s) >= 0);

	mkif("hm0");
	read_events_until(&s, &s.added);
	assert_int_equal(s.gone, 0);

	/* The bridge reports its ports on the same group, as AF_BRIDGE, with
	 * an RTM_DELLINK when one leaves: that is no deletion. */
	RUN("ip link add hmb0 type bridge");
	RUN("ip link set hm0 master hmb0");
	read_events_until(&s, &s.enslaved);
	RUN("ip link set hm0 nomaster");
	read_events_until(&s, &s.released);
	assert_true(hn_monitor_read(record, &s) >= 0);
	assert_int_equal(s.gone, 0);

	RUN("ip link del hm0");
	read_events_until(&s, &s.gone);

	hn_monitor_close();
	assert_int_equal(hn_monitor_fd(), -EBADF);
	assert_int_equal(hn_monitor_read(record, &s), -EBADF);
}

static void monitor_overrun_is_enobufs(void **state)
{
	struct seen s = { .name = "hq7" };
	int small = 1;

	assert_int_equal(hn_monitor_open(), 0);
	/* The smallest receive buffer the kernel allows holds a couple of
	 * link messages at most. */
	assert_int_equal(setsockopt(hn_monitor_fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
			 0);
	RUN("for i in 0 1 2 3 4 5 6 7; do ip link add hq$i type bridge || exit 1; done");
	assert_int_equal(hn_monitor_read(record, &s), -ENOBUFS);
	/* The overrun is reported once; the socket goes on working. */
	assert_true(hn_monitor_read(record, &s) >= 0);
	int big = 1 << 20;
	assert_int_equal(setsockopt(hn_monitor_fd(), SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)), 0);
	RUN("ip link del hq7");
	read_events_until(&s, &s.gone);
	hn_monitor_close();
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(link_get_reads_every_field, remove_ifaces),
	cmocka_unit_test_teardown(link_get_missing_is_enodev, remove_ifaces),
	cmocka_unit_test_teardown(link_set_up_mtu_mac, remove_ifaces),
	cmocka_unit_test_teardown(link_del_removes_it, remove_ifaces),
	cmocka_unit_test_teardown(ifconfig_get_returns_user_config, remove_ifaces),
	cmocka_unit_test_teardown(ifconfig_moves_to_another_interface, remove_ifaces),
	cmocka_unit_test_teardown(ifconfig_apply_failure_rolls_back, remove_ifaces),
	cmocka_unit_test(ifconfig_json_round_trip),
	cmocka_unit_test_teardown(ifconfig_json_round_trip_of_real_config, remove_ifaces),
	cmocka_unit_test(ifconfig_json_rejects_malformed),
	cmocka_unit_test_teardown(sysctls_get_set_restore, remove_ifaces),
	cmocka_unit_test(sysctls_refuse_bad_names),
	cmocka_unit_test(sysctls_json),
	cmocka_unit_test_teardown(monitor_sees_add_and_del, remove_ifaces),
	cmocka_unit_test_teardown(monitor_overrun_is_enobufs, remove_ifaces),
};

UNIT_MAIN_FULL(tests, group_setup, group_teardown)
