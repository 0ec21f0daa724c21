/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What publish authentication costs the dataplane per PUBLISH datagram:
 * herald_publish_verify() (SipHash-2-4 over the datagram, in place) on
 * datagrams of a few sizes, in ns per call, the median of 7 rounds. The
 * dataplane's per-packet budget is the thing to compare it with
 * (docs/performance.md, herald-bench-fanout).
 *
 *   build/bench/herald-bench-publish-mac
 */
#define BENCH_NAME "herald-bench-publish-mac"
#include "bench_util.h"

#include <herald/proto.h>

#define ROUNDS 7
#define CALLS 200000

int main(void)
{
	static const unsigned values[] = {1, 100, 1000, 1400};
	static const uint8_t key[HERALD_PUBLISH_KEY_LEN] = "bench publish k";
	static uint8_t value[HERALD_FRAG_BODY_MAX];
	uint8_t dgram[sizeof(struct herald_hdr) + HERALD_FRAG_BODY_MAX];
	struct herald_hdr_fields h = {.type = HERALD_T_PUBLISH, .context = 1, .seq = 1};

	printf("%-10s %-10s %s\n", "datagram", "ns/verify", "(median of 7 rounds of 200000)");
	for (unsigned v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		int n = herald_entry_encode(dgram, sizeof(dgram), &h, "bench/key", 9, value, values[v], 0);
		struct herald_frame f;
		uint64_t ns[ROUNDS];
		unsigned ok = 0;

		if (n < 0)
			return 1;
		herald_publish_sign(dgram, (size_t)n, key);
		if (herald_frame_decode(dgram, (size_t)n, &f) != HERALD_DROP_NONE)
			return 1;
		for (int r = 0; r < ROUNDS; r++) {
			uint64_t t0 = now_ns();
			for (int i = 0; i < CALLS; i++)
				ok += (unsigned)herald_publish_verify(dgram, (size_t)n, &f, key);
			ns[r] = now_ns() - t0;
		}
		if (ok != ROUNDS * CALLS) {
			fprintf(stderr, "%s: a valid MAC failed to verify\n", BENCH_NAME);
			return 1;
		}
		qsort(ns, ROUNDS, sizeof(ns[0]), cmp_u64);
		printf("%-10d %-10.1f\n", n, (double)ns[ROUNDS / 2] / CALLS);
	}
	return 0;
}
