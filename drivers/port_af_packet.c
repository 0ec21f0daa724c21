/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AF_PACKET mmap rings on a kernel interface (net_af_packet): works on any
 * interface and kernel, copies on RX, sends mbuf chains (zero-copy fan-out).
 * Its queue pairs share one PACKET_FANOUT group hashed by the kernel, so
 * UDP ports cannot be steered to queues: misqueued frames go to their
 * owner through the dataplane's rings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <linux/if_packet.h>

#include "kinds.h"

static const char *const devargs[] = {"blocksz", "framesz", "framecnt", "qdisc_bypass", NULL};

/* The PMD's per-frame overhead in a TPACKET_V2 ring slot, and Herald's largest frame. */
#define SLOT_HDR (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))
#define FRAME_MAX 1514u
/* The PMD copies a received slot into one mbuf of RTE_MBUF_DEFAULT_DATAROOM bytes. */
#define MBUF_DATA 2048u

static int num(const struct herald_port_spec *spec, const char *key, unsigned long *out, char *err,
	       size_t errlen)
{
	size_t len;
	const char *v = herald_port_arg(spec, key, &len);
	char *end;

	if (v == NULL) /* the base sets every key: not reached */
		v = "", len = 0;
	*out = strtoul(v, &end, 10);
	if (len == 0 || v[0] < '0' || v[0] > '9' || (size_t)(end - v) != len || *out == 0 ||
	    *out > (1ul << 24)) {
		snprintf(err, errlen, "af_packet: %s expects a positive integer, got '%.*s'", key,
			 (int)len, v);
		return -EINVAL;
	}
	return 0;
}

/*
 * The kernel's rules for a TPACKET_V2 ring (packet_set_ring) and the PMD's
 * (frames fit an mbuf), checked here so a bad value is named instead of
 * "could not set PACKET_RX_RING" at start.
 */
static int af_packet_args_check(const struct herald_port_spec *spec, char *err, size_t errlen)
{
	unsigned long bs, fs, fc, page = (unsigned long)getpagesize();
	unsigned long fmin = (FRAME_MAX + SLOT_HDR + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1ul);
	unsigned long fmax = MBUF_DATA + SLOT_HDR;
	size_t len;
	const char *b = herald_port_arg(spec, "qdisc_bypass", &len);

	if (b == NULL)
		b = "", len = 0;

	if (num(spec, "blocksz", &bs, err, errlen) < 0 || num(spec, "framesz", &fs, err, errlen) < 0 ||
	    num(spec, "framecnt", &fc, err, errlen) < 0)
		return -EINVAL;
	if (len != 1 || (b[0] != '0' && b[0] != '1')) {
		snprintf(err, errlen, "af_packet: qdisc_bypass expects 0 or 1, got '%.*s'", (int)len, b);
		return -EINVAL;
	}
	if (fs < fmin || fs > fmax || fs % TPACKET_ALIGNMENT != 0) {
		snprintf(err, errlen, "af_packet: framesz %lu: expected a multiple of %d in %lu..%lu "
			 "(a %u-byte frame plus the %zu-byte slot header, within one mbuf)",
			 fs, TPACKET_ALIGNMENT, fmin, fmax, FRAME_MAX, SLOT_HDR);
		return -EINVAL;
	}
	if (bs % page != 0 || bs < fs) {
		snprintf(err, errlen, "af_packet: blocksz %lu: expected a multiple of the page size (%lu) "
			 "and at least framesz (%lu)", bs, page, fs);
		return -EINVAL;
	}
	if (fc % (bs / fs) != 0) {
		snprintf(err, errlen, "af_packet: framecnt %lu: expected a multiple of the %lu frames "
			 "a block holds (blocksz %lu / framesz %lu)", fc, bs / fs, bs, fs);
		return -EINVAL;
	}
	return 0;
}

const struct herald_port_kind herald_port_af_packet = {
	.name = "af_packet",
	.driver = "net_af_packet",
	.help = "AF_PACKET mmap rings on a kernel interface: af_packet:IFACE",
	.attach = HERALD_PORT_IFACE,
	.base = "framesz=2048,blocksz=4096,framecnt=2048,qdisc_bypass=1",
	.devargs = devargs,
	.queues_key = "qpairs",
	.rx = HERALD_RX_COPY,
	.args_check = af_packet_args_check,
};
