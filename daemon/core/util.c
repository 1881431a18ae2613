/*
 * util: the small shared helpers of pacewatch (buffers, files, UTF-8, paths, redacted URLs).
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pw_buf_append(struct pw_buf *b, const void *data, size_t len) {
  if (b->limit != 0 && b->len + len > b->limit)
    return -E2BIG;
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    while (cap < b->len + len + 1)
      cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL)
      return -ENOMEM;
    b->data = p;
    b->cap = cap;
  }
  if (len > 0)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int pw_buf_printf(struct pw_buf *b, const char *fmt, ...) {
  char small[512];
  va_list ap;
  int n;
  char *big;
  int rc;

  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0)
    return -EINVAL;
  if ((size_t)n < sizeof(small))
    return pw_buf_append(b, small, (size_t)n);
  big = malloc((size_t)n + 1);
  if (big == NULL)
    return -ENOMEM;
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  rc = pw_buf_append(b, big, (size_t)n);
  free(big);
  return rc;
}

void pw_buf_free(struct pw_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* The whole file of descriptor FD (open for reading), at most LIMIT bytes: the reader of
 * pw_read_file and pw_read_state_file. Closes FD. */
static int read_whole(int fd, size_t limit, char **out, size_t *len) {
  struct pw_buf b = {NULL, 0, 0, limit};
  char chunk[65536];
  struct stat st;
  int rc = 0;

  if (fstat(fd, &st) != 0)
    rc = -errno;
  else if (!S_ISREG(st.st_mode))
    rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
  if (rc < 0) {
    close(fd);
    return rc;
  }
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      break;
    }
    if (n == 0)
      break;
    rc = pw_buf_append(&b, chunk, (size_t)n);
    if (rc < 0)
      break;
  }
  close(fd);
  if (rc == 0 && b.data == NULL)
    rc = pw_buf_append(&b, "", 0);
  if (rc < 0) {
    pw_buf_free(&b);
    return rc;
  }
  *out = b.data;
  if (len != NULL)
    *len = b.len;
  return 0;
}

int pw_read_file(const char *path, size_t limit, char **out, size_t *len) {
  /* O_NONBLOCK: opening a FIFO planted where a file is expected must not block the caller;
   * anything but a regular file is refused before it is read. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

  if (fd < 0)
    return -errno;
  return read_whole(fd, limit, out, len);
}

int pw_read_state_file(const char *path, size_t limit, char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);

  if (fd < 0)
    return -errno;
  return read_whole(fd, limit, out, len);
}

int pw_regular_file(const char *path, const char **what) {
  struct stat st;
  const char *kind = "";
  int rc = 0;

  if (lstat(path, &st) != 0) {
    rc = -errno;
  } else if (S_ISLNK(st.st_mode)) {
    kind = "a symbolic link (not followed)";
    rc = -ELOOP;
  } else if (S_ISDIR(st.st_mode)) {
    kind = "a directory";
    rc = -EISDIR;
  } else if (S_ISFIFO(st.st_mode)) {
    kind = "a FIFO";
    rc = -EINVAL;
  } else if (S_ISSOCK(st.st_mode)) {
    kind = "a socket";
    rc = -EINVAL;
  } else if (!S_ISREG(st.st_mode)) {
    kind = "a device";
    rc = -EINVAL;
  }
  if (what != NULL)
    *what = kind;
  return rc;
}

int pw_write_file_atomic(const char *path, const void *data, size_t len) {
  return pw_write_file_atomic_mode(path, data, len, 0644);
}

int pw_write_all(int fd, const void *data, size_t len, size_t *done) {
  const char *p = data;
  size_t off = 0;
  int rc = 0;

  while (off < len) {
    ssize_t n = write(fd, p + off, len - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      break;
    }
    off += (size_t)n;
  }
  if (done != NULL)
    *done = off;
  return rc;
}

int pw_write_file_atomic_mode(const char *path, const void *data, size_t len, unsigned mode) {
  char tmp[4096];
  char dirbuf[4096];
  const char *p = data;
  int fd, dfd, rc = 0;

  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
    return -ENAMETOOLONG;
  /* O_EXCL | O_NOFOLLOW: a file or symlink planted under the temporary name is never written
   * through; it is removed (unlink removes a link, not what it points to) and the open retried
   * once. */
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
  if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
  if (fd < 0)
    return -errno;
  rc = pw_write_all(fd, p, len, NULL);
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc < 0) {
    unlink(tmp);
    return rc;
  }
  pw_strlcpy(dirbuf, path, sizeof(dirbuf));
  dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

