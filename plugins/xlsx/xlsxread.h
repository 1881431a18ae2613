/*
 * xlsxread.h: a reader of Excel workbooks (.xlsx, Office Open XML) as county departments send
 * them, shared by the xlsx parser plugin and `pacewatch import` (docs/spreadsheets.md). The zip
 * container is read by libzip and every XML part by expat; nothing is written and nothing is
 * evaluated (formulas give their cached result). The reader knows the workbook's sheets by name,
 * its shared strings (rich text runs joined), the number formats of its styles (so a date stored
 * as a serial number reads as a date, a percentage as "85%"), the 1900 and 1904 date systems,
 * and each sheet's cells and merged ranges (a cell inside a merged range reads as the range's
 * first cell).
 *
 * Hostile input is bounded (docs/spreadsheets.md, "Limits"): entries, part sizes, the total
 * read, the compression ratio of a part, XML depth and the length of one text; a document type
 * declaration is refused, so no entity (external or internal) is ever expanded. A file that is
 * not a zip, or an old binary .xls (OLE2), is refused with a clear error.
 *
 * Not thread-safe per workbook; separate workbooks may be used on separate threads.
 */
#ifndef PW_XLSXREAD_H
#define PW_XLSXREAD_H

#include <stddef.h>
#include <stdint.h>

/* What the county office tells a clerk who sent an old .xls file (docs/spreadsheets.md). */
#define PW_XLSX_OLD_XLS_WORDS "这是旧版 .xls 文件：请在 Excel 中另存为 .xlsx"

/* Limits (docs/spreadsheets.md). */
#define PW_XLSX_MAX_ENTRIES 10000      /* zip entries */
#define PW_XLSX_MAX_PART (64u << 20)   /* uncompressed bytes of one XML part */
#define PW_XLSX_MAX_TOTAL (128u << 20) /* uncompressed bytes read from one workbook */
#define PW_XLSX_MAX_RATIO 200          /* uncompressed / compressed, for parts over 1 MiB */
#define PW_XLSX_MAX_DEPTH 64           /* XML element nesting */
#define PW_XLSX_MAX_TEXT 65536         /* bytes of one string or cell text */
#define PW_XLSX_MAX_SHEETS 1024        /* sheets of a workbook */
#define PW_XLSX_MAX_CELLS 2000000      /* cells of one sheet */
#define PW_XLSX_MAX_ROW 1048576u       /* Excel's own limits */
#define PW_XLSX_MAX_COL 16384u         /* column XFD */

enum pw_xlsx_type {
  PW_XLSX_NUMBER = 1, /* a number (no date format): TEXT as stored ("4782", "0.3"), or for a
                         percentage format the percentage ("85%") */
  PW_XLSX_TEXT,       /* a string (shared, inline or a formula's): TEXT as written */
  PW_XLSX_DATE,       /* a number with a date format: TEXT "YYYY-MM-DD" or, with a time of day,
                         "YYYY-MM-DDTHH:MM:SS" (local time); also an ISO date cell (t="d") */
  PW_XLSX_BOOL,       /* TEXT "TRUE" or "FALSE" */
  PW_XLSX_ERROR       /* a formula error: TEXT "#DIV/0!", "#N/A", ... */
};

/* One cell that holds something. ROW and COL count from 1 (A1 is row 1, column 1). */
struct pw_xlsx_cell {
  uint32_t row, col;
  enum pw_xlsx_type type;
  double number;    /* NUMBER and DATE (the serial number); 0 otherwise */
  const char *text; /* NUL-terminated, owned by the workbook */
  size_t text_len;
};

struct pw_xlsx;
struct pw_xlsx_sheet;

/* Opens the workbook in the LEN bytes at DATA, which must stay valid and unchanged until
 * pw_xlsx_free (the sheets are read from it when first asked for). Reads the list of sheets,
 * the shared strings and the styles. Returns 0 with *OUT (owned; pw_xlsx_free), or: -ENOTSUP
 * for an old binary .xls file (say PW_XLSX_OLD_XLS_WORDS), -EINVAL for anything else that is not
 * a readable workbook or passes a limit, -ENOMEM; ERR says why in English. */
