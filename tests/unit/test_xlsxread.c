/*
 * Unit tests of the xlsx reader (plugins/xlsx/xlsxread.h, docs/spreadsheets.md) on workbooks
 * zipped in memory here with libzip, part by part, so each case is the XML it names: references
 * parsed and written; serial numbers under date formats in the 1900 system (Lotus's 1900-02-29,
 * the days around it, a time of day) and the 1904 system; formats that are not dates (times,
 * quoted letters) and percentages; every cell type (shared strings with rich runs and a
 * phonetic guide, inline strings, formula text, booleans, errors, ISO dates); cells and rows
 * without references; merged ranges read as their top-left cell, and a row's spans; what is
 * refused (an .xls, not a zip, no workbook, a missing shared string, a cell written twice, a
 * DTD, nesting past the limit, a bad reference) with a message naming the sheet and cell.
 * The rows of samples (xlsxrows.h), as import and the reporting page's upload read them: the
 * header found below a title in the department's words, blanks trimmed, a note as written, empty
 * rows passed over, a formula's error named, a mapping with a first row, a field named twice, no
 * header, too many rows, a missing sheet; and a lower bound on what a workbook may inflate to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "xlsxread.h"
#include "xlsxrows.h"

#define NS "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\""
#define RNS "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""
#define REL "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"

static const char rels[] =
    "<?xml version=\"1.0\"?><Relationships "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"" REL "officeDocument\" Target=\"xl/workbook.xml\"/>"
    "</Relationships>";

static const char wbrels[] =
    "<?xml version=\"1.0\"?><Relationships "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"" REL "worksheet\" Target=\"worksheets/sheet1.xml\"/>"
    "<Relationship Id=\"rId2\" Type=\"" REL "styles\" Target=\"/xl/styles.xml\"/>"
    "<Relationship Id=\"rId3\" Type=\"" REL "sharedStrings\" Target=\"./sharedStrings.xml\"/>"
    "<Relationship Id=\"rId4\" Type=\"" REL "worksheet\" Target=\"worksheets/../worksheets/"
    "sheet2.xml\"/>"
    "</Relationships>";

/* Cell styles: 0 General, 1 built-in date 14, 2 a Chinese custom date, 3 a custom time, 4
 * built-in 9 (0%), 5 a coloured custom percentage, 6 a format whose "d" is quoted text, 7
 * built-in time 20. */
static const char styles[] =
    "<styleSheet " NS "><numFmts count=\"4\">"
    "<numFmt numFmtId=\"164\" formatCode=\"yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;\"/>"
    "<numFmt numFmtId=\"165\" formatCode=\"mm:ss\"/>"
    "<numFmt numFmtId=\"166\" formatCode=\"[Red]0.0%\"/>"
    "<numFmt numFmtId=\"167\" formatCode=\"&quot;day&quot;0\"/></numFmts>"
    "<cellStyleXfs count=\"1\"><xf numFmtId=\"14\"/></cellStyleXfs>"
    "<cellXfs count=\"8\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\"/><xf numFmtId=\"164\"/>"
    "<xf numFmtId=\"165\"/><xf numFmtId=\"9\"/><xf numFmtId=\"166\"/><xf numFmtId=\"167\"/>"
    "<xf numFmtId=\"20\"/></cellXfs></styleSheet>";

static const char strings[] =
    "<sst " NS "><si><t>指标</t></si>"
    "<si><r><t>a</t></r><r><rPr><b/></rPr><t xml:space=\"preserve\">b </t></r>"
    "<rPh sb=\"0\" eb=\"1\"><t>zz</t></rPh></si><si><t></t></si></sst>";

