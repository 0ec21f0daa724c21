/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-echo: a plain kernel UDP echo server. It is the floor of the
 * ping-pong benchmark: the round trip a kernel-socket client sees with no
 * Herald in the path, measured on the same machine in the same run.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <herald/client.h>

#define BURST 32
/* Holds the largest UDP payload over IPv4, so nothing is ever truncated. */
#define BUF_SIZE 65536

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-echo --bind IP:PORT [--quiet]\n"
		"  Echo every UDP datagram back to its sender until SIGINT/SIGTERM.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"bind", required_argument, NULL, 'b'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static uint8_t bufs[BURST][BUF_SIZE];
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	struct sockaddr_in addr, peers[BURST];
	const char *bind_arg = NULL;
	unsigned long long echoed = 0;
	struct sigaction sa;
	int quiet = 0, fd, opt;

	while ((opt = getopt_long(argc, argv, "b:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bind_arg = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || bind_arg == NULL) {
		fprintf(stderr, "herald-echo: --bind IP:PORT is required\n");
		usage(stderr);
		return 2;
	}
	if (herald_addr_parse(bind_arg, 0, &addr) < 0 || addr.sin_port == 0) {
		fprintf(stderr, "herald-echo: --bind expects IPv4:PORT with a non-zero port, got '%s'\n",
			bind_arg);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* No SA_RESTART: the blocking poll() must return so the loop sees the flag. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("herald-echo: socket");
		return 1;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "herald-echo: bind %s: %s\n", bind_arg, strerror(errno));
		close(fd);
		return 1;
	}
	if (!quiet)
		fprintf(stderr, "herald-echo: echoing on %s\n", bind_arg);

	while (!stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("herald-echo: poll");
			break;
		}
		for (int i = 0; i < BURST; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = BUF_SIZE;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &peers[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
		}
		n = recvmmsg(fd, msgs, BURST, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("herald-echo: recvmmsg");
			break;
		}
		for (int i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		/* The received headers already name each peer: send them straight back. */
		for (int done = 0; done < n;) {
			int r = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				/* A peer that went away must not stop the echo for others. */
				done++;
				continue;
			}
			done += r;
			echoed += (unsigned long long)r;
		}
	}
	if (!quiet)
		fprintf(stderr, "herald-echo: %llu datagrams echoed\n", echoed);
	close(fd);
	return 0;
}
