/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue steering on an AF_XDP port: the NIC stays on its kernel driver, so
 * the rules are the driver's n-tuple filters, what `ethtool -N IFACE
 * flow-type udp4 dst-ip NODE dst-port BASE+q action q` installs (ixgbe,
 * i40e, ice, mlx5 support them; veth does not: EOPNOTSUPP). Queue q of the
 * port is ring start_queue + q of the interface.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "kinds.h"

static int rxnfc(int fd, const char *iface, struct ethtool_rxnfc *nfc)
{
	struct ifreq ifr = {0};

	memcpy(ifr.ifr_name, iface, strnlen(iface, sizeof(ifr.ifr_name) - 1));
	ifr.ifr_data = (void *)nfc;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

static unsigned start_queue(const struct herald_port *port)
{
	const char *s = strstr(port->spec.extra, "start_queue=");

	return s != NULL ? (unsigned)strtoul(s + strlen("start_queue="), NULL, 10) : 0;
}

int herald_ntuple_steer(struct herald_port *port, uint32_t ip, uint16_t base, char *why, size_t len)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -ENOTSUP;
	}
	for (uint16_t q = 0; q < port->nb_queues; q++) {
		struct ethtool_rxnfc nfc = {.cmd = ETHTOOL_SRXCLSRLINS};
		nfc.fs.flow_type = UDP_V4_FLOW;
		nfc.fs.h_u.udp_ip4_spec.ip4dst = ip;
		nfc.fs.m_u.udp_ip4_spec.ip4dst = UINT32_MAX;
		nfc.fs.h_u.udp_ip4_spec.pdst = htons((uint16_t)(base + q));
		nfc.fs.m_u.udp_ip4_spec.pdst = UINT16_MAX;
		nfc.fs.ring_cookie = start_queue(port) + q;
		nfc.fs.location = RX_CLS_LOC_ANY;
		int rc = rxnfc(fd, port->spec.iface, &nfc);
		if (rc < 0) {
			snprintf(why, len, "ethtool n-tuple filter udp/%u -> ring %llu on %s: %s%s", base + q,
				 (unsigned long long)nfc.fs.ring_cookie, port->spec.iface, strerror(-rc),
				 rc == -EOPNOTSUPP ? " (the kernel driver has no n-tuple filters)" : "");
			close(fd);
			herald_ntuple_unsteer(port);
			return -ENOTSUP;
		}
		port->rules[port->nrules++] = nfc.fs.location;
	}
	close(fd);
	return 0;
}

void herald_ntuple_unsteer(struct herald_port *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	for (unsigned i = 0; fd >= 0 && i < port->nrules; i++) {
		struct ethtool_rxnfc nfc = {.cmd = ETHTOOL_SRXCLSRLDEL};
		nfc.fs.location = (uint32_t)port->rules[i];
		rxnfc(fd, port->spec.iface, &nfc);
	}
	if (fd >= 0)
		close(fd);
	port->nrules = 0;
}