/* A zip archive of the N parts NAMES/BODIES, in memory (owned; *LEN bytes). */
static void *zip_parts(const char *const *names, const char *const *bodies, size_t n, size_t *len) {
  zip_error_t ze;
  zip_source_t *src;
  zip_t *z;
  zip_int64_t size;
  void *buf;

  zip_error_init(&ze);
  src = zip_source_buffer_create(NULL, 0, 0, &ze);
  assert_non_null(src);
  zip_source_keep(src);
  z = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
  assert_non_null(z);
  for (size_t i = 0; i < n; i++) {
    zip_source_t *s = zip_source_buffer(z, bodies[i], strlen(bodies[i]), 0);
    assert_non_null(s);
    assert_true(zip_file_add(z, names[i], s, ZIP_FL_ENC_UTF_8) >= 0);
  }
  assert_int_equal(zip_close(z), 0);
  assert_int_equal(zip_source_open(src), 0);
  assert_int_equal(zip_source_seek(src, 0, SEEK_END), 0);
  size = zip_source_tell(src);
  assert_true(size > 0);
  assert_int_equal(zip_source_seek(src, 0, SEEK_SET), 0);
  buf = malloc((size_t)size);
  assert_non_null(buf);
  assert_int_equal(zip_source_read(src, buf, (zip_uint64_t)size), size);
  zip_source_close(src);
  zip_source_free(src);
  zip_error_fini(&ze);
  *len = (size_t)size;
  return buf;
}

/* A workbook of two sheets, S (SHEET1) and "二 表" (SHEET2), in the 1904 system when DATE1904. */
static void *workbook(const char *sheet1, const char *sheet2, int date1904, size_t *len) {
  char wb[512];
  const char *names[] = {"_rels/.rels",
                         "xl/workbook.xml",
                         "xl/_rels/workbook.xml.rels",
                         "xl/styles.xml",
                         "xl/sharedStrings.xml",
                         "xl/worksheets/sheet1.xml",
                         "xl/worksheets/sheet2.xml"};
  const char *bodies[7];

  snprintf(wb, sizeof(wb),
           "<x:workbook xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" " RNS
           "><x:workbookPr date1904=\"%d\"/><x:sheets><x:sheet name=\"S\" sheetId=\"1\" "
           "r:id=\"rId1\"/><x:sheet name=\"二 表\" sheetId=\"2\" r:id=\"rId4\"/></x:sheets>"
           "</x:workbook>",
           date1904);
  bodies[0] = rels;
  bodies[1] = wb;
  bodies[2] = wbrels;
  bodies[3] = styles;
  bodies[4] = strings;
  bodies[5] = sheet1;
  bodies[6] = sheet2 != NULL ? sheet2 : "<worksheet " NS "><sheetData/></worksheet>";
  return zip_parts(names, bodies, 7, len);
}

/* The workbook's data stays alive with it. */
struct book {
  void *data;
  struct pw_xlsx *wb;
  const struct pw_xlsx_sheet *s;
};

static int load(struct book *b, const char *sheet_data, int date1904, char *err, size_t errlen) {
  char xml[8192];
  size_t len;
  int rc;

  snprintf(xml, sizeof(xml), "<worksheet " NS "><sheetData>%s</sheetData></worksheet>", sheet_data);
  memset(b, 0, sizeof(*b));
  b->data = workbook(xml, NULL, date1904, &len);
  rc = pw_xlsx_open_memory(b->data, len, &b->wb, err, errlen);
  if (rc == 0)
    rc = pw_xlsx_sheet_load(b->wb, 0, &b->s, err, errlen);
  return rc;
}

static void book_free(struct book *b) {
  pw_xlsx_free(b->wb);
  free(b->data);
}

static const struct pw_xlsx_cell *at(const struct book *b, const char *ref) {
  uint32_t row, col;

  assert_int_equal(pw_xlsx_ref_parse(ref, strlen(ref), &row, &col), 0);
  return pw_xlsx_cell_at(b->s, row, col);
}

static void expect(const struct book *b, const char *ref, enum pw_xlsx_type type,
                   const char *text) {
  const struct pw_xlsx_cell *c = at(b, ref);

  if (text == NULL) {
    assert_null(c);
    return;
  }
  assert_non_null(c);
  assert_string_equal(c->text, text);
  assert_int_equal(c->text_len, strlen(text));
  assert_int_equal(c->type, type);
}

