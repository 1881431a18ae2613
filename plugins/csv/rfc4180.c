/*
 * rfc4180: the CSV record reader shared by the csv plugin and `pacewatch import` (see
 * rfc4180.h for the dialect). Every decoded field goes into one buffer allocated once, large
 * enough for the whole body, so the fields of earlier records never move.
 */
#include "rfc4180.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Spaces and tabs around unquoted fields are dropped, unless the delimiter itself is one. */
static int is_trim(char c, char delim) {
  return (c == ' ' || c == '\t') && c != delim;
}

static int is_end(const struct pw_rfc4180 *r) {
  char c = r->body[r->pos];
  return c == r->delim || c == '\r' || c == '\n';
}

static void skip_trim(struct pw_rfc4180 *r) {
  while (r->pos < r->len && is_trim(r->body[r->pos], r->delim))
    r->pos++;
}

static int fail(struct pw_rfc4180 *r, size_t line, const char *what) {
  r->error = what;
  r->error_line = line;
  return -EINVAL;
}

int pw_rfc4180_init(struct pw_rfc4180 *r, const char *body, size_t len, char delim) {
  memset(r, 0, sizeof *r);
  /* A field's decoded bytes and its NUL never outnumber the bytes it was read from plus its
   * delimiter or line end; only the last field of a body may have neither, hence the 2. */
  if (len > SIZE_MAX - 2)
    return -ENOMEM;
  r->text = malloc(len + 2);
  if (r->text == NULL)
    return -ENOMEM;
  r->body = body;
  r->len = len;
  r->delim = delim;
  r->line = 1;
  if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
    r->pos = 3;
  return 0;
}

void pw_rfc4180_free(struct pw_rfc4180 *r) {
  if (r == NULL)
    return;
  free(r->text);
  free(r->fields);
  memset(r, 0, sizeof *r);
}

/* Decodes a quoted field from its opening quote to the delimiter or line end after it. */
static int read_quoted(struct pw_rfc4180 *r) {
  size_t open_line = r->line;

  r->pos++;
  for (;;) {
    char c;
    if (r->pos >= r->len)
      return fail(r, open_line, "unterminated quoted field");
    c = r->body[r->pos];
    if (c == '"') {
      if (r->pos + 1 < r->len && r->body[r->pos + 1] == '"') {
        r->text[r->text_len++] = '"';
        r->pos += 2;
        continue;
      }
      r->pos++;
      break;
    }
    if (c == '\n')
      r->line++;
    r->text[r->text_len++] = c;
    r->pos++;
  }
  skip_trim(r);
  if (r->pos < r->len && !is_end(r))
    return fail(r, r->line, "unexpected text after the closing quote of a field");
  return 0;
}

/* Copies an unquoted field up to the delimiter or line end, trailing padding dropped. */
static int read_plain(struct pw_rfc4180 *r, size_t off) {
  while (r->pos < r->len && !is_end(r)) {
    if (r->body[r->pos] == '"')
      return fail(r, r->line,
                  "quote inside an unquoted field (quote the whole field and double the quote)");
    r->text[r->text_len++] = r->body[r->pos++];
  }
  while (r->text_len > off && is_trim(r->text[r->text_len - 1], r->delim))
    r->text_len--;
  return 0;
}

static int add_field(struct pw_rfc4180 *r, size_t off, int quoted) {
  struct pw_rfc4180_field *f;

  if (r->nfields == r->capfields) {
    size_t ncap = r->capfields ? r->capfields * 2 : 8;
    if (ncap > SIZE_MAX / sizeof *f)
      return -ENOMEM;
    f = realloc(r->fields, ncap * sizeof *f);
    if (f == NULL)
      return -ENOMEM;
    r->fields = f;
    r->capfields = ncap;
  }
  f = &r->fields[r->nfields++];
  f->text = r->text + off;
  f->len = r->text_len - off;
  f->quoted = quoted;
  r->text[r->text_len++] = '\0';
  return 0;
}

int pw_rfc4180_next(struct pw_rfc4180 *r) {
  int rc;

  if (r->pos >= r->len)
    return 0;
  r->nfields = 0;
  r->record_line = r->line;
  for (;;) {
    size_t off = r->text_len;
    int quoted;
    skip_trim(r);
    quoted = r->pos < r->len && r->body[r->pos] == '"';
    rc = quoted ? read_quoted(r) : read_plain(r, off);
    if (rc == 0)
      rc = add_field(r, off, quoted);
    if (rc < 0)
      return rc;
    if (r->pos < r->len && r->body[r->pos] == r->delim) {
      r->pos++;
      continue;
    }
    break;
  }
  /* The record ends at a line end (LF, CRLF or a lone CR) or at the end of the body. */
  if (r->pos < r->len && r->body[r->pos] == '\r')
    r->pos++;
  if (r->pos < r->len && r->body[r->pos] == '\n')
    r->pos++;
  r->line++;
  return 1;
}
