/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-xdp-bench: nanoseconds per frame through the steer XDP program,
 * measured by the kernel with BPF_PROG_TEST_RUN and a repeat count (root).
 * The headline is "ns per HELLO answered" (HELLO in, REDIRECT out, XDP_TX);
 * the other paths are printed for comparison.
 *
 *   herald-xdp-bench [--repeat N]     (default 1000000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"

#define CONTEXT_KNOWN 1000
#define CONTEXT_UNKNOWN 2000

static uint16_t csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Ethernet + IPv4 + UDP to queue 0's port, around a herald frame. */
static size_t frame(uint8_t *buf, uint8_t type, uint32_t context, size_t body_len)
{
	static const uint8_t node_mac[6] = {0x02, 0, 0, 0, 0, 1}, client_mac[6] = {0x02, 0, 0, 0, 0, 2};
	/* Headers are built in aligned locals: offset 14 of a byte array is not. */
	struct ethhdr eth = {.h_proto = htons(ETH_P_IP)};
	struct iphdr ip;
	struct udphdr udp;
	uint8_t *payload = buf + sizeof(eth) + sizeof(ip) + sizeof(udp);
	struct herald_hdr_fields h = {.type = type, .context = context, .seq = 1};
	size_t plen = sizeof(struct herald_hdr) + body_len;

	memcpy(eth.h_dest, node_mac, 6);
	memcpy(eth.h_source, client_mac, 6);
	ip = (struct iphdr){.version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
			    .tot_len = htons((uint16_t)(sizeof(ip) + sizeof(udp) + plen)),
			    .frag_off = htons(0x4000), .saddr = htonl(0x0a000002), .daddr = htonl(0x0a000001)};
	ip.check = csum(&ip, sizeof(ip));
	udp = (struct udphdr){.source = htons(40000), .dest = htons(HERALD_UDP_PORT_BASE),
			      .len = htons((uint16_t)(sizeof(udp) + plen))};
	memcpy(buf, &eth, sizeof(eth));
	memcpy(buf + sizeof(eth), &ip, sizeof(ip));
	memcpy(buf + sizeof(eth) + sizeof(ip), &udp, sizeof(udp));
	herald_hdr_encode(payload, &h, 0, (uint16_t)body_len, (uint16_t)body_len);
	memset(payload + sizeof(struct herald_hdr), 0, body_len);
	return (size_t)(payload - buf) + plen;
}

static int run(int prog_fd, const uint8_t *pkt, size_t len, unsigned repeat, uint32_t *verdict, uint32_t *ns)
{
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = repeat);
	int err = bpf_prog_test_run_opts(prog_fd, &o);

	*verdict = o.retval;
	*ns = o.duration;
	return err;
}

static int check(const char *what, int err, uint32_t verdict, int want)
{
	if (err) {
		fprintf(stderr, "herald-xdp-bench: %s: BPF_PROG_TEST_RUN: %s\n", what, strerror(-err));
		return err;
	}
	if ((int)verdict != want) {
		fprintf(stderr, "herald-xdp-bench: %s: verdict %u, expected %d\n", what, verdict, want);
		return -EPROTO;
	}
	return 0;
}