int pw_mkdir_p(const char *dir) {
  char buf[4096];
  size_t i, n = pw_strlcpy(buf, dir, sizeof(buf));

  if (n >= sizeof(buf))
    return -ENAMETOOLONG;
  for (i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -errno;
      buf[i] = c;
    }
  }
  return 0;
}

int pw_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;

  while (p < end) {
    unsigned c = *p;
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
      p++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      need = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      need = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      need = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if ((size_t)(end - p) < need + 1)
      return 0;
    for (size_t k = 1; k <= need; k++) {
      if ((p[k] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    /* Reject overlong forms, surrogates and code points past U+10FFFF. */
    if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    p += need + 1;
  }
  return 1;
}

int pw_note_clean(const char *in, size_t len, char *out, size_t outlen) {
  return pw_text_clean(in, len, out, outlen, PW_NOTE_MAX);
}

int pw_text_clean(const char *in, size_t len, char *out, size_t outlen, size_t max) {
  const unsigned char *p = (const unsigned char *)in, *end = p + len;
  size_t o = 0, chars = 0;

  if (outlen < max * 4 + 1)
    return -ENOBUFS;
  if (!pw_utf8_valid(in, len))
    return -EILSEQ;
  while (p < end) {
    unsigned c = *p;
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (c == '\t' || c == '\n' || c == '\r') {
      c = ' ';
    } else if (c < 0x20 || c == 0x7F || (c == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)) {
      p += n; /* a control character (C0, DEL, C1) is not text */
      continue;
    }
    if (c == ' ' && (o == 0 || out[o - 1] == ' ' || chars == max)) {
      /* Leading spaces, runs of spaces, and a space after the last character a note may
       * hold: a character after it would make the note too long, and trailing spaces go. */
      p += n;
      continue;
    }
    if (c != ' ' && chars == max)
      return -E2BIG;
    chars++;
    if (n == 1)
      out[o] = (char)c;
    else
      memcpy(out + o, p, n);
    o += n;
    p += n;
  }
  while (o > 0 && out[o - 1] == ' ')
    o--;
  out[o] = '\0';
  return (int)o;
}

int pw_utf8_width(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  int w = 0;

  while (*p) {
    uint32_t cp;
    if (*p < 0x80) {
      cp = *p++;
    } else if ((*p & 0xE0) == 0xC0 && p[1]) {
      cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
      p += 2;
    } else if ((*p & 0xF0) == 0xE0 && p[1] && p[2]) {
      cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
      p += 3;
    } else if ((*p & 0xF8) == 0xF0 && p[1] && p[2] && p[3]) {
      cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
           ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
      p += 4;
    } else {
      p++;
      w++;
      continue;
    }
    /* East Asian Wide and Fullwidth ranges that occur in Chinese text. */
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD))
      w += 2;
    else
      w += 1;
  }
  return w;
}

char *pw_path_join(const char *dir, const char *path) {
  size_t a, b;
  char *out;

  if (path[0] == '/' || dir == NULL || dir[0] == '\0')
    return strdup(path);
  a = strlen(dir);
  b = strlen(path);
  out = malloc(a + b + 2);
  if (out == NULL)
    return NULL;
  memcpy(out, dir, a);
  out[a] = '/';
  memcpy(out + a + 1, path, b + 1);
  return out;
}

size_t pw_strlcpy(char *dst, const char *src, size_t size) {
  size_t n = strlen(src);

  if (size > 0) {
    size_t k = n < size - 1 ? n : size - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
  }
  return n;
}

/* The output of pw_redact_url: bytes past the buffer are counted, not written. */
struct redacted {
  char *out;
  size_t len, n;
};

static void put_bytes(struct redacted *r, const char *s, size_t k) {
  size_t i;

  for (i = 0; i < k; i++, r->n++)
    if (r->n + 1 < r->len)
      r->out[r->n] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
}

static void put_hidden(struct redacted *r) {
  put_bytes(r, "***", 3);
}

