/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the XDP steer program, compiled for the host: the
 * very source of xdp/steer.bpf.c, with its BPF helpers replaced by host
 * functions over plain arrays. Every input is one Ethernet frame. Beyond "no
 * out-of-bounds access" (ASan), it checks what the program promises:
 *
 * - a verdict is PASS, DROP, TX or the XSK redirect, and a DROP is counted
 *   under exactly one reason;
 * - a herald-level drop (truncated .. oversized) is the reason the
 *   userspace codec gives for the same UDP payload, and a frame handed to
 *   the dataplane's socket is one the codec does not reject on a header
 *   check: XDP and the dataplane agree on what is junk;
 * - an XDP_TX reply is no longer than the request (no amplification) and
 *   is a REDIRECT the codec accepts, sent back to the request's source;
 * - a frame steered as the node's own (node_steered) is an Ethernet/IPv4
 *   ARP whose target is the node's address or an ICMP datagram to it, goes
 *   to the socket untouched, and every such frame is steered.
 *
 * The program relies on the x86 JIT's unaligned packet loads (word loads of
 * the HELLO body), so this target is built without UBSan's alignment check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <herald/proto.h>

/* The helpers steer.bpf.c calls, routed to the host (function-like macros leave the declarations alone). */
static void *host_lookup(const void *map, const void *key);
static long host_redirect(const void *map, uint32_t key, uint64_t flags);
static uint64_t host_tai_ns(void) { return 1800000000ull * 1000000000ull; }
#define bpf_map_lookup_elem(map, key) host_lookup((map), (key))
#define bpf_redirect_map(map, key, flags) host_redirect((map), (key), (flags))
#define herald_ktime_get_tai_ns() host_tai_ns()

#pragma clang diagnostic ignored "-Wunused-variable"
#pragma clang diagnostic ignored "-Wunused-const-variable"
#define HERALD_RODATA volatile
#include "../../xdp/steer.bpf.c"

#include "fuzz.h"

#define NODE_IP 0x0100a8c0u /* 192.168.0.1, network order on the host */

#define CTX_ROUTED 0x00000007u
#define XSK_VERDICT XDP_REDIRECT /* queue 0 has a socket in the (host) XSK map */

static uint64_t drops[HERALD_DROP_MAX], stats[HERALD_XDP_CTR_MAX];
static struct herald_xdp_secret secret = {.key = "herald-fuzz-key", .ttl_s = 30, .valid = 1};
static struct herald_xdp_route route = {.node_ip = 0x0100a8c0, .port = HERALD_UDP_PORT_BASE + 1,
					.queue = 1, .epoch = 3};

static void *host_lookup(const void *map, const void *key)
{
	uint32_t k;

	memcpy(&k, key, sizeof(k));
	if (map == &herald_drops)
		return k < HERALD_DROP_MAX ? &drops[k] : NULL;
	if (map == &herald_stats)
		return k < HERALD_XDP_CTR_MAX ? &stats[k] : NULL;
	if (map == &herald_secret)
		return k == 0 ? &secret : NULL;
	if (map == &herald_routes)
		return k == CTX_ROUTED ? &route : NULL;
	abort();
}

static long host_redirect(const void *map, uint32_t key, uint64_t flags)
{
	if (map != &xsks_map || flags != XDP_PASS)
		abort();
	return key == 0 ? XSK_VERDICT : XDP_PASS;
}

/* The one drop reason counted for this frame, or HERALD_DROP_NONE. */
static enum herald_drop counted_drop(void)
{
	enum herald_drop why = HERALD_DROP_NONE;

	for (int r = 0; r < HERALD_DROP_MAX; r++) {
		check(drops[r] <= 1);
		if (drops[r] != 0) {
			check(why == HERALD_DROP_NONE);
			why = (enum herald_drop)r;
		}
	}
	return why;
}

