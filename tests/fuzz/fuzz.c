/*
 * fuzz.c: the helpers the fuzz targets share (see fuzz.h): failing loudly, copies of the input,
 * a private scratch directory, and the checked run of a parser plugin.
 */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pw_fuzz_fail(const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  fputs("fuzz: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

char *pw_fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);

  if (s == NULL)
    pw_fuzz_fail("out of memory copying %zu bytes", size);
  if (size > 0)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

static char tmpdir[4096];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void remove_tmpdir(void) {
  if (tmpdir[0] != '\0')
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *pw_fuzz_tmpdir(void) {
  const char *base;

  if (tmpdir[0] != '\0')
    return tmpdir;
  base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  if (snprintf(tmpdir, sizeof(tmpdir), "%s/pw-fuzz-XXXXXX", base) >= (int)sizeof(tmpdir))
    pw_fuzz_fail("TMPDIR is too long");
  if (mkdtemp(tmpdir) == NULL)
    pw_fuzz_fail("cannot make a directory %s: %s", tmpdir, strerror(errno));
  atexit(remove_tmpdir);
  return tmpdir;
}

void pw_fuzz_write_file(const char *path, const void *data, size_t size) {
  const char *p = data;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  if (fd < 0)
    pw_fuzz_fail("cannot write %s: %s", path, strerror(errno));
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      pw_fuzz_fail("cannot write %s: %s", path, strerror(errno));
    p += n;
    size -= (size_t)n;
  }
  if (close(fd) != 0)
    pw_fuzz_fail("cannot write %s: %s", path, strerror(errno));
}

static void host_log(int level, const char *plugin, const char *fmt, ...) {
  (void)level;
  (void)plugin;
  (void)fmt;
}

const struct pw_plugin_host pw_fuzz_host = {
    .abi_major = PW_PLUGIN_ABI_MAJOR,
    .abi_minor = PW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct pw_plugin_host),
    .log = host_log,
};

/* What the emit callback saw during one parse. */
struct run {
  size_t n;
  unsigned *calls;
  enum pw_plugin_result *results;
};

/* Reads every byte of the text a plugin reports, so that AddressSanitizer checks the range. */
static void touch(const char *text, size_t len) {
  volatile unsigned char sum = 0;
  size_t i;

  for (i = 0; i < len; i++)
    sum ^= (unsigned char)text[i];
  (void)sum;
}

static void on_emit(void *ctx, size_t index, const struct pw_plugin_value *v) {
  struct run *r = ctx;

  if (index >= r->n)
    pw_fuzz_fail("emit for query %zu of %zu", index, r->n);
  if (v == NULL)
    pw_fuzz_fail("emit for query %zu without a value", index);
  r->calls[index]++;
  r->results[index] = v->result;
  switch (v->result) {
  case PW_PLUGIN_NOT_FOUND:
  case PW_PLUGIN_NULL:
    break;
  case PW_PLUGIN_NUMBER:
    if (v->text != NULL)
      touch(v->text, v->text_len);
    break;
  case PW_PLUGIN_TEXT:
    if (v->text == NULL && v->text_len > 0)
      pw_fuzz_fail("query %zu: text of %zu bytes without a pointer", index, v->text_len);
    if (v->text != NULL)
      touch(v->text, v->text_len);
    break;
  case PW_PLUGIN_ERROR:
    if (v->error == NULL)
      pw_fuzz_fail("query %zu: an error without a message", index);
    touch(v->error, strlen(v->error));
    break;
  default:
    pw_fuzz_fail("query %zu: unknown result %d", index, (int)v->result);
  }
}

int pw_fuzz_plugin_run(const struct pw_plugin *plugin, const struct pw_plugin_options *opts,
                       const uint8_t *data, size_t size, const char *const *paths, size_t n,
                       enum pw_plugin_result *results) {
  char err[1024];
  struct run r;
  size_t i;
  int rc;

  r.n = n;
  r.calls = calloc(n + 1, sizeof(*r.calls));
  r.results = calloc(n + 1, sizeof(*r.results));
  if (r.calls == NULL || r.results == NULL)
    pw_fuzz_fail("out of memory");
  memset(err, 0x55, sizeof(err));
  rc = plugin->parse(opts, (const char *)data, size, paths, n, on_emit, &r, err, sizeof(err));
  if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
    pw_fuzz_fail("%s: parse returned %d", plugin->name, rc);
  for (i = 0; i < n; i++)
    if (r.calls[i] != (rc == 0 ? 1u : 0u))
      pw_fuzz_fail("%s: parse returned %d and reported query %zu %u times", plugin->name, rc, i,
                   r.calls[i]);
  if (rc != 0 && memchr(err, '\0', sizeof(err)) == NULL)
    pw_fuzz_fail("%s: parse failed without a NUL-terminated message", plugin->name);
  if (rc == 0 && results != NULL)
    memcpy(results, r.results, n * sizeof(*results));
  free(r.calls);
  free(r.results);
  return rc;
}
