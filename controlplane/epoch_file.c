/* SPDX-License-Identifier: BSD-3-Clause */
/* heraldd's epoch file (epoch_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "epoch_file.h"

int herald_epoch_file_load(const char *path, uint32_t *epoch, char *err, size_t errlen)
{
	char buf[64], *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -errno;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	int rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		return rc;
	}
	buf[n] = '\0';
	errno = 0;
	unsigned long v = strncmp(buf, "epoch ", 6) == 0 && buf[6] >= '0' && buf[6] <= '9'
				  ? strtoul(buf + 6, &end, 10) : 0;
	if (v == 0 || errno != 0 || v > UINT32_MAX - 1 || strcmp(end, "\n") != 0) {
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errlen, "%s: expected one line 'epoch N' (N in 1..%u), got '%.40s'; "
			 "remove the file only if no peer ever ran with this node", path, UINT32_MAX - 1, buf);
		return -EINVAL;
	}
	*epoch = (uint32_t)v;
	return 0;
}

/* The directory of @p path, fsynced so a rename into it is durable. */
static int dir_sync(const char *path, bool create)
{
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path);
	const char *dir = dirname(copy);
	if (create && mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = create ? 0 : fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int herald_epoch_file_save(const char *path, uint32_t epoch, char *err, size_t errlen)
{
	char tmp[4200], line[32];
	int rc = dir_sync(path, true), fd = -1, len = snprintf(line, sizeof(line), "epoch %u\n", epoch);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (rc == 0 && (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
		rc = -errno;
	errno = 0;
	if (rc == 0 && write(fd, line, (size_t)len) != len)
		rc = errno ? -errno : -EIO;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = dir_sync(path, false);
	if (rc < 0) {
		unlink(tmp);
		snprintf(err, errlen, "%s: cannot save epoch %u: %s", path, epoch, strerror(-rc));
	}
	return rc;
}
