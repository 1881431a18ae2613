/*
 * xlsxrows.h: the rows of samples in a workbook's sheet (docs/spreadsheets.md), as `pacewatch
 * import` and the department reporting page's upload (docs/http.md) read them, on top of the
 * reader of xlsxread.h. A sheet (the first, or one by name) has four columns, indicator, as_of,
 * value and an optional note, found by name in a header row (the first row naming indicator,
 * as_of and value, in the CSV's words or the department's: 指标, 日期, 数值, 备注; merged
 * header cells name every column they span) or given as a mapping with a first row of data.
 * Every row below holds one sample: each field is the text a person sees in its cell (a date
 * cell reads "YYYY-MM-DD", a serial number without a date format as the number it is), so
 * the caller reads it with the grammar of docs/values.md. Rows whose indicator, as_of and
 * value cells are all empty are passed over.
 *
 * Nothing is validated against a configuration here: that is the caller's (admission's rules).
 * Pure; any thread (one workbook per thread, as xlsxread.h says).
 */
#ifndef PW_XLSXROWS_H
#define PW_XLSXROWS_H

#include <stddef.h>
#include <stdint.h>

#include "xlsxread.h"

/* The fields of a row, in the order a row is checked. */
enum { PW_XLSX_F_INDICATOR = 0, PW_XLSX_F_AS_OF, PW_XLSX_F_VALUE, PW_XLSX_F_NOTE, PW_XLSX_NF };

/* Why a sheet gave no rows (struct pw_xlsx_rows.why). */
enum pw_xlsx_rows_why {
  PW_XLSX_ROWS_OK = 0,
  PW_XLSX_ROWS_NO_SHEET,     /* no sheet of the name asked for (ERR lists those there are) */
  PW_XLSX_ROWS_BAD_SHEET,    /* the sheet cannot be read (ERR says why, naming the cell) */
  PW_XLSX_ROWS_NO_HEADER,    /* no row names indicator, as_of and value */
  PW_XLSX_ROWS_HEADER_TWICE, /* the header names a field twice */
  PW_XLSX_ROWS_TOO_MANY,     /* more rows than the caller's maximum */
  PW_XLSX_ROWS_NOMEM
};

/* One row of the sheet. FIELD[indicator, as_of, value] are the cells' texts with blanks (space,
 * tab) around them taken off, "" for an empty cell; FIELD[note] is the note cell's text as
 * written, "" when empty, NULL when the sheet has no note column. A cell holding a formula's
 * error ("#DIV/0!") gives the error's text, and ERROR is the first field (in field order) whose
 * cell holds one, -1 when none does. */
struct pw_xlsx_row {
  uint32_t row;
  char *field[PW_XLSX_NF];
  int error;
};

/* The rows read from one sheet. */
struct pw_xlsx_rows {
  char *sheet;              /* the sheet's name */
  uint32_t col[PW_XLSX_NF]; /* each field's column (1 = A; 0: the sheet has none) */
  uint32_t header;          /* the header row, 0 with a mapping */
  struct pw_xlsx_row *rows; /* in the sheet's order */
  size_t n, cap;
  enum pw_xlsx_rows_why why; /* set by pw_xlsx_rows_read */
};

/* S with the blanks (space, tab) at either end taken off, in place: how import's fields are
 * read, from a sheet or a CSV file. */
char *pw_xlsx_trim(char *s);

/* The CSV's name of field K: "indicator", "as_of", "value", "note". */
const char *pw_xlsx_field_name(int k);

/* Parses a mapping "indicator=B,as_of=D,value=E[,note=F]" (each field at most once, a column's
 * letters) into COL. Returns 0, -EINVAL when it is not such a list, or -EDOM when it leaves out
 * indicator, as_of or value. */
int pw_xlsx_columns_parse(const char *spec, uint32_t col[PW_XLSX_NF]);

/* Reads the rows of sheet SHEET of WB (NULL: the first) into OUT (zeroed here; free with
 * pw_xlsx_rows_free, whatever the result). With COL NULL the header row is looked for and rows
 * start below it; else COL (from pw_xlsx_columns_parse) gives the columns and FIRST_ROW the
 * first row of data. At most MAX_ROWS rows are taken (SIZE_MAX: no limit of its own). Returns
 * 0, or -ENOENT (no such sheet), -EINVAL (the sheet cannot be read, no header, a field named
 * twice, more than MAX_ROWS rows), -ENOMEM; OUT->why says which and ERR says it in English,
 * naming the sheet (and the cell). Borrows WB, which loads the sheet. */
int pw_xlsx_rows_read(struct pw_xlsx *wb, const char *sheet, const uint32_t *col,
                      uint32_t first_row, size_t max_rows, struct pw_xlsx_rows *out, char *err,
                      size_t errlen);

/* Where field K (-1: the whole row) of row ROW is, into BUF: "SHEET!C5", or "SHEET row 5"
 * when the field has no column or K is -1. */
void pw_xlsx_rows_where(const struct pw_xlsx_rows *r, uint32_t row, int k, char *buf, size_t len);

/* Frees what OUT holds (not OUT itself) and zeroes it. Accepts NULL. */
void pw_xlsx_rows_free(struct pw_xlsx_rows *r);

#endif