/* One BPF_PROG_TEST_RUN with the kernel repeating the frame @p repeat times. */
static int bench_repeat(int prog_fd, const char *what, const uint8_t *pkt, size_t len, int want,
			unsigned repeat, double *ns)
{
	uint32_t verdict = 0, d = 0;
	int err = run(prog_fd, pkt, len, repeat, &verdict, &d);

	err = check(what, err, verdict, want);
	if (err)
		return err;
	*ns = d;
	printf("%-36s %8.1f ns/frame  kernel repeat=%u\n", what, *ns, repeat);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* @p calls runs of repeat=1: for a program that rewrites its input in place. */
static int bench_calls(int prog_fd, const char *what, const uint8_t *pkt, size_t len, int want,
		       unsigned calls, double *p50)
{
	uint32_t *d = calloc(calls, sizeof(*d)), verdict = 0;
	double sum = 0;
	int err = 0;

	if (d == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < calls && err == 0; i++) {
		err = run(prog_fd, pkt, len, 1, &verdict, &d[i]);
		err = check(what, err, verdict, want);
		sum += d[i];
	}
	if (err == 0) {
		qsort(d, calls, sizeof(*d), cmp_u32);
		*p50 = d[calls / 2];
		printf("%-36s %8.1f ns/frame  %u calls of repeat=1 (p50 %u, p99 %u ns)\n", what, sum / calls,
		       calls, d[calls / 2], d[(size_t)calls * 99 / 100]);
	}
	free(d);
	return err;
}

int main(int argc, char **argv)
{
	static const uint8_t key[HERALD_TOKEN_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct herald_xdp_opts opts = {.pin_dir = "", .nqueues = 1};
	struct herald_xdp_route route = {.node_ip = htonl(0x0a000001), .port = HERALD_UDP_PORT_BASE};
	struct herald_xdp_insns insns;
	unsigned repeat = 1000000;
	uint8_t pkt[256];
	struct herald_xdp *x;
	int rc = 1, fd;
	size_t len;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
			repeat = (unsigned)strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [--repeat N]\n", argv[0]);
			return 2;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "herald-xdp-bench: BPF_PROG_TEST_RUN needs root\n");
		return 77;
	}

	x = herald_xdp_open(&opts);
	if (x == NULL) {
		fprintf(stderr, "herald-xdp-bench: load: %s\n", strerror(errno));
		return 1;
	}
	if (herald_xdp_secret_set(x, key, 0) || herald_xdp_route_set(x, CONTEXT_KNOWN, &route)) {
		fprintf(stderr, "herald-xdp-bench: map update failed\n");
		goto out;
	}
	fd = herald_xdp_prog_fd(x);
	if (herald_xdp_insns(x, &insns) == 0)
		printf("steer: %u insns in object, %u xlated, %u B jited, %u verified\n", insns.object,
		       insns.xlated, insns.jited, insns.verified);

	/*
	 * BPF_PROG_TEST_RUN repeats a frame in place: after the first run a
	 * HELLO has become the REDIRECT, so "repeat" would time REDIRECTs being
	 * passed. The answered HELLO is therefore timed call by call (repeat=1),
	 * which adds the kernel timer's cost to every sample. The unknown-context
	 * HELLO, identical up to the route lookup and unmodified by the program,
	 * is timed both ways: its repeat figure plus the p50 difference between
	 * the two HELLOs timed call by call is the cost of answering, timer
	 * cancelled.
	 */
	double hello_p50, miss_p50, miss_ns, data_ns, drop_ns;

	len = frame(pkt, HERALD_T_HELLO, CONTEXT_KNOWN, sizeof(struct herald_hello_body));
	if (bench_calls(fd, "HELLO answered (REDIRECT, XDP_TX)", pkt, len, XDP_TX, repeat, &hello_p50))
		goto out;
	len = frame(pkt, HERALD_T_HELLO, CONTEXT_UNKNOWN, sizeof(struct herald_hello_body));
	if (bench_calls(fd, "HELLO unknown context (XDP_PASS)", pkt, len, XDP_PASS, repeat, &miss_p50) ||
	    bench_repeat(fd, "HELLO unknown context (XDP_PASS)", pkt, len, XDP_PASS, repeat, &miss_ns))
		goto out;
	len = frame(pkt, HERALD_T_SUBSCRIBE, CONTEXT_KNOWN, sizeof(struct herald_subscribe_body));
	if (bench_repeat(fd, "SUBSCRIBE, no XSK bound (XDP_PASS)", pkt, len, XDP_PASS, repeat, &data_ns))
		goto out;
	len = frame(pkt, HERALD_T_HELLO, CONTEXT_KNOWN, sizeof(struct herald_hello_body));
	pkt[sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr)] ^= 0xff;
	if (bench_repeat(fd, "bad magic (XDP_DROP)", pkt, len, XDP_DROP, repeat, &drop_ns))
		goto out;
	printf("ns per HELLO answered in XDP: %.1f\n", miss_ns + (hello_p50 - miss_p50));
	rc = 0;
out:
	herald_xdp_destroy(x);
	return rc;
}