static void test_refs(void **state) {
  static const char *const bad[] = {"",      "A",  "1",   "A0",  "XFE1", "A1048577",
                                    "AAAA1", "1A", "A1B", "A01", "$",    "A$"};
  uint32_t row, col;
  char buf[16];

  (void)state;
  assert_int_equal(pw_xlsx_ref_parse("A1", 2, &row, &col), 0);
  assert_int_equal(row, 1);
  assert_int_equal(col, 1);
  assert_int_equal(pw_xlsx_ref_parse("$c$5", 4, &row, &col), 0);
  assert_int_equal(row, 5);
  assert_int_equal(col, 3);
  assert_int_equal(pw_xlsx_ref_parse("XFD1048576", 10, &row, &col), 0);
  assert_int_equal(row, 1048576);
  assert_int_equal(col, 16384);
  pw_xlsx_ref_format(row, col, buf, sizeof(buf));
  assert_string_equal(buf, "XFD1048576");
  pw_xlsx_ref_format(7, 28, buf, sizeof(buf));
  assert_string_equal(buf, "AB7");
  pw_xlsx_ref_format(1, 26, buf, sizeof(buf));
  assert_string_equal(buf, "Z1");
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(pw_xlsx_ref_parse(bad[i], strlen(bad[i]), &row, &col), -EINVAL);
  assert_int_equal(pw_xlsx_col_parse("AB", 2, &col), 0);
  assert_int_equal(col, 28);
}

static void test_dates_1900(void **state) {
  struct book b;
  char err[256];

  (void)state;
  assert_int_equal(
      load(&b,
           "<row r=\"1\"><c r=\"A1\" s=\"1\"><v>59</v></c><c r=\"B1\" s=\"1\"><v>60</v>"
           "</c><c r=\"C1\" s=\"1\"><v>61</v></c><c r=\"D1\" s=\"2\"><v>45382</v></c>"
           "<c r=\"E1\" s=\"1\"><v>45382.75</v></c><c r=\"F1\" s=\"3\"><v>0.5</v></c>"
           "<c r=\"G1\" s=\"4\"><v>0.853</v></c><c r=\"H1\" s=\"5\"><v>0.5</v></c>"
           "<c r=\"I1\" s=\"6\"><v>3</v></c><c r=\"J1\" s=\"7\"><v>0.5</v></c>"
           "<c r=\"K1\" s=\"1\"><v>1</v></c><c r=\"L1\" s=\"1\"><v>-1</v></c>"
           "<c r=\"M1\"><v> 4782 </v></c><c r=\"N1\" s=\"1\"><v>45382.99999999</v>"
           "</c><c r=\"O1\" s=\"99\"><v>45382</v></c></row>",
           0, err, sizeof(err)),
      0);
  expect(&b, "A1", PW_XLSX_DATE, "1900-02-28");
  expect(&b, "B1", PW_XLSX_DATE, "1900-02-29"); /* Lotus's day, which never was */
  expect(&b, "C1", PW_XLSX_DATE, "1900-03-01");
  expect(&b, "D1", PW_XLSX_DATE, "2024-03-31");
  expect(&b, "E1", PW_XLSX_DATE, "2024-03-31T18:00:00");
  expect(&b, "F1", PW_XLSX_NUMBER, "0.5"); /* mm:ss: a time, not a date */
  expect(&b, "G1", PW_XLSX_NUMBER, "85.3%");
  expect(&b, "H1", PW_XLSX_NUMBER, "50%");
  expect(&b, "I1", PW_XLSX_NUMBER, "3"); /* "day"0: the d is quoted text */
  expect(&b, "J1", PW_XLSX_NUMBER, "0.5");
  expect(&b, "K1", PW_XLSX_DATE, "1900-01-01");
  expect(&b, "L1", PW_XLSX_NUMBER, "-1"); /* no date Excel shows */
  expect(&b, "M1", PW_XLSX_NUMBER, "4782");
  expect(&b, "N1", PW_XLSX_DATE, "2024-04-01"); /* rounded to the second, into the next day */
  expect(&b, "O1", PW_XLSX_NUMBER, "45382");    /* a style that does not exist */
  assert_true(at(&b, "D1")->number == 45382.0);
  book_free(&b);
}

