/*
 * audit: see audit.h.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* One rotation and the appends around it at a time, whoever writes. */
static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;

/* Opens PATH to append, never waiting on a FIFO (O_NONBLOCK: its open fails at once without a
 * reader) nor appending through a symbolic link planted at its name; *ST is what it is.
 * Returns the descriptor or -1 with errno. */
static int audit_open(const char *path, struct stat *st) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0644);

  if (fd >= 0 && (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))) {
    close(fd);
    fd = -1;
    errno = EINVAL;
  }
  return fd;
}

/* Makes the renames durable: a directory entry lives in the directory's own data. */
static void fsync_parent(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  int fd;

  if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
    snprintf(dir, sizeof(dir), ".");
  else
    snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* PATH.2 -> .3, .1 -> .2, PATH -> .1: a rename moves a link planted at a name, never what it
 * points to. The caller holds audit_lock. */
static void audit_rotate(const char *path, off_t size) {
  char from[4400], to[4400];
  int i;

  for (i = PW_AUDIT_KEEP; i >= 1; i--) {
    if (i > 1)
      snprintf(from, sizeof(from), "%s.%d", path, i - 1);
    else
      snprintf(from, sizeof(from), "%s", path);
    snprintf(to, sizeof(to), "%s.%d", path, i);
    if (rename(from, to) != 0 && errno != ENOENT)
      pw_log_error("%s: cannot rotate to %s: %s", from, to, strerror(errno));
  }
  fsync_parent(path);
  pw_log_info("%s rotated at %lld bytes (daemon.audit_max_bytes): the older lines are in %s.1",
              path, (long long)size, path);
}

int pw_audit_append(const char *path, const char *line, size_t len, int64_t max_bytes) {
  struct stat st;
  int fd, rc = 0;

  pthread_mutex_lock(&audit_lock);
  fd = audit_open(path, &st);
  /* A file with no line yet is never rotated, whatever the line's length. */
  if (fd >= 0 && max_bytes > 0 && st.st_size > 0 &&
      (int64_t)st.st_size + (int64_t)len > max_bytes) {
    close(fd);
    audit_rotate(path, st.st_size);
    fd = audit_open(path, &st);
  }
  if (fd < 0) {
    const char *kind = "";
    rc = -errno;
    pthread_mutex_unlock(&audit_lock);
    if (pw_regular_file(path, &kind) < 0 && kind[0] != '\0')
      pw_log_error("%s: cannot open: %s, not a regular file", path, kind);
    else
      pw_log_error("%s: cannot open: %s", path, strerror(-rc));
    return rc;
  }
  rc = pw_write_all(fd, line, len, NULL);
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  close(fd);
  pthread_mutex_unlock(&audit_lock);
  if (rc < 0)
    pw_log_error("%s: cannot append: %s", path, strerror(-rc));
  return rc;
}
