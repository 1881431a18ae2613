/*
 * fuzz_xlsx: the xlsx reader (plugins/xlsx/xlsxread.h) and the xlsx parser plugin on the same
 * input. The reader: every sheet read, every cell's text NUL-terminated at its length, every
 * cell found again by its reference (merged ranges resolved); the rows of samples (xlsxrows.h)
 * by header, every row's fields present and its error a field that holds one. The plugin, through
 * its pw_plugin.h entry, against paths of every kind: cells, keyed columns under a merged header, a
 * quoted sheet name, a missing sheet, a broken path. The seed corpus is written by
 * tests/support/make_xlsx.py (`make_xlsx.py corpus DIR`).
 */
#include <string.h>

#include "fuzz.h"
#include "xlsxread.h"
#include "xlsxrows.h"

const struct pw_plugin *pw_plugin_entry(const struct pw_plugin_host *host);

static const char *const paths[] = {
    "Sheet1!C5",
    "Sheet2!C5",
    "指标表!数值[指标代码=TJ01]",
    "指标表!截至[指标代码=TJ01]",
    "数值[指标代码=TJ02]",
    "'指标表'!D7",
    "报表!数值",
    "value[indicator=gdp]",
    "A1",
    "XFD1048576",
    "Sheet9!A1",
    "!A1",
    "",
    NULL,
};

static void read_all(const uint8_t *data, size_t size) {
  struct pw_xlsx *wb;
  char err[512];

  if (pw_xlsx_open_memory(data, size, &wb, err, sizeof(err)) < 0) {
    if (memchr(err, '\0', sizeof(err)) == NULL)
      pw_fuzz_fail("xlsx: error message not terminated");
    return;
  }
  {
    struct pw_xlsx_rows r;
    if (pw_xlsx_rows_read(wb, NULL, NULL, 0, 1000, &r, err, sizeof(err)) == 0) {
      for (size_t i = 0; i < r.n; i++) {
        for (int k = 0; k < PW_XLSX_F_NOTE; k++)
          if (r.rows[i].field[k] == NULL)
            pw_fuzz_fail("xlsx rows: row %u has no field %d", r.rows[i].row, k);
        if (r.rows[i].error >= 0 && r.rows[i].field[r.rows[i].error] == NULL)
          pw_fuzz_fail("xlsx rows: an error in an empty field");
      }
    } else if (r.why == PW_XLSX_ROWS_OK || memchr(err, '\0', sizeof(err)) == NULL) {
      pw_fuzz_fail("xlsx rows: a failure without its reason");
    }
    pw_xlsx_rows_free(&r);
  }
  for (size_t i = 0; i < pw_xlsx_sheet_count(wb); i++) {
    const struct pw_xlsx_sheet *s;
    const struct pw_xlsx_cell *cells;
    size_t n;
    if (pw_xlsx_sheet_name(wb, i) == NULL)
      pw_fuzz_fail("xlsx: sheet %zu has no name", i);
    if (pw_xlsx_sheet_load(wb, i, &s, err, sizeof(err)) < 0)
      continue;
    cells = pw_xlsx_cells(s, &n);
    for (size_t k = 0; k < n; k++) {
      const struct pw_xlsx_cell *c = &cells[k], *again;
      if (c->text_len == 0 || strlen(c->text) != c->text_len)
        pw_fuzz_fail("xlsx: cell text of length %zu", c->text_len);
      if (c->col > pw_xlsx_max_col(s))
        pw_fuzz_fail("xlsx: cell beyond the last column");
      again = pw_xlsx_cell_at(s, c->row, c->col);
      if (again == NULL)
        pw_fuzz_fail("xlsx: a cell not found by its reference");
    }
  }
  pw_xlsx_free(wb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const struct pw_plugin *p = pw_plugin_entry(&pw_fuzz_host);

  if (p == NULL)
    pw_fuzz_fail("xlsx: no plugin");
  read_all(data, size);
  pw_fuzz_plugin_run(p, NULL, data, size, paths, sizeof(paths) / sizeof(paths[0]), NULL);
  return 0;
}