static void test_dates_1904(void **state) {
  struct book b;
  char err[256];

  (void)state;
  assert_int_equal(load(&b,
                        "<row><c s=\"1\"><v>0</v></c><c s=\"2\"><v>43920</v></c><c s=\"1\">"
                        "<v>59</v></c></row>",
                        1, err, sizeof(err)),
                   0);
  expect(&b, "A1", PW_XLSX_DATE, "1904-01-01");
  expect(&b, "B1", PW_XLSX_DATE, "2024-03-31");
  expect(&b, "C1", PW_XLSX_DATE, "1904-02-29"); /* a real leap day in this system */
  book_free(&b);
}

static void test_cell_types(void **state) {
  struct book b;
  const struct pw_xlsx_cell *cells;
  char err[256];
  size_t n;

  (void)state;
  assert_int_equal(
      load(&b,
           "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>0</v></c><c r=\"B2\" t=\"s\"><v>1</v></c>"
           "<c r=\"C2\" t=\"s\"><v>2</v></c><c r=\"D2\" t=\"b\"><v>1</v></c><c r=\"E2\" t=\"b\">"
           "<v>0</v></c><c r=\"F2\" t=\"e\"><v>#DIV/0!</v></c><c r=\"G2\" t=\"d\">"
           "<v>2024-03-31T00:00:00</v></c><c r=\"H2\" t=\"inlineStr\"><is><r><t>备案</t></r>"
           "<r><t>90家</t></r><rPh><t>bei</t></rPh></is></c><c r=\"I2\" t=\"str\"><f>A2&amp;"
           "\"x\"</f><v>指标x</v></c><c r=\"J2\" s=\"1\"/><c r=\"K2\"><v>abc</v></c>"
           "<c r=\"L2\"><v>1e400</v></c><c r=\"M2\" t=\"inlineStr\"><is><t>&lt;&amp;&#x4e07;"
           "</t></is></c><c r=\"N2\" t=\"inlineStr\"><is><t>a_x000D_b_x005F_x4E07__x4E07_"
           "_xD800__x12_</t></is></c></row>"
           "<row r=\"3\"><c><v>1</v></c><c><v>2</v></c><c r=\"E3\"><v>5</v></c><c><v>6</v></c>"
           "</row><row><c><v>7</v></c></row>",
           0, err, sizeof(err)),
      0);
  expect(&b, "A2", PW_XLSX_TEXT, "指标");
  expect(&b, "B2", PW_XLSX_TEXT, "ab "); /* runs joined, the phonetic guide left out */
  expect(&b, "C2", PW_XLSX_TEXT, NULL);  /* an empty string is an empty cell */
  expect(&b, "D2", PW_XLSX_BOOL, "TRUE");
  expect(&b, "E2", PW_XLSX_BOOL, "FALSE");
  expect(&b, "F2", PW_XLSX_ERROR, "#DIV/0!");
  expect(&b, "G2", PW_XLSX_DATE, "2024-03-31");
  expect(&b, "H2", PW_XLSX_TEXT, "备案90家");
  expect(&b, "I2", PW_XLSX_TEXT, "指标x"); /* the formula's cached result */
  expect(&b, "J2", PW_XLSX_TEXT, NULL);    /* styled, but empty */
  expect(&b, "K2", PW_XLSX_TEXT, "abc");   /* not a number: its text */
  expect(&b, "L2", PW_XLSX_TEXT, "1e400");
  expect(&b, "M2", PW_XLSX_TEXT, "<&万");
  /* OOXML's escapes: a CR, an escaped underscore, a character; a surrogate and a short one not */
  expect(&b, "N2", PW_XLSX_TEXT, "a\rb_x4E07_万_xD800__x12_");
  /* Cells and rows without references follow the one before. */
  expect(&b, "A3", PW_XLSX_NUMBER, "1");
  expect(&b, "B3", PW_XLSX_NUMBER, "2");
  expect(&b, "E3", PW_XLSX_NUMBER, "5");
  expect(&b, "F3", PW_XLSX_NUMBER, "6");
  expect(&b, "A4", PW_XLSX_NUMBER, "7");
  cells = pw_xlsx_cells(b.s, &n);
  assert_int_equal(n, 17);
  for (size_t i = 1; i < n; i++)
    assert_true(cells[i - 1].row < cells[i].row ||
                (cells[i - 1].row == cells[i].row && cells[i - 1].col < cells[i].col));
  book_free(&b);
}

