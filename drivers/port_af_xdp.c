/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An AF_XDP socket per queue on a kernel interface (net_af_xdp): the NIC
 * stays on its kernel driver, Herald's XDP program steers herald frames into
 * the sockets and passes the rest to the kernel. Zero-copy RX where the
 * kernel driver supports it (read from the sockets at start; veth: copy).
 * 22.11's PMD does not advertise multi-segment TX: fan-out copies, counted.
 * Queue steering with the kernel driver's n-tuple filters.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <linux/if_xdp.h>

#include "kinds.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

static const char *const devargs[] = {"start_queue", "shared_umem", "busy_budget", "xdp_prog",
				      NULL};

const struct herald_port_kind herald_port_af_xdp = {
	.name = "af_xdp",
	.driver = "net_af_xdp",
	.help = "AF_XDP sockets on a kernel interface (copy or zero-copy mode): af_xdp:IFACE",
	.attach = HERALD_PORT_IFACE,
	.base = "start_queue=0",
	.devargs = devargs,
	.queues_key = "queue_count",
	.rx = HERALD_RX_KERNEL,
	.steer = herald_ntuple_steer,
	.unsteer = herald_ntuple_unsteer,
};

/*
 * The PMD does not say which mode the kernel bound its sockets in; the
 * sockets do (XDP_OPTIONS). They are this process's only AF_XDP sockets.
 */
int herald_xsk_zero_copy(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		struct xdp_options opts;
		int fd = atoi(e->d_name), domain;
		socklen_t len = sizeof(domain);

		if (e->d_name[0] == '.' || fd == dirfd(d) ||
		    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_XDP)
			continue;
		len = sizeof(opts);
		if (getsockopt(fd, SOL_XDP, XDP_OPTIONS, &opts, &len) != 0)
			continue;
		if (!(opts.flags & XDP_OPTIONS_ZEROCOPY)) {
			found = 0;
			break;
		}
		found = 1;
	}
	closedir(d);
	return found;
}
