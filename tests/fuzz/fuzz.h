/* SPDX-License-Identifier: BSD-3-Clause */
/* What every libFuzzer target here shares: its entry point and the invariant check. */
#ifndef HERALD_FUZZ_H
#define HERALD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise is a finding: abort, so libFuzzer keeps the input. */
static inline void check(int cond)
{
	if (!cond)
		abort();
}

#endif