struct spans {
  uint32_t c1[8], c2[8];
  const char *text[8];
  int n;
};

static void on_span(void *ctx, uint32_t c1, uint32_t c2, const struct pw_xlsx_cell *cell) {
  struct spans *s = ctx;

  assert_true(s->n < 8);
  s->c1[s->n] = c1;
  s->c2[s->n] = c2;
  s->text[s->n] = cell != NULL ? cell->text : NULL;
  s->n++;
}

static void test_merges(void **state) {
  static const char data[] =
      "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\"/><c r=\"D1\"><v>4</v></c></row>"
      "<row r=\"2\"><c r=\"D2\"><v>8</v></c></row>";
  char xml[2048], err[256];
  struct book b;
  struct spans sp;
  size_t len, n;

  (void)state;
  snprintf(xml, sizeof(xml),
           "<worksheet " NS "><sheetData>%s</sheetData><mergeCells count=\"2\">"
           "<mergeCell ref=\"A1:C2\"/><mergeCell ref=\"E2:F3\"/></mergeCells></worksheet>",
           data);
  memset(&b, 0, sizeof(b));
  b.data = workbook(xml, NULL, 0, &len);
  assert_int_equal(pw_xlsx_open_memory(b.data, len, &b.wb, err, sizeof(err)), 0);
  assert_int_equal(pw_xlsx_sheet_load(b.wb, 0, &b.s, err, sizeof(err)), 0);
  expect(&b, "A1", PW_XLSX_TEXT, "指标");
  expect(&b, "C2", PW_XLSX_TEXT, "指标"); /* inside the range: its top-left cell */
  expect(&b, "B1", PW_XLSX_TEXT, "指标");
  expect(&b, "D2", PW_XLSX_NUMBER, "8");
  expect(&b, "F3", PW_XLSX_TEXT, NULL); /* an empty range */
  assert_int_equal(pw_xlsx_max_col(b.s), 6);
  pw_xlsx_cells(b.s, &n);
  assert_int_equal(n, 3);
  /* Row 2: its own cell D2, the range over A:C (read as A1), the empty range over E:F. */
  memset(&sp, 0, sizeof(sp));
  pw_xlsx_row_spans(b.s, 2, on_span, &sp);
  assert_int_equal(sp.n, 3);
  assert_int_equal(sp.c1[0], 4);
  assert_string_equal(sp.text[0], "8");
  assert_int_equal(sp.c1[1], 1);
  assert_int_equal(sp.c2[1], 3);
  assert_string_equal(sp.text[1], "指标");
  assert_int_equal(sp.c1[2], 5);
  assert_int_equal(sp.c2[2], 6);
  assert_null(sp.text[2]);
  /* The second sheet, by its name; the first is read once. */
  assert_int_equal(pw_xlsx_sheet_count(b.wb), 2);
  assert_int_equal(pw_xlsx_sheet_find(b.wb, "二 表"), 1);
  assert_int_equal(pw_xlsx_sheet_find(b.wb, "三"), -ENOENT);
  {
    const struct pw_xlsx_sheet *again;
    assert_int_equal(pw_xlsx_sheet_load(b.wb, 0, &again, err, sizeof(err)), 0);
    assert_ptr_equal(again, b.s);
    assert_int_equal(pw_xlsx_sheet_load(b.wb, 1, &again, err, sizeof(err)), 0);
    pw_xlsx_cells(again, &n);
    assert_int_equal(n, 0);
  }
  book_free(&b);
}

static void refused(const char *data, const char *said) {
  struct book b;
  char err[256] = "";

  assert_int_equal(load(&b, data, 0, err, sizeof(err)), -EINVAL);
  if (strstr(err, said) == NULL)
    fail_msg("'%s' does not say '%s'", err, said);
  book_free(&b);
}