static int header_level(enum herald_drop r)
{
	return r >= HERALD_DROP_TRUNCATED && r <= HERALD_DROP_OVERSIZED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* struct xdp_md holds 32-bit addresses: the frame lives below 4 GiB. */
	static uint8_t *pkt;
	uint8_t orig[2048];
	struct xdp_md ctx = {0};
	struct herald_frame f;
	int verdict;

	if (pkt == NULL) {
		node_ip = NODE_IP;
		pkt = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
			   -1, 0);
		check(pkt != MAP_FAILED);
		/* A guard page right after the frame: ASan does not watch mmap'd memory, the MMU does. */
		check(mprotect(pkt + 4096, 4096, PROT_NONE) == 0);
	}
	if (size > sizeof(orig))
		return 0;
	uint8_t *frame = pkt + 4096 - size;
	memcpy(frame, data, size);
	memcpy(orig, data, size);
	memset(drops, 0, sizeof(drops));
	memset(stats, 0, sizeof(stats));
	ctx.data = (uint32_t)(uintptr_t)frame;
	ctx.data_end = (uint32_t)(uintptr_t)(frame + size);

	verdict = herald_steer(&ctx);
	enum herald_drop why = counted_drop();

	check(verdict == XDP_PASS || verdict == XDP_DROP || verdict == XDP_TX || verdict == XSK_VERDICT);
	check((verdict == XDP_DROP) == (why != HERALD_DROP_NONE));
	if (verdict != XDP_TX)
		check(memcmp(frame, orig, size) == 0); /* only a reply rewrites the frame */

	/* The node's own ARP and ICMP, told apart from the raw bytes. */
	uint16_t ethertype = size >= 14 ? (uint16_t)(orig[12] << 8 | orig[13]) : 0;
	uint32_t tpa = 0, daddr = 0;
	if (size >= 14 + 28)
		memcpy(&tpa, orig + 14 + 24, 4);
	if (size >= 14 + 20)
		memcpy(&daddr, orig + 14 + 16, 4);
	int node_arp = ethertype == ETH_P_ARP && size >= 14 + 28 && memcmp(orig + 14, "\0\1\x08\0\6\4", 6) == 0 &&
		       tpa == NODE_IP;
	int node_icmp = ethertype == ETH_P_IP && size >= 14 + 20 && (orig[14] & 0x0f) >= 5 &&
			size >= 14 + (size_t)(orig[14] & 0x0f) * 4 && orig[14 + 9] == IPPROTO_ICMP &&
			daddr == NODE_IP;
	check(stats[HERALD_XDP_CTR_NODE_STEERED] == (uint64_t)(node_arp || node_icmp));
	if (node_arp || node_icmp) {
		check(verdict == XSK_VERDICT);
		return 0;
	}

	/* Past the IP/UDP checks, frame offsets are known to be sane. */
	if (verdict == XSK_VERDICT || verdict == XDP_TX || header_level(why)) {
		size_t ihl = (size_t)(orig[14] & 0x0f) * 4;
		size_t off = sizeof(struct ethhdr) + ihl + sizeof(struct udphdr);
		size_t len = (size_t)(orig[off - 4] << 8 | orig[off - 3]) - sizeof(struct udphdr);
		enum herald_drop codec;

		check(off + len <= size);
		codec = herald_frame_decode(orig + off, len, &f);
		if (header_level(why))
			check(codec == why);
		/* bad_flags is also a body check (reserved fields of bodies): not a header disagreement. */
		if (verdict == XSK_VERDICT)
			check(!header_level(codec) || codec == HERALD_DROP_BAD_FLAGS);
		if (verdict == XDP_TX) {
			check(codec == HERALD_DROP_NONE && f.type == HERALD_T_HELLO);
			check(herald_frame_decode(frame + off, len, &f) == HERALD_DROP_NONE);
			check(f.type == HERALD_T_REDIRECT && f.context == CTX_ROUTED);
			/* Back to where the HELLO came from: addresses and ports swapped. */
			check(memcmp(frame + 26, orig + 30, 4) == 0 && memcmp(frame + 30, orig + 26, 4) == 0);
			check(memcmp(frame + off - 8, orig + off - 6, 2) == 0);
			check(stats[HERALD_XDP_CTR_REDIRECTS_SENT] == 1);
		}
	}
	return 0;
}
