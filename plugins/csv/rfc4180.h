/*
 * rfc4180.h: the one reader of CSV text (RFC 4180) in pacewatch, shared by the csv parser
 * plugin and the `pacewatch import` command. It reads one record at a time and decodes its
 * fields: a field may be quoted (with "" for a quote) and then hold the delimiter, CR and LF;
 * spaces and tabs around a field are dropped (spreadsheets pad columns) unless the delimiter
 * itself is a space or a tab, but kept inside quotes; lines end in LF, CRLF or a lone CR; a
 * UTF-8 byte-order mark at the start is skipped. A quote inside an unquoted field, text after
 * a closing quote and a quote never closed are errors, since any figure read past them could
 * be misplaced. What a record means (a header, an empty line, a row with too few fields) is
 * the caller's business. The reader does no I/O and keeps no global state.
 */
#ifndef PW_RFC4180_H
#define PW_RFC4180_H

#include <stddef.h>

/* One decoded field: quotes removed and "" made ". TEXT is NUL-terminated, though it may also
 * hold NUL bytes of the body itself, so LEN is its length. It lies in the reader's buffer, and
 * the caller may change its bytes in place (trim it, for example). */
struct pw_rfc4180_field {
  char *text;
  size_t len;
  int quoted; /* the field was written in quotes */
};

/* A reader over one body. The decoded text of every record read stays valid (and in place)
 * until pw_rfc4180_free, so a caller may keep the fields of earlier records. */
struct pw_rfc4180 {
  const char *body; /* borrowed */
  size_t len, pos;
  char delim;
  size_t line;                     /* the line the next record starts on (the first is 1) */
  char *text;                      /* the decoded fields of every record read, owned */
  size_t text_len;                 /* bytes of TEXT in use */
  struct pw_rfc4180_field *fields; /* the record last read: NFIELDS fields, owned */
  size_t nfields, capfields;
  size_t record_line; /* the line the record last read starts on */
  const char *error;  /* after -EINVAL: what is wrong (a static string, English) */
  size_t error_line;  /* after -EINVAL: the line the mistake is on */
};

/* Starts reading BODY (LEN bytes, borrowed until pw_rfc4180_free; it need not be
 * NUL-terminated) with delimiter DELIM, which must not be a quote, CR or LF. Skips a UTF-8
 * byte-order mark. Returns 0 or -ENOMEM (nothing to free then). Any thread. */
int pw_rfc4180_init(struct pw_rfc4180 *r, const char *body, size_t len, char delim);

/* Reads the next record into R->fields/R->nfields (at least one field; an empty line is one
 * empty field) and R->record_line. Returns 1 for a record, 0 at the end of the body, -EINVAL
 * with R->error and R->error_line for broken quoting, or -ENOMEM. */
int pw_rfc4180_next(struct pw_rfc4180 *r);

/* Frees what the reader owns (every field it returned). Accepts a reader that init failed on
 * or that is all zero. */
void pw_rfc4180_free(struct pw_rfc4180 *r);

#endif
