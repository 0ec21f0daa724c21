/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file epoch_file.h
 * heraldd's state file: the highest view epoch the daemon issued, kept
 * across restarts so a restarted daemon never hands out an epoch lower than
 * one it handed out before (docs/director.md, "Epochs"). One line,
 * "epoch N", replaced atomically (write, fsync, rename), so a crash leaves
 * the previous version or the new one, never a torn one.
 */
#ifndef HERALD_EPOCH_FILE_H
#define HERALD_EPOCH_FILE_H

#include <stddef.h>
#include <stdint.h>

/**
 * Read the epoch saved in @p path.
 * @return 0 with *@p epoch set; -ENOENT (no file: a first start); -EINVAL
 *         (not "epoch N": @p err says what was found); another -errno.
 */
int herald_epoch_file_load(const char *path, uint32_t *epoch, char *err, size_t errlen);

/**
 * Save @p epoch to @p path durably before it is used (its directory is
 * created if missing, one level).
 * @return 0, or -errno with @p err filled.
 */
int herald_epoch_file_save(const char *path, uint32_t epoch, char *err, size_t errlen);

#endif /* HERALD_EPOCH_FILE_H */
