/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The port layer's `--port` parsing (drivers/port.c and the kind modules):
 * every kind's attachment (PCI address, interface, none) and its device
 * arguments, each refusal saying what was expected. No EAL needed.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "port.h"

static struct herald_port_spec spec;
static char err[256];

static int parse(const char *text)
{
	err[0] = '\0';
	return herald_port_parse(text, &spec, err, sizeof(err));
}

static void refused(const char *text, const char *want)
{
	cr_assert_eq(parse(text), -EINVAL, "'%s' accepted", text);
	cr_assert(strstr(err, want) != NULL, "'%s': error '%s' lacks '%s'", text, err, want);
}

Test(port, every_kind_parses)
{
	const char *ok[] = {"af_xdp:eth1", "af_packet:veth0,framecnt=4096", "tap:htap0", "memif",
			    "memif,role=client,id=3", "null", "null,size=64", "pci:0000:3b:00.1",
			    "af_xdp:eth1,busy_budget=0,start_queue=2"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(parse(ok[i]), 0, "'%s': %s", ok[i], err);
	cr_assert_str_eq(spec.kind->name, "af_xdp");
	cr_assert_str_eq(spec.iface, "eth1");
	cr_assert_str_eq(spec.extra, "busy_budget=0,start_queue=2");
	cr_assert(strstr(herald_port_kinds(), "pci") != NULL);
}

Test(port, pci_address_is_checked_and_normalised)
{
	cr_assert_eq(parse("pci:3b:00.1"), 0, "%s", err);
	cr_assert_str_eq(spec.iface, "0000:3b:00.1");
	cr_assert_eq(spec.kind->attach, HERALD_PORT_PCI);
	refused("pci", "needs a PCI address");
	refused("pci:eth0", "not a PCI address");
	refused("pci:0000:3b:00", "not a PCI address");
}

Test(port, attachments)
{
	refused("af_xdp", "needs an interface");
	refused("af_packet:", "needs an interface");
	refused("af_xdp:abcdefghijklmnop", "1..15 characters");
	refused("null:eth0", "takes no interface");
	refused("memif:x", "takes no interface");
	refused("ixgbe:eth0", "expected one of pci, af_xdp, af_packet, tap, memif, null");
}

Test(port, device_arguments)
{
	refused("af_packet:veth0,start_queue=0", "has no device argument 'start_queue': expected one of "
						 "blocksz, framesz, framecnt, qdisc_bypass");
	refused("af_xdp:eth1,queue_count=2", "set by Herald (use --queues)");
	refused("af_packet:eth1,qpairs=2", "set by Herald (use --queues)");
	refused("af_xdp:eth1,iface=eth2", "set by Herald (the interface after the colon)");
	refused("null,size", "expected KEY=VALUE");
	refused("null,=3", "expected KEY=VALUE");
	refused("null,size=", "expected KEY=VALUE");
	refused("null,size=64,,copy=1", "expected KEY=VALUE");
	/* af_packet's values are checked against the kernel's and the PMD's rules. */
	cr_assert_eq(parse("af_packet:veth0,framecnt=32,qdisc_bypass=0"), 0, "%s", err);
	refused("af_packet:veth0,framecnt=abc", "framecnt expects a positive integer, got 'abc'");
	refused("af_packet:veth0,framecnt=12x", "framecnt expects a positive integer, got '12x'");
	refused("af_packet:veth0,framecnt=0", "framecnt expects a positive integer, got '0'");
	refused("af_packet:veth0,framecnt=-4", "framecnt expects a positive integer");
	refused("af_packet:veth0,framecnt=33", "framecnt 33: expected a multiple of the 2 frames");
	refused("af_packet:veth0,qdisc_bypass=2", "qdisc_bypass expects 0 or 1, got '2'");
	refused("af_packet:veth0,framesz=1024", "framesz 1024: expected a multiple of 16 in 1552..2080");
	refused("af_packet:veth0,framesz=1601", "framesz 1601: expected a multiple of 16");
	refused("af_packet:veth0,blocksz=5000", "blocksz 5000: expected a multiple of the page size");
	refused("af_packet:veth0,blocksz=4096,framesz=2048,framecnt=7", "multiple of the 2 frames");
	/* PCI PMDs have their own keys: any KEY=VALUE passes here, the PMD checks it at probe. */
	cr_assert_eq(parse("pci:0000:3b:00.0,rxq_pkt_fill=64"), 0, "%s", err);
}