static void test_refused_sheets(void **state) {
  char deep[4096];
  size_t k = 0;

  (void)state;
  refused("<row><c r=\"B7\" t=\"s\"><v>9</v></c></row>",
          "S!B7: shared string '9' does not exist (the workbook has 3)");
  refused("<row><c r=\"B7\"><v>1</v></c><c r=\"B7\"><v>2</v></c></row>",
          "S!B7: the cell is written twice");
  refused("<row><c r=\"A0\"><v>1</v></c></row>", "S!: bad cell reference 'A0'");
  refused("<row r=\"0\"/>", "S!: bad row number '0'");
  refused("<row><c r=\"A1\"><v>1</v></row>", "xl/worksheets/sheet1.xml: bad XML at line 1");
  for (int i = 0; i < 70; i++)
    k += (size_t)snprintf(deep + k, sizeof(deep) - k, "<x>");
  refused(deep, "elements nested deeper than 64");
}

static void test_refused_files(void **state) {
  static const unsigned char ole2[16] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
  const char *names[] = {"xl/workbook.xml"}, *bodies[] = {"<workbook/>"};
  const char *dnames[] = {"_rels/.rels", "xl/workbook.xml"};
  const char *dbodies[] = {rels, "<?xml version=\"1.0\"?><!DOCTYPE workbook [<!ENTITY a "
                                 "\"aaaa\">]><workbook>&a;</workbook>"};
  struct pw_xlsx *wb = NULL;
  char err[256];
  size_t len;
  void *z;

  (void)state;
  assert_int_equal(pw_xlsx_open_memory(ole2, sizeof(ole2), &wb, err, sizeof(err)), -ENOTSUP);
  assert_non_null(strstr(err, "an old binary Excel file"));
  assert_null(wb);
  assert_int_equal(pw_xlsx_open_memory("hello", 5, &wb, err, sizeof(err)), -EINVAL);
  assert_string_equal(err, "not an .xlsx file (not a zip archive)");
  assert_int_equal(pw_xlsx_open_memory("PK\003\004xx", 6, &wb, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "not a readable zip archive"));
  /* A zip without the package's relationships nor a sheet. */
  z = zip_parts(names, bodies, 1, &len);
  assert_int_equal(pw_xlsx_open_memory(z, len, &wb, err, sizeof(err)), -EINVAL);
  assert_string_equal(err, "the workbook has no sheets");
  free(z);
  z = zip_parts(dnames, dbodies, 1, &len);
  assert_int_equal(pw_xlsx_open_memory(z, len, &wb, err, sizeof(err)), -EINVAL);
  assert_string_equal(err, "not an Excel workbook (no xl/workbook.xml in the zip archive)");
  free(z);
  z = zip_parts(dnames, dbodies, 2, &len);
  assert_int_equal(pw_xlsx_open_memory(z, len, &wb, err, sizeof(err)), -EINVAL);
  assert_string_equal(err, "xl/workbook.xml: a document type declaration (DTD) is not allowed");
  free(z);
  assert_int_equal(pw_xlsx_open_file("/nonexistent/x.xlsx", 1 << 20, &wb, err, sizeof(err)),
                   -ENOENT);
}

/* An inline string cell. */
#define IS(ref, text)                                                                              \
  "<c r=\"" ref "\" t=\"inlineStr\"><is><t xml:space=\"preserve\">" text "</t></is></c>"

/* A title merged over A1:E1, the header in row 2 in the department's words (and an extra
 * column), rows of samples with blanks, a date cell, an empty row, a footer in another column,
 * an error in a value. */