/* The query string [P, END): each parameter keeps its name; its value is hidden. */
static void put_query(struct redacted *r, const char *p, const char *end) {
  while (p < end) {
    const char *e = p, *eq;
    while (e < end && *e != '&' && *e != ';')
      e++;
    eq = memchr(p, '=', (size_t)(e - p));
    if (eq != NULL) {
      put_bytes(r, p, (size_t)(eq + 1 - p));
      if (eq + 1 < e)
        put_hidden(r);
    } else if (e > p) {
      put_hidden(r);
    }
    if (e < end)
      put_bytes(r, e++, 1);
    p = e;
  }
}

/* Whether the path segment [P, END) looks like a token: robots' hooks carry theirs in the
 * path (Feishu's .../hook/<uuid>, Slack's .../services/T/B/<token>). */
static int looks_like_token(const char *p, const char *end) {
  int letters = 0, digits = 0;

  if (end - p < 20)
    return 0;
  for (; p < end; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
      letters = 1;
    else if (*p >= '0' && *p <= '9')
      digits = 1;
    else if (*p != '-' && *p != '_')
      return 0;
  }
  return letters && digits;
}

/* The path [P, END): segments kept, but those that look like tokens hidden. */
static void put_path(struct redacted *r, const char *p, const char *end) {
  while (p < end) {
    const char *e = memchr(p, '/', (size_t)(end - p));
    if (e == NULL)
      e = end;
    if (looks_like_token(p, e))
      put_hidden(r);
    else
      put_bytes(r, p, (size_t)(e - p));
    if (e < end)
      put_bytes(r, e++, 1);
    p = e;
  }
}

size_t pw_redact_url(const char *url, char *out, size_t len) {
  struct redacted r = {out, len, 0};
  const char *p = url, *s = url, *auth_end, *at = NULL, *colon, *path_end, *q;

  /* A scheme is letters, digits, '+', '-' and '.' after a letter, then "://". */
  while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
         (s > url && *s >= '0' && *s <= '9') || (s > url && (*s == '+' || *s == '-' || *s == '.')))
    s++;
  if (s > url && strncmp(s, "://", 3) == 0) {
    put_bytes(&r, url, (size_t)(s + 3 - url));
    p = s + 3;
  }
  auth_end = p + strcspn(p, "/?#");
  /* The last '@' ends the userinfo: a password written with a raw '@' stays hidden whole. */
  for (q = p; q < auth_end; q++)
    if (*q == '@')
      at = q;
  if (at != NULL) {
    colon = memchr(p, ':', (size_t)(at - p));
    if (colon != NULL) {
      put_bytes(&r, p, (size_t)(colon + 1 - p));
      put_hidden(&r);
    } else {
      put_bytes(&r, p, (size_t)(at - p));
    }
    p = at;
  }
  put_bytes(&r, p, (size_t)(auth_end - p));
  p = auth_end;
  path_end = p + strcspn(p, "?#");
  put_path(&r, p, path_end);
  p = path_end;
  if (*p == '?') {
    q = p + 1 + strcspn(p + 1, "#");
    put_bytes(&r, p, 1);
    put_query(&r, p + 1, q);
    p = q;
  }
  if (*p == '#') {
    put_bytes(&r, p, 1);
    if (p[1] != '\0')
      put_hidden(&r);
  }
  if (len > 0)
    out[r.n < len ? r.n : len - 1] = '\0';
  return r.n;
}

int pw_prune_dir(const char *dir, int64_t before, int (*ours)(const char *name)) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), removed = 0;
  struct dirent *de;
  DIR *dp;

  struct stat lst;

  if (fd < 0) {
    int rc = -errno;
    /* (O_DIRECTORY and O_NOFOLLOW together say ENOTDIR for a link.) */
    return rc == -ENOTDIR && lstat(dir, &lst) == 0 && S_ISLNK(lst.st_mode) ? -ELOOP : rc;
  }
  dp = fdopendir(fd);
  if (dp == NULL) {
    int rc = -errno;
    close(fd);
    return rc;
  }
  while ((de = readdir(dp)) != NULL) {
    struct stat st;
    if (de->d_name[0] == '.' || !ours(de->d_name))
      continue;
    /* (A name swapped for a link after this look is unlinked itself, never followed.) */
    if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        (int64_t)st.st_mtime >= before)
      continue;
    if (unlinkat(fd, de->d_name, 0) == 0)
      removed++;
  }
  if (removed > 0)
    fsync(fd);
  closedir(dp); /* (closes FD) */
  return removed;
}