int pw_xlsx_open_memory(const void *data, size_t len, struct pw_xlsx **out, char *err,
                        size_t errlen);

/* pw_xlsx_open_memory reading at most MAX_TOTAL bytes uncompressed from the workbook in all
 * (the lower of it and PW_XLSX_MAX_TOTAL): for a server that reads uploads, whose memory a
 * workbook of a few megabytes should not be able to fill. */
int pw_xlsx_open_memory_max(const void *data, size_t len, size_t max_total, struct pw_xlsx **out,
                            char *err, size_t errlen);

/* Reads the file PATH (at most MAX_BYTES) and opens it as pw_xlsx_open_memory does; the bytes
 * are owned by the workbook. Returns the same, or the negative errno of a failed read. */
int pw_xlsx_open_file(const char *path, size_t max_bytes, struct pw_xlsx **out, char *err,
                      size_t errlen);

/* Frees the workbook, its sheets and their cells. Accepts NULL. */
void pw_xlsx_free(struct pw_xlsx *x);

/* The number of sheets, and the name of sheet I (0-based, in the workbook's order; owned by
 * the workbook). */
size_t pw_xlsx_sheet_count(const struct pw_xlsx *x);
const char *pw_xlsx_sheet_name(const struct pw_xlsx *x, size_t i);

/* The index of the sheet named NAME (exact match), or -ENOENT. */
int pw_xlsx_sheet_find(const struct pw_xlsx *x, const char *name);

/* Reads sheet I once (later calls return the same). Returns 0 with *OUT (owned by the workbook),
 * or -EINVAL / -ENOMEM with ERR naming the sheet and, for a bad cell, the cell. */
int pw_xlsx_sheet_load(struct pw_xlsx *x, size_t i, const struct pw_xlsx_sheet **out, char *err,
                       size_t errlen);

/* The cell at ROW, COL, or NULL when it is empty or missing. A cell inside a merged range reads
 * as the range's top-left cell. */
const struct pw_xlsx_cell *pw_xlsx_cell_at(const struct pw_xlsx_sheet *s, uint32_t row,
                                           uint32_t col);

/* The cells that hold something, sorted by row then column (N of them): for walking rows. A
 * merged range appears once, as its top-left cell. */
const struct pw_xlsx_cell *pw_xlsx_cells(const struct pw_xlsx_sheet *s, size_t *n);

/* Receives one span of a row: columns C1..C2 reading as CELL (NULL: an empty merged range). */
typedef void (*pw_xlsx_span_cb)(void *ctx, uint32_t c1, uint32_t c2,
                                const struct pw_xlsx_cell *cell);

/* Calls CB for every span of row ROW that holds something or is merged: each cell no merged
 * range covers (C1 == C2), then each merged range covering the row (its top-left cell, which may
 * lie in a row above). The work is the row's own cells and ranges, whatever the sheet's width. */
void pw_xlsx_row_spans(const struct pw_xlsx_sheet *s, uint32_t row, pw_xlsx_span_cb cb, void *ctx);

/* The last column any cell of the sheet (or merged range) reaches. */
uint32_t pw_xlsx_max_col(const struct pw_xlsx_sheet *s);

/* Parses an A1-style reference ("C5", "$C$5", "xfd1048576"), the N bytes at S, into *ROW and
 * *COL. Returns 0 or -EINVAL. */
int pw_xlsx_ref_parse(const char *s, size_t n, uint32_t *row, uint32_t *col);

/* Parses a column's letters ("C", "AB"), the N bytes at S. Returns 0 or -EINVAL. */
int pw_xlsx_col_parse(const char *s, size_t n, uint32_t *col);

/* Formats an error message into ERR (ERRLEN bytes; nothing when ERR is NULL or ERRLEN 0), as
 * the reader, the row reader and the plugin report what they refuse. */
void pw_xlsx_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the A1-style reference of ROW, COL into BUF (room for 16 bytes is enough). */
void pw_xlsx_ref_format(uint32_t row, uint32_t col, char *buf, size_t len);

#endif
