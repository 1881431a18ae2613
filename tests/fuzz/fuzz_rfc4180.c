/*
 * fuzz_rfc4180: the CSV record reader (plugins/csv/rfc4180.h) on its own, the body taken from
 * the input and read to its end with the delimiters ',', ';', a tab and a space. Besides the
 * sanitizers it checks what the header promises: every record has a field, every field is
 * NUL-terminated inside the reader's buffer, an unquoted field holds no delimiter, line end or
 * quote and no padding (unless the delimiter is that padding), records start on lines in
 * ascending order, every record moves the reader on, an error names what and a line, and the
 * fields of earlier records stay in place, unchanged, until the reader is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rfc4180.h"

/* A field returned earlier, remembered to check that it stays as it was. */
struct kept {
  const char *text;
  size_t len;
  unsigned long hash;
};

static unsigned long hash(const char *s, size_t n) {
  unsigned long h = 5381;
  size_t i;

  for (i = 0; i < n; i++)
    h = h * 33 + (unsigned char)s[i];
  return h;
}

static int is_pad(char c, char delim) {
  return (c == ' ' || c == '\t') && c != delim;
}

static void check_field(const struct pw_rfc4180 *r, const struct pw_rfc4180_field *f) {
  size_t i;

  if (f->text < r->text || f->text + f->len >= r->text + r->text_len)
    pw_fuzz_fail("rfc4180: a field outside the reader's buffer");
  if (f->text[f->len] != '\0')
    pw_fuzz_fail("rfc4180: a field without its NUL");
  if (f->quoted)
    return;
  for (i = 0; i < f->len; i++)
    if (f->text[i] == r->delim || f->text[i] == '\r' || f->text[i] == '\n' || f->text[i] == '"')
      pw_fuzz_fail("rfc4180: unquoted field holds byte 0x%02x", (unsigned char)f->text[i]);
  if (f->len > 0 && (is_pad(f->text[0], r->delim) || is_pad(f->text[f->len - 1], r->delim)))
    pw_fuzz_fail("rfc4180: unquoted field keeps its padding");
}

static void read_all(const uint8_t *data, size_t size, char delim) {
  struct pw_rfc4180 r;
  struct kept *kept = NULL;
  size_t nkept = 0, capkept = 0, last_line = 0, i, lines = 1;
  int rc;

  for (i = 0; i < size; i++)
    lines += data[i] == '\n' || data[i] == '\r';
  if (pw_rfc4180_init(&r, (const char *)data, size, delim) < 0)
    pw_fuzz_fail("rfc4180: init failed");
  for (;;) {
    size_t before = r.pos;
    rc = pw_rfc4180_next(&r);
    if (rc <= 0)
      break;
    if (r.pos <= before)
      pw_fuzz_fail("rfc4180: a record that did not move the reader");
    if (r.nfields < 1)
      pw_fuzz_fail("rfc4180: a record without a field");
    if (r.record_line < 1 || r.record_line < last_line || r.record_line > lines)
      pw_fuzz_fail("rfc4180: record on line %zu after line %zu (%zu lines)", r.record_line,
                   last_line, lines);
    last_line = r.record_line;
    for (i = 0; i < r.nfields; i++) {
      check_field(&r, &r.fields[i]);
      if (nkept == capkept) {
        struct kept *k;
        capkept = capkept ? capkept * 2 : 64;
        k = realloc(kept, capkept * sizeof(*k));
        if (k == NULL)
          pw_fuzz_fail("out of memory");
        kept = k;
      }
      kept[nkept].text = r.fields[i].text;
      kept[nkept].len = r.fields[i].len;
      kept[nkept].hash = hash(r.fields[i].text, r.fields[i].len);
      nkept++;
    }
  }
  if (rc == -EINVAL) {
    if (r.error == NULL || r.error_line < 1 || r.error_line > lines)
      pw_fuzz_fail("rfc4180: an error without a message or on line %zu (%zu lines)", r.error_line,
                   lines);
  } else if (rc != 0) {
    pw_fuzz_fail("rfc4180: next returned %d", rc);
  }
  for (i = 0; i < nkept; i++)
    if (hash(kept[i].text, kept[i].len) != kept[i].hash || kept[i].text[kept[i].len] != '\0')
      pw_fuzz_fail("rfc4180: field %zu changed after later records were read", i);
  free(kept);
  pw_rfc4180_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char delims[] = {',', ';', '\t', ' '};
  size_t i;

  for (i = 0; i < sizeof(delims); i++)
    read_all(data, size, delims[i]);
  return 0;
}
