/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the address token costs the dataplane per SUBSCRIBE (--token-key,
 * docs/protocol.md §3.2.1): herald_token_check() (SipHash-2-4 over 16 bytes
 * with libsodium, constant-time compare, expiry) for a valid, a forged and
 * an expired token, in ns per call, the median of 7 rounds.
 *
 *   build/bench/herald-bench-token-check
 */
#define BENCH_NAME "herald-bench-token-check"
#include "bench_util.h"

#include <arpa/inet.h>

#include "token.h"

#define ROUNDS 7
#define CALLS 1000000

int main(void)
{
	static const uint8_t key[HERALD_TOKEN_KEY_LEN] = "bench token key";
	const uint32_t ip = htonl(0xc6120002), ctx = 77, now = 1000000;
	const uint16_t port = htons(40000);
	const uint64_t valid = herald_token_for(key, ip, port, ctx, now + 60);
	const struct {
		const char *name;
		uint32_t expiry;
		uint64_t token;
		enum herald_drop want;
	} cases[] = {
		{"valid", now + 60, valid, HERALD_DROP_NONE},
		{"forged", now + 60, valid ^ 1, HERALD_DROP_BAD_TOKEN},
		{"expired", now - 1, herald_token_for(key, ip, port, ctx, now - 1), HERALD_DROP_TOKEN_EXPIRED},
	};

	printf("%-10s %-10s %s\n", "token", "ns/check", "(median of 7 rounds of 1000000)");
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t ns[ROUNDS];
		unsigned bad = 0;

		for (int r = 0; r < ROUNDS; r++) {
			uint64_t t0 = now_ns();
			for (int i = 0; i < CALLS; i++)
				bad += herald_token_check(key, ip, port, ctx, cases[c].expiry, cases[c].token, now) !=
				       cases[c].want;
			ns[r] = now_ns() - t0;
		}
		if (bad != 0) {
			fprintf(stderr, "%s: %s token checked wrong\n", BENCH_NAME, cases[c].name);
			return 1;
		}
		qsort(ns, ROUNDS, sizeof(ns[0]), cmp_u64);
		printf("%-10s %-10.1f\n", cases[c].name, (double)ns[ROUNDS / 2] / CALLS);
	}
	return 0;
}
