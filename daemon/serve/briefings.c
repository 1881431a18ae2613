/*
 * briefings: /briefings/ of the status server (briefings.h, docs/http.md). The directory is
 * opened without following a link, and each file is opened relative to it with O_NOFOLLOW and
 * O_NONBLOCK and read only when it is a regular file.
 */
#include "briefings.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* A served file is a briefing's document or graph: nothing near this size. */
#define FILE_LIMIT (64u << 20)
#define MAX_WEEKS 1000 /* the list shows the newest thousand weeks */

/* "YYYY-Www" at S: returns 8 when it is one, else 0. */
static int week_at(const char *s) {
  int i;

  for (i = 0; i < 4; i++)
    if (s[i] < '0' || s[i] > '9')
      return 0;
  if (s[4] != '-' || s[5] != 'W' || s[6] < '0' || s[6] > '5' || s[7] < '0' || s[7] > '9')
    return 0;
  return 8;
}

enum pw_briefings_kind pw_briefings_kind(const char *name) {
  const char *rest;
  size_t n;

  if (name[0] == '\0' || strcmp(name, "index.html") == 0)
    return PW_BRIEFINGS_LIST;
  if (week_at(name) == 0)
    return PW_BRIEFINGS_NONE;
  rest = name + 8;
  if (strcmp(rest, ".html") == 0)
    return PW_BRIEFINGS_HTML;
  if (strcmp(rest, ".docx") == 0)
    return PW_BRIEFINGS_DOCX;
  if (strcmp(rest, ".md") == 0)
    return PW_BRIEFINGS_MD;
  /* "-<id>.png", the id as the configuration allows it: letters, digits, '_' and '-'. */
  n = strlen(rest);
  if (rest[0] != '-' || n < 6 || n > 128 || strcmp(rest + n - 4, ".png") != 0)
    return PW_BRIEFINGS_NONE;
  if (strspn(rest + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n - 5)
    return PW_BRIEFINGS_NONE;
  return PW_BRIEFINGS_PNG;
}

static void text_answer(struct pw_briefings_answer *a, int status, const char *text) {
  a->status = status;
  a->type = "text/plain; charset=utf-8";
  a->body = strdup(text);
  a->len = a->body != NULL ? strlen(a->body) : 0;
}

/* Reads NAME in the directory DFD: a regular file, never through a link. */
static int read_at(int dfd, const char *name, char **out, size_t *len) {
  struct pw_buf b = {NULL, 0, 0, FILE_LIMIT};
  char chunk[65536];
  struct stat st;
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc = 0;

  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -ENOENT;
  }
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      rc = n < 0 ? -errno : 0;
      break;
    }
    if ((rc = pw_buf_append(&b, chunk, (size_t)n)) < 0)
      break;
  }
  close(fd);
  if (rc < 0) {
    pw_buf_free(&b);
    return rc;
  }
  if (b.data == NULL && (rc = pw_buf_append(&b, "", 0)) < 0)
    return rc;
  *out = b.data;
  *len = b.len;
  return 0;
}

