/*
 * audit: appending a line to audit.log and rotating it by size (docs/storage.md "audit.log").
 * Every writer of the file (deliveries, the reporting page's figures and explanations) appends
 * through here, so one process-wide lock orders the appends and the rotations between them: a
 * line is never split between two files and every writer's lines count towards the limit.
 * Blocking (open, write, fsync, rename): thread pool only.
 */
#ifndef PW_AUDIT_H
#define PW_AUDIT_H

#include <stddef.h>
#include <stdint.h>

/* The rotated files kept: PATH.1 .. PATH.3. */
#define PW_AUDIT_KEEP 3

/* Appends LINE (LEN bytes, its newline included) to the audit log PATH in one write and fsyncs
 * it, never appending through a symbolic link planted at PATH nor waiting on a FIFO. When
 * MAX_BYTES > 0 and the line would take a non-empty file past it, the file is rotated first
 * (PATH.2 -> PATH.3, PATH.1 -> PATH.2, PATH -> PATH.1). Returns 0 or a negative errno, the
 * failure logged with the path. */
int pw_audit_append(const char *path, const char *line, size_t len, int64_t max_bytes);

#endif