/* clang-format off */
static const char rows_sheet[] =
    "<worksheet " NS "><sheetData>"
    "<row r=\"1\">" IS("A1", "县住建局报表") "</row>"
    "<row r=\"2\">" IS("A2", "序号") IS("B2", " 指标 ") IS("C2", "日期") IS("D2", "数值")
        IS("E2", "备注") "</row>"
    "<row r=\"3\"><c r=\"A3\"><v>1</v></c>" IS("B3", " rental ")
        "<c r=\"C3\" s=\"1\"><v>45382</v></c>" IS("D3", " 1.2万\t") IS("E3", " 含新开工 ")
        "</row>"
    "<row r=\"4\"><c r=\"A4\"><v>2</v></c>" IS("B4", "lifts") IS("C4", "2024-03-31") "</row>"
    "<row r=\"6\"><c r=\"A6\"><v>3</v></c>" IS("E6", "只有备注") "</row>"
    "<row r=\"7\">" IS("B7", "score") IS("C7", "2024/3/31")
        "<c r=\"D7\" t=\"e\"><v>#DIV/0!</v></c></row>"
    "<row r=\"9\">" IS("F9", "填表人：张三") "</row>"
    "</sheetData><mergeCells count=\"1\"><mergeCell ref=\"A1:E1\"/></mergeCells></worksheet>";

static const char twice_sheet[] =
    "<worksheet " NS "><sheetData><row r=\"1\">" IS("A1", "indicator") IS("B1", "as_of")
        IS("C1", "value") IS("D1", "数值") "</row></sheetData></worksheet>";
/* clang-format on */

static void rows_open(struct book *b, const char *sheet1, const char *sheet2) {
  char err[256];
  size_t len;

  memset(b, 0, sizeof(*b));
  b->data = workbook(sheet1, sheet2, 0, &len);
  assert_int_equal(pw_xlsx_open_memory(b->data, len, &b->wb, err, sizeof(err)), 0);
}

static void test_rows_by_header(void **state) {
  struct pw_xlsx_rows r;
  struct book b;
  char err[256], where[64];

  (void)state;
  rows_open(&b, rows_sheet, NULL);
  assert_int_equal(pw_xlsx_rows_read(b.wb, NULL, NULL, 0, SIZE_MAX, &r, err, sizeof(err)), 0);
  assert_string_equal(r.sheet, "S");
  assert_int_equal(r.header, 2);
  assert_int_equal(r.col[PW_XLSX_F_INDICATOR], 2);
  assert_int_equal(r.col[PW_XLSX_F_NOTE], 5);
  assert_int_equal(r.n, 3); /* rows 3, 4 and 7: row 6 has a note only, row 9 a footer */
  assert_int_equal(r.rows[0].row, 3);
  assert_string_equal(r.rows[0].field[PW_XLSX_F_INDICATOR], "rental");
  assert_string_equal(r.rows[0].field[PW_XLSX_F_AS_OF], "2024-03-31"); /* a date cell */
  assert_string_equal(r.rows[0].field[PW_XLSX_F_VALUE], "1.2万");
  assert_string_equal(r.rows[0].field[PW_XLSX_F_NOTE], " 含新开工 "); /* as written */
  assert_int_equal(r.rows[0].error, -1);
  assert_string_equal(r.rows[1].field[PW_XLSX_F_VALUE], ""); /* an empty cell */
  assert_string_equal(r.rows[1].field[PW_XLSX_F_NOTE], "");
  assert_int_equal(r.rows[2].row, 7);
  assert_int_equal(r.rows[2].error, PW_XLSX_F_VALUE);
  assert_string_equal(r.rows[2].field[PW_XLSX_F_VALUE], "#DIV/0!");
  pw_xlsx_rows_where(&r, 7, PW_XLSX_F_VALUE, where, sizeof(where));
  assert_string_equal(where, "S!D7");
  pw_xlsx_rows_where(&r, 7, -1, where, sizeof(where));
  assert_string_equal(where, "S row 7");
  pw_xlsx_rows_free(&r);
  /* At most two rows wanted: refused, not cut short. */
  assert_int_equal(pw_xlsx_rows_read(b.wb, NULL, NULL, 0, 2, &r, err, sizeof(err)), -EINVAL);
  assert_int_equal(r.why, PW_XLSX_ROWS_TOO_MANY);
  assert_string_equal(err, "S: more than 2 rows");
  pw_xlsx_rows_free(&r);
  /* A sheet that is not there names those that are. */
  assert_int_equal(pw_xlsx_rows_read(b.wb, "三月", NULL, 0, SIZE_MAX, &r, err, sizeof(err)),
                   -ENOENT);
  assert_int_equal(r.why, PW_XLSX_ROWS_NO_SHEET);
  assert_string_equal(err, "no sheet '三月'; the workbook has: 'S', '二 表'");
  pw_xlsx_rows_free(&r);
  /* The second sheet has no header. */
  assert_int_equal(pw_xlsx_rows_read(b.wb, "二 表", NULL, 0, SIZE_MAX, &r, err, sizeof(err)),
                   -EINVAL);
  assert_int_equal(r.why, PW_XLSX_ROWS_NO_HEADER);
  assert_non_null(
      strstr(err, "二 表: no header row naming the columns indicator, as_of and value"));
  pw_xlsx_rows_free(&r);
  book_free(&b);
}

