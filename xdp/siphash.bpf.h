/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SipHash-2-4 of exactly 16 bytes, for the REDIRECT token. The message length
 * is fixed by struct herald_token_msg, so there is no tail block and no loop:
 * the verifier sees straight-line code. Userspace computes the same function
 * with libsodium (crypto_shorthash_siphash24); tests/xdp checks they agree.
 */
#ifndef HERALD_SIPHASH_BPF_H
#define HERALD_SIPHASH_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u64 sip_rotl(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/*
 * SipHash reads key and message as little-endian words. Both arrive 8-byte
 * aligned (a map value, a stack union), so one load each on a little-endian
 * host; a big-endian one swaps.
 */
static __always_inline __u64 sip_le64(const void *p)
{
	__u64 v = *(const __u64 *)p;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

#define SIPROUND                                                                       \
	do {                                                                           \
		v0 += v1; v1 = sip_rotl(v1, 13); v1 ^= v0; v0 = sip_rotl(v0, 32);      \
		v2 += v3; v3 = sip_rotl(v3, 16); v3 ^= v2;                             \
		v0 += v3; v3 = sip_rotl(v3, 21); v3 ^= v0;                             \
		v2 += v1; v1 = sip_rotl(v1, 17); v1 ^= v2; v2 = sip_rotl(v2, 32);      \
	} while (0)

/* @p key and @p msg must be 8-byte aligned. */
static __always_inline __u64 herald_siphash24_16(const void *key, const void *msg)
{
	__u64 k0 = sip_le64(key), k1 = sip_le64((const __u8 *)key + 8);
	__u64 m0 = sip_le64(msg), m1 = sip_le64((const __u8 *)msg + 8);
	__u64 v0 = k0 ^ 0x736f6d6570736575ULL;
	__u64 v1 = k1 ^ 0x646f72616e646f6dULL;
	__u64 v2 = k0 ^ 0x6c7967656e657261ULL;
	__u64 v3 = k1 ^ 0x7465646279746573ULL;
	__u64 b = (__u64)16 << 56;

	v3 ^= m0; SIPROUND; SIPROUND; v0 ^= m0;
	v3 ^= m1; SIPROUND; SIPROUND; v0 ^= m1;
	v3 ^= b; SIPROUND; SIPROUND; v0 ^= b;
	v2 ^= 0xff;
	SIPROUND; SIPROUND; SIPROUND; SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

#undef SIPROUND

#endif /* HERALD_SIPHASH_BPF_H */
