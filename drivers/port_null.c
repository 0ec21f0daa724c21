/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_null: discards TX, receives nothing. The dataplane alone, for
 * benchmarks (bench/fanout_null.c). Its TX frees whatever it is given,
 * chains included, so fan-out runs zero-copy.
 */
#include "kinds.h"

static const char *const devargs[] = {"size", "copy", NULL};

const struct herald_port_kind herald_port_null = {
	.name = "null",
	.driver = "net_null",
	.help = "discards TX, receives nothing: dataplane-only benchmarks",
	.attach = HERALD_PORT_NONE,
	.base = "no-rx=1",
	.devargs = devargs,
	.chains_ok = true,
	.rx = HERALD_RX_NONE,
};