static void test_rows_mapped(void **state) {
  struct pw_xlsx_rows r;
  struct book b;
  uint32_t col[PW_XLSX_NF];
  char err[256];

  (void)state;
  assert_int_equal(pw_xlsx_columns_parse("indicator=B,value=D", col), -EDOM);
  assert_int_equal(pw_xlsx_columns_parse("indicator=B,as_of=4,value=D", col), -EINVAL);
  assert_int_equal(pw_xlsx_columns_parse("indicator=B,as_of=C,value=D,indicator=E", col), -EINVAL);
  assert_int_equal(pw_xlsx_columns_parse("indicator=B,as_of=C,value=D,unit=E", col), -EINVAL);
  assert_int_equal(pw_xlsx_columns_parse("indicator=B,as_of=C,value=D", col), 0);
  assert_int_equal(col[PW_XLSX_F_VALUE], 4);
  assert_int_equal(col[PW_XLSX_F_NOTE], 0);
  rows_open(&b, rows_sheet, twice_sheet);
  /* From row 4 on, without a note column: the note is NULL. */
  assert_int_equal(pw_xlsx_rows_read(b.wb, "S", col, 4, SIZE_MAX, &r, err, sizeof(err)), 0);
  assert_int_equal(r.header, 0);
  assert_int_equal(r.n, 2);
  assert_string_equal(r.rows[0].field[PW_XLSX_F_INDICATOR], "lifts");
  assert_null(r.rows[0].field[PW_XLSX_F_NOTE]);
  pw_xlsx_rows_free(&r);
  /* value and 数值 both: the header names a field twice. */
  assert_int_equal(pw_xlsx_rows_read(b.wb, "二 表", NULL, 0, SIZE_MAX, &r, err, sizeof(err)),
                   -EINVAL);
  assert_int_equal(r.why, PW_XLSX_ROWS_HEADER_TWICE);
  assert_string_equal(err, "二 表!D1: the header names value twice (also C1)");
  pw_xlsx_rows_free(&r);
  book_free(&b);
}

/* A workbook may be held to less than it holds uncompressed (an upload's bound). */
static void test_open_bounded(void **state) {
  struct pw_xlsx *wb = NULL;
  char err[256];
  void *data;
  size_t len;

  (void)state;
  data = workbook(rows_sheet, NULL, 0, &len);
  assert_int_equal(pw_xlsx_open_memory_max(data, len, 1 << 20, &wb, err, sizeof(err)), 0);
  pw_xlsx_free(wb);
  assert_int_equal(pw_xlsx_open_memory_max(data, len, 600, &wb, err, sizeof(err)), -EINVAL);
  assert_null(wb);
  assert_non_null(strstr(err, "the workbook holds more than 600 bytes uncompressed"));
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refs),          cmocka_unit_test(test_dates_1900),
      cmocka_unit_test(test_dates_1904),    cmocka_unit_test(test_cell_types),
      cmocka_unit_test(test_merges),        cmocka_unit_test(test_refused_sheets),
      cmocka_unit_test(test_refused_files), cmocka_unit_test(test_rows_by_header),
      cmocka_unit_test(test_rows_mapped),   cmocka_unit_test(test_open_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