/* 1 when NAME is a regular file in DFD (a link is not). */
static int exists_at(int dfd, const char *name) {
  struct stat st;

  return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static int newest_first(const void *a, const void *b) {
  return strcmp(*(char *const *)b, *(char *const *)a);
}

/* The list page: one line per week that has its HTML, newest first, with its files. */
static void list_page(int dfd, struct pw_briefings_answer *a) {
  struct pw_buf b = {NULL, 0, 0, 0};
  char **weeks = NULL, name[32];
  int n = 0, i, rc = 0, fd2 = dup(dfd);
  DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
  struct dirent *e;

  if (d == NULL) {
    if (fd2 >= 0)
      close(fd2);
    text_answer(a, 500, "the briefings cannot be listed\n");
    return;
  }
  while ((e = readdir(d)) != NULL && n < 100000) {
    char **grown;
    if (strlen(e->d_name) != 13 || week_at(e->d_name) == 0 || strcmp(e->d_name + 8, ".html") != 0 ||
        !exists_at(dfd, e->d_name))
      continue; /* a link, a directory or anything else is not a briefing */
    if ((grown = realloc(weeks, (size_t)(n + 1) * sizeof(*weeks))) == NULL ||
        (grown[n] = strndup(e->d_name, 8)) == NULL) {
      weeks = grown != NULL ? grown : weeks;
      rc = -ENOMEM;
      break;
    }
    weeks = grown;
    n++;
  }
  closedir(d);
  if (n > 1)
    qsort(weeks, (size_t)n, sizeof(*weeks), newest_first);
  if (rc == 0)
    rc = pw_buf_printf(&b,
                       "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>周报列表</title>\n<style>body{font-family:\"Noto Sans CJK SC\","
                       "sans-serif;max-width:820px;margin:24px auto;padding:0 16px;color:#111}"
                       "li{margin:6px 0}a{margin-right:12px}</style>\n</head>\n<body>\n"
                       "<h1>周报列表</h1>\n");
  if (rc == 0 && n == 0)
    rc = pw_buf_printf(&b, "<p>尚无周报。</p>\n");
  if (rc == 0 && n > 0)
    rc = pw_buf_printf(&b, "<ul>\n");
  for (i = 0; rc == 0 && i < n && i < MAX_WEEKS; i++) {
    const char *w = weeks[i]; /* "YYYY-Www", validated: nothing to escape */
    rc = pw_buf_printf(&b, "<li data-week=\"%s\">%.4s年第%d周　<a href=\"%s.html\">网页版</a>", w,
                       w, (w[6] - '0') * 10 + (w[7] - '0'), w);
    snprintf(name, sizeof(name), "%s.docx", w);
    if (rc == 0 && exists_at(dfd, name))
      rc = pw_buf_printf(&b, "<a href=\"%s\">Word文档</a>", name);
    snprintf(name, sizeof(name), "%s.md", w);
    if (rc == 0 && exists_at(dfd, name))
      rc = pw_buf_printf(&b, "<a href=\"%s\">Markdown</a>", name);
    if (rc == 0)
      rc = pw_buf_printf(&b, "</li>\n");
  }
  if (rc == 0)
    rc = pw_buf_printf(&b, "%s</body>\n</html>\n", n > 0 ? "</ul>\n" : "");
  for (i = 0; i < n; i++)
    free(weeks[i]);
  free(weeks);
  if (rc < 0) {
    pw_buf_free(&b);
    text_answer(a, 500, "out of memory\n");
    return;
  }
  a->status = 200;
  a->type = "text/html; charset=utf-8";
  a->body = b.data;
  a->len = b.len;
}

void pw_briefings_answer(const char *dir, const char *name, struct pw_briefings_answer *a) {
  enum pw_briefings_kind k = pw_briefings_kind(name);
  int dfd, rc;

  memset(a, 0, sizeof(*a));
  if (k == PW_BRIEFINGS_NONE) {
    text_answer(a, 404, "not found\n");
    return;
  }
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dfd < 0) {
    if (k == PW_BRIEFINGS_LIST) {
      /* No briefing written yet: an empty list. */
      a->status = 200;
      a->type = "text/html; charset=utf-8";
      a->body = strdup("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<title>周报列表</title>\n</head>\n<body>\n<h1>周报列表</h1>\n"
                       "<p>尚无周报。</p>\n</body>\n</html>\n");
      a->len = a->body != NULL ? strlen(a->body) : 0;
    } else {
      text_answer(a, 404, "not found\n");
    }
    return;
  }
  if (k == PW_BRIEFINGS_LIST) {
    list_page(dfd, a);
    close(dfd);
    return;
  }
  rc = read_at(dfd, name, &a->body, &a->len);
  close(dfd);
  if (rc < 0) {
    text_answer(a, rc == -ENOENT || rc == -ELOOP ? 404 : 500,
                rc == -ENOENT || rc == -ELOOP ? "not found\n" : "the file cannot be read\n");
    return;
  }
  a->status = 200;
  switch (k) {
  case PW_BRIEFINGS_HTML:
    a->type = "text/html; charset=utf-8";
    /* The briefing is self-contained: its own styles and data: images, nothing else. */
    snprintf(a->extra, sizeof(a->extra),
             "Content-Security-Policy: default-src 'none'; img-src data: 'self'; "
             "style-src 'unsafe-inline'\r\n");
    break;
  case PW_BRIEFINGS_DOCX:
    a->type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    snprintf(a->extra, sizeof(a->extra), "Content-Disposition: attachment; filename=\"%s\"\r\n",
             name);
    break;
  case PW_BRIEFINGS_MD:
    a->type = "text/markdown; charset=utf-8";
    snprintf(a->extra, sizeof(a->extra), "Content-Disposition: inline; filename=\"%s\"\r\n", name);
    break;
  default:
    a->type = "image/png";
  }
}
